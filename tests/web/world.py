"""A small station for the page tests: real S3, real ffmpeg recordings with a gap, people with passwords."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from access.people import Person, Role, add_user, hash_password
from evidock import settings as settings_mod
from evidock.app import App, checkpointer_for, open_app
from evidock.keys import init_key
from evidock.settings import Settings
from ingest.checking import add_clock_report
from ingest.clock import ClockReport
from tests import media
from tests.conftest import dock, raw_config, station_env, write_config

PASSWORD = "correct horse battery"  # noqa: S105 - a test user's password
PEOPLE = {
    "wang.wu": Role.CUSTODIAN,  # 王五: labels, asks for copies
    "zhao.liu": Role.CUSTODIAN,  # 赵六: approves other people's requests
    "li.si": Role.AUDITOR,
    "zhang.san": Role.OFFICER,
    "root": Role.ADMIN,
}
DEVICE = "CAM31"
CLIP_SECONDS = 40
STARTS = ("090000", "090050", "090200")  # 40 s each: a 10 s gap, then a 30 s gap
DAY = "2026-11-20"


@dataclass
class World:
    settings: Settings
    tmp: Path
    recordings: list[str]  # CAM31 on 2026-11-20 at STARTS; the second has a gap before and after it

    def person(self, name: str) -> Person:
        return Person(name, PEOPLE[name])


def build(tmp: Path, s3_env: dict[str, str]) -> World:
    (tmp / "inbox").mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    settings = settings_mod.load(config, station_env(s3_env))
    vkey, _ = init_key(settings)
    ids = []
    with open_app(settings) as evi:
        evi.log_key(vkey)
        for n, start in enumerate(STARTS):
            clip = media.clip(
                tmp / "inbox" / f"{DEVICE}_P3101_20261120{start}_{n + 1:04d}.mp4",
                seconds=CLIP_SECONDS,
                size="320x240",
                mark=f"web{n}{uuid.uuid4().hex}",
            )
            ids.append(dock(evi, clip))
        # The dock read the camera's clock after the last recording: 1.5 s fast (within the 3 s tolerance).
        docked = datetime(2026, 11, 20, 9, 2, 50, tzinfo=settings.timezone).astimezone(UTC)
        with evi.catalog.begin() as conn:
            add_clock_report(
                conn,
                evi.journal,
                ClockReport(device=DEVICE, device_time=docked + timedelta(milliseconds=1500), station_time=docked),
                station=settings.station_id,
                source="cli",
                by="li.si",
                now=evi.now(),
                options=settings.checks,
            )
        hashed = hash_password(PASSWORD)
        with evi.catalog.begin() as conn:
            admin = Person("(test)", Role.ADMIN)
            for name, role in PEOPLE.items():
                add_user(
                    conn,
                    journal=evi.journal,
                    actor=admin,
                    name=name,
                    role=role,
                    password_hash=hashed,
                    time=datetime.now(UTC),
                    officer_id="P3101" if name == "zhang.san" else None,
                )
        checkpointer_for(evi).make(evi.now())
    return World(settings, tmp, ids)


@contextmanager
def opened(world: World) -> Iterator[App]:
    with open_app(world.settings, ensure_bucket=False) as evi:
        yield evi
