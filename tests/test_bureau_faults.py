"""Faults a bureau survives, with real processes: the database restarts under 4 stations; an object store goes away.

- PostgreSQL restarted (``pg_ctl stop -m fast``, then started again) during a burst of ingests at four
  station processes: every file ends up ingested exactly once (one recording, one INGEST entry, one
  released receipt), the log stays dense, and ``verify --deep`` passes. The test starts a PostgreSQL
  server of its own (``scripts/pg-up.sh`` on another port and data dir, purged at the end): the shared
  test server is never restarted. Runs in the PostgreSQL pass of ``make test``.
- A station's S3 endpoint unreachable for 60 s (a forwarding port that breaks every connection and
  refuses new ones): the station stays up, says it is degraded, takes nothing it cannot store, and
  resumes by itself when the endpoint answers again; every file once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import create_engine, func, select

from chain.entries import EntryType
from evidock import settings as settings_mod
from evidock.app import checkpointer_for, open_app
from evidock.keys import init_key
from evidock.verify import verify
from storage.schema import log_entries, log_head, receipts, recordings
from tests import media
from tests.conftest import ON_POSTGRESQL, REPO, catalog_url, free_port, raw_config, station_env, write_config
from tests.service import Service, wait_until
from tests.test_health import Forwarder

pytestmark = [pytest.mark.s3, pytest.mark.slow]

STATIONS = 4
CLIPS_EACH = 6
OUTAGE_SECONDS = 60.0


def _states(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [str(s) for s in conn.execute(select(receipts.c.state).order_by(receipts.c.id)).scalars()]
    finally:
        engine.dispose()


def _once_each(url: str, expected: int) -> None:
    """``expected`` recordings, each with exactly one INGEST entry and one receipt; a dense log."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ids = list(conn.execute(select(recordings.c.id)).scalars())
            ingests = list(
                conn.execute(select(log_entries.c.recording).where(log_entries.c.type == EntryType.INGEST.value))
                .scalars()
                .all()
            )
            states = list(conn.execute(select(receipts.c.state)).scalars())
            size = int(conn.execute(select(log_head.c.size)).scalar_one())
            indexes = list(conn.execute(select(log_entries.c.idx).order_by(log_entries.c.idx)).scalars())
            entries = conn.execute(select(func.count()).select_from(log_entries)).scalar_one()
    finally:
        engine.dispose()
    assert len(ids) == len(set(ids)) == expected
    assert sorted(ingests) == sorted(ids), "one INGEST entry per recording, none twice"
    assert states == ["released"] * expected
    assert indexes == list(range(size)), "the log is dense"
    assert entries == size


# -- PostgreSQL restarted under four stations -------------------------------------------------


@pytest.fixture
def own_postgresql() -> Iterator[tuple[str, dict[str, str]]]:
    """A PostgreSQL server of this test's own (URL, its scripts' environment); stopped and deleted after."""
    pg_env = {
        **os.environ,
        "EVIDOCK_PG_PORT": str(free_port()),
        # Reachable by the postgres OS user wherever the repository is (a clone under /root is not).
        "EVIDOCK_PG_DIR": f"/var/tmp/evidock-pg-fault-{uuid.uuid4().hex[:12]}",
    }
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "pg-up.sh")],
        env=pg_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        url = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)["DATABASE_URL"]
        yield url, pg_env
    finally:
        subprocess.run(["bash", str(REPO / "scripts" / "pg-down.sh"), "--purge"], env=pg_env, timeout=300, check=False)


@pytest.mark.skipif(not ON_POSTGRESQL, reason="a PostgreSQL fault: runs in the PostgreSQL pass")
@pytest.mark.timeout(600)
def test_postgresql_restarted_during_a_burst_at_4_stations_loses_and_duplicates_nothing(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], own_postgresql: tuple[str, dict[str, str]]
) -> None:
    url, pg_env = own_postgresql
    env = station_env(s3_env)
    endpoint = s3_env["S3_ENDPOINT"]

    def config(name: str, role: str) -> Path:
        home = tmp_path / name
        (home / "inbox").mkdir(parents=True)
        raw = raw_config(
            home,
            bucket,
            endpoint,
            station={"id": name, "role": role},
            database={"url": url},
            log={"key_file": str(tmp_path / "central" / "log.key") if role == "central" else str(home / "none.key")},
            watch={"stable_seconds": 0.2, "rescan_seconds": 1, "retry_seconds": 1},
            checks={"deep_scan": False},
        )
        return write_config(home / "config.toml", raw)

    central = settings_mod.load(config("central", "central"), env)
    vkey, _ = init_key(central)
    with open_app(central) as evi:  # the bucket and the catalog (and the key of the log)
        evi.log_key(vkey)
    names = [f"dock-{n}" for n in range(STATIONS)]
    configs = {name: config(name, "station") for name in names}

    # The clips are made first, then moved into the inboxes at once: a burst.
    staged: dict[str, list[Path]] = {}
    for s, name in enumerate(names):
        (tmp_path / "staged" / name).mkdir(parents=True)
        staged[name] = [
            media.clip(
                tmp_path / "staged" / name / f"CAM{s}_P{s}00{c}_202611200{c}0000_{c + 1:04d}.mp4",
                seconds=1,
                mark=f"{name}-{c}",
            )
            for c in range(CLIPS_EACH)
        ]
    services = [Service(configs[name], env, free_port(), log_file=tmp_path / f"{name}.log") for name in names]
    try:
        for service in services:
            service.wait_http()
        for name in names:
            for path in staged[name]:
                shutil.move(path, tmp_path / name / "inbox" / path.name)
        wait_until(lambda: len(_states(url)) >= STATIONS, "the burst under way", timeout=120)

        subprocess.run(["bash", str(REPO / "scripts" / "pg-down.sh")], env=pg_env, check=True, timeout=120)
        down_at = time.monotonic()
        time.sleep(5)  # the stations find the catalog gone
        subprocess.run(
            ["bash", str(REPO / "scripts" / "pg-up.sh")], env=pg_env, check=True, timeout=300, capture_output=True
        )
        total = STATIONS * CLIPS_EACH
        wait_until(
            lambda: _states(url).count("released") == total, "every file ingested after the restart", timeout=300
        )
        resumed = time.monotonic() - down_at
        assert all(service.alive() for service in services), "a station died with its database"
        assert any("retrying" in service.log_text() for service in services), "no station noticed the restart"
    finally:
        for service in services:
            service.stop()

    _once_each(url, STATIONS * CLIPS_EACH)
    with open_app(central) as evi:
        checkpointer_for(evi).make(evi.now())
        report = verify(evi, vkey, deep=True)
    assert report.ok, report.failures
    print(f"PostgreSQL restart under {STATIONS} stations: all {total} files once, {resumed:.0f} s after the stop")


# -- a station's object store gone for a minute -------------------------------------------------


@pytest.fixture
def forwarder(s3_env: dict[str, str]) -> Iterator[Forwarder]:
    host, port = s3_env["S3_ENDPOINT"].split("://", 1)[1].rsplit(":", 1)
    forward = Forwarder(free_port(), (host, int(port)))
    yield forward
    forward.close()


@pytest.mark.skipif(
    ON_POSTGRESQL, reason="the object store's outage is the same on either catalog: run once, on SQLite"
)
@pytest.mark.timeout(300)
def test_a_station_whose_object_store_is_unreachable_for_60_s_resumes_by_itself(
    tmp_path: Path, s3_env: dict[str, str], bucket: str, forwarder: Forwarder
) -> None:
    url = catalog_url(tmp_path)
    (tmp_path / "inbox").mkdir()
    raw = raw_config(
        tmp_path,
        bucket,
        f"http://127.0.0.1:{forwarder.port}",
        watch={"stable_seconds": 0.2, "rescan_seconds": 1, "retry_seconds": 5},
        checks={"deep_scan": False},
    )
    config = write_config(tmp_path / "config.toml", raw)
    inbox = tmp_path / "inbox"
    forwarder.open()
    service = Service(config, station_env(s3_env), free_port(), log_file=tmp_path / "run.log")
    try:
        service.wait_http()
        media.clip(inbox / "CAM05_P5001_20261120080000_0001.mp4", seconds=1, mark="before")
        wait_until(lambda: _states(url) == ["released"], "the first clip ingested", service=service)

        forwarder.cut()
        cut_at = time.monotonic()
        for n in (2, 3):
            media.clip(inbox / f"CAM05_P5001_2026112008{n:02d}00_{n:04d}.mp4", seconds=1, mark=f"during{n}")
        while time.monotonic() - cut_at < OUTAGE_SECONDS:
            time.sleep(5)
            assert service.alive(), service.log_text()[-3000:]
            assert _states(url).count("released") == 1, "nothing is released while it cannot be stored"
        assert httpx2.get(f"{service.url}/health", timeout=30).status_code == 503
        assert "retrying" in service.log_text()

        forwarder.open()
        wait_until(lambda: _states(url) == ["released"] * 3, "every file ingested after the outage", service=service)
        resumed = time.monotonic() - cut_at - OUTAGE_SECONDS
        assert httpx2.get(f"{service.url}/health", timeout=30).json() == {"status": "ok"}
    finally:
        assert service.stop() == 0, service.log_text()[-3000:]
    _once_each(url, 3)
    print(f"S3 outage of {OUTAGE_SECONDS:.0f} s: resumed {resumed:.1f} s after the endpoint came back")
