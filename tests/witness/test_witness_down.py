"""Witnesses down for the whole test: a real `evidock run` ingests and signs as before, and raises the alert.

Two witnesses are configured (quorum 1), neither of which ever answers: one is
a real witness's key with nothing listening at its address (its process is
never started), the other accepts connections and never replies (a hung
machine: each request waits for ``log.outside_timeout_seconds``). The service
must take every docked file and sign checkpoints over them as usual; once the
first unwitnessed checkpoint has waited past ``log.max_uncosigned_seconds`` the
alarm goes to the webhook (once), ``/metrics`` and the dashboard show it, and
`evidock verify` fails on it and on nothing else.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import select

from access import people
from access.people import Person, Role
from evidock import settings as settings_mod
from evidock.app import App, checkpoint_reader, open_app
from evidock.keys import init_key
from evidock.verify import verify
from storage import journal
from storage.schema import receipts
from tests import media
from tests.conftest import free_port, raw_config, station_env, write_config
from tests.service import Service, wait_until
from tests.test_retention_alerts import webhook
from tests.web.helpers import logged_in
from tests.web.world import PASSWORD
from witness import config as witness_config

pytestmark = [pytest.mark.s3, pytest.mark.slow]

__all__ = ["webhook"]  # the fixture, used by name below

LIMIT_SECONDS = 4  # log.max_uncosigned_seconds
TIMEOUT_SECONDS = 3  # log.outside_timeout_seconds: how long each request to the hung witness waits


@pytest.fixture
def hung_witness() -> Iterator[str]:
    """A TCP port that accepts connections (the kernel's backlog) and never answers a byte."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def _states(evi: App) -> list[str]:
    with evi.catalog.read() as conn:
        return [str(state) for (state,) in conn.execute(select(receipts.c.state))]


def _metric(url: str, line_start: str) -> float:
    text = httpx2.get(f"{url}/metrics", timeout=30).text
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric line {line_start!r} in:\n{text}")


def test_witnesses_down_leave_ingest_and_signing_untouched_and_raise_the_alert(
    tmp_path: Path, s3_env: dict[str, str], bucket: str, hung_witness: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    hook, received = webhook
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    plain = write_config(tmp_path / "plain.toml", raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"]))
    vkey, _ = init_key(settings_mod.load(plain, station_env(s3_env)))
    origin = vkey.split("+")[0]
    down = witness_config.init(tmp_path / "w-down", "witness.fazhi.example/w1", logs=[(origin, vkey)])
    hung = witness_config.init(tmp_path / "w-hung", "witness.jiancha.example/w2", logs=[(origin, vkey)])
    raw = raw_config(
        tmp_path,
        bucket,
        s3_env["S3_ENDPOINT"],
        watch={"stable_seconds": 0.2},
        checks={"deep_scan": False},
        alerts={"webhook_url": hook, "webhook_timeout_seconds": 5},
        log={
            "checkpoint_every_entries": 1,
            "checkpoint_every_seconds": 1,
            "outside_timeout_seconds": TIMEOUT_SECONDS,
            "max_uncosigned_seconds": LIMIT_SECONDS,
            "witness_quorum": 1,
            "witnesses": [
                {"name": "区司法局 法制科", "url": f"http://127.0.0.1:{free_port()}", "vkey": down.vkey},
                {"name": "区监察委 监察室", "url": hung_witness, "vkey": hung.vkey},
            ],
        },
    )
    config = write_config(tmp_path / "config.toml", raw)
    settings = settings_mod.load(config, station_env(s3_env))
    with open_app(settings) as evi:
        evi.log_key(vkey)
        with evi.catalog.begin() as conn:
            people.add_user(
                conn,
                journal=evi.journal,
                actor=Person("(test)", Role.ADMIN),
                name="li.si",
                role=Role.CUSTODIAN,
                password_hash=people.hash_password(PASSWORD),
                time=datetime.now(UTC),
            )
    service = Service(config, station_env(s3_env), free_port(), log_file=tmp_path / "run.log")
    try:
        service.wait_http()
        dropped = []
        for n in range(3):  # made aside, then moved in whole, as a dock's copy lands
            made = media.clip(tmp_path / f"CAM51_P5101_2026112011{n:02d}00_{n + 1:04d}.mp4", mark=f"down{n}")
            os.replace(made, inbox / made.name)
            dropped.append(time.monotonic())
            time.sleep(1)
        with open_app(settings, ensure_bucket=False) as evi:
            wait_until(
                lambda: _states(evi).count("released") == 3, "every docked file stored and released", service=service
            )
            taken = time.monotonic() - dropped[-1]

            def covered() -> bool:
                latest = checkpoint_reader(evi).latest_stored()
                with evi.catalog.read() as conn:
                    return latest is not None and latest.checkpoint.size >= journal.size(conn) - 1

            wait_until(covered, "a signed checkpoint over the ingested files", service=service)
            # Ingest did not wait for the witnesses: the last file was in within a few seconds, while every
            # request to the hung witness takes TIMEOUT_SECONDS and the service keeps asking.
            assert taken < 15, f"the last file took {taken:.1f} s"

            wait_until(
                lambda: any(r["body"].get("alert") == "checkpoint_uncosigned" for r in received),
                "the outside trust alarm at the webhook",
                timeout=60,
                service=service,
            )
            (alarm,) = [r["body"] for r in received if r["body"].get("alert") == "checkpoint_uncosigned"]
            assert alarm["station"] == "dock-test"
            assert alarm["newest_done"] is None
            assert alarm["waiting_seconds"] > LIMIT_SECONDS
            assert "for a quorum of witness cosignatures" in alarm["summary"]

            assert _metric(service.url, "evidock_checkpoint_uncosigned_seconds") > LIMIT_SECONDS
            assert _metric(service.url, 'evidock_outside_trust_overdue{kind="cosignature"}') == 1

            page = logged_in(evi, "li.si").get("/").text
            assert "见证人联署" in page
            assert "请检查见证人/时间戳服务" in page  # the overdue badge

            time.sleep(2 * TIMEOUT_SECONDS)  # more rounds: the alarm is raised once per outage
            assert [r["body"]["alert"] for r in received].count("checkpoint_uncosigned") == 1
            log_text = service.log_text()
            assert "OUTSIDE TRUST ALARM" in log_text
            assert "did not answer, retried later" in log_text

            report = verify(evi, vkey)
            assert {f.check for f in report.failures} == {"checkpoint_unwitnessed"}, report.failures
    finally:
        assert service.stop() == 0, service.log_text()[-3000:]
