"""One log, one signer, jobs that run once: central nodes lead through PostgreSQL, stations hold no key.

The election tests need PostgreSQL (``EVIDOCK_TEST_DATABASE=postgresql``; skipped on SQLite, where the
single node always leads). The role settings are checked on both.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from evidock import settings as settings_mod
from evidock.app import open_app
from evidock.keys import init_key
from evidock.leader import AdvisoryLock, SoleNode, leadership_for
from evidock.runner import settings_line
from evidock.settings import SIGNING_KEY_ENV, ConfigError, NodeRole, Settings
from evidock.verify import verify
from storage.schema import alert_runs, checkpoints, log_head, receipts
from tests import media
from tests.conftest import ON_POSTGRESQL, catalog_url, free_port, raw_config, station_env, write_config
from tests.service import Service, wait_until

needs_postgresql = pytest.mark.skipif(not ON_POSTGRESQL, reason="leader election is for a shared PostgreSQL catalog")
TAKEOVER_LIMIT = 30.0  # seconds from the leader's death to a signed checkpoint by the standby (issue 15)


def _load(tmp_path: Path, env: dict[str, str] | None = None, **sections: dict[str, Any]) -> Settings:
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = write_config(
        tmp_path / "config.toml", raw_config(tmp_path, "t-bucket", "http://127.0.0.1:7480", **sections)
    )
    return settings_mod.load(config, env or {})


# -- the role setting ---------------------------------------------------------------------


def test_a_node_is_central_unless_told_and_a_bad_role_is_named(tmp_path: Path) -> None:
    assert _load(tmp_path).role is NodeRole.CENTRAL
    with pytest.raises(ConfigError) as bad:
        _load(tmp_path, station={"id": "dock-a", "role": "signer"})
    assert "station.role = 'signer'" in str(bad.value)
    assert 'use "station"' in str(bad.value)


def test_a_station_needs_a_shared_catalog_and_no_signing_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as alone:
        _load(tmp_path, station={"id": "dock-a", "role": "station"}, database={"url": "sqlite:///var/evidock.db"})
    assert "nothing would sign this log" in str(alone.value)

    shared = {"url": "postgresql+psycopg://evidock:secret@127.0.0.1:55432/evidock"}
    station = {"id": "dock-a", "role": "station"}
    assert _load(tmp_path, station=station, database=shared).role is NodeRole.STATION
    with pytest.raises(ConfigError) as from_env:
        _load(tmp_path, {SIGNING_KEY_ENV: "PRIVATE+KEY+x"}, station=station, database=shared)
    assert f"{SIGNING_KEY_ENV} is set" in str(from_env.value)
    key_file = tmp_path / "var" / "log-signing.key"
    key_file.parent.mkdir(parents=True)
    key_file.write_text("PRIVATE+KEY+x\n", encoding="ascii")
    with pytest.raises(ConfigError) as on_disk:
        _load(tmp_path, station=station, database=shared)
    assert "move it to the central node" in str(on_disk.value)


def test_the_service_says_at_start_what_it_works_with_and_masks_the_password(tmp_path: Path) -> None:
    shared = {"url": "postgresql+psycopg://evidock:s3cret-pw@db.example:5432/evidock"}
    central = _load(tmp_path / "c", station={"id": "central-a"}, database=shared)
    vkey, _ = init_key(central)
    line = settings_line(central)
    name, key_id, _ = vkey.split("+", 2)
    assert line.startswith("central-a: role central, S3 endpoint http://127.0.0.1:7480 (from s3.endpoint)")
    assert "bucket t-bucket" in line
    assert "catalog postgresql+psycopg://evidock:***@db.example:5432/evidock" in line
    assert "s3cret" not in line
    assert f"signing key {name}+{key_id} (from {central.log.key_file})" in line
    assert "PRIVATE" not in line
    station = _load(tmp_path / "s", station={"id": "dock-a", "role": "station"}, database=shared)
    assert settings_line(station).endswith("no signing key (a central node signs)")


def test_the_node_of_a_sqlite_catalog_always_leads(tmp_path: Path) -> None:
    sole = leadership_for(f"sqlite:///{tmp_path / 'evidock.db'}", "dock-01")
    assert isinstance(sole, SoleNode)
    assert sole.lead()
    assert sole.leader() == "dock-01"


# -- the election, in one process ------------------------------------------------------------


@needs_postgresql
def test_one_of_two_central_nodes_leads_and_the_other_takes_over(tmp_path: Path) -> None:
    url = catalog_url(tmp_path)
    a, b = AdvisoryLock(url, "central-a"), AdvisoryLock(url, "central-b")
    try:
        assert a.lead()
        assert not b.lead()
        assert b.leader() == "central-a"
        assert a.lead(), "the leader stays the leader"
        a.release()
        assert b.lead()
        assert not a.lead()
        assert a.leader() == "central-b"
    finally:
        a.release()
        b.release()


@needs_postgresql
def test_a_leader_whose_session_is_ended_stops_leading(tmp_path: Path) -> None:
    """The server ended the leader's session (what a lost network ends in): the leader knows at its next try."""
    url = catalog_url(tmp_path)
    a, b = AdvisoryLock(url, "central-a"), AdvisoryLock(url, "central-b")
    engine = create_engine(url)
    try:
        assert a.lead()
        with engine.connect() as conn:
            ended = conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": "evidock-central:central-a"},
            ).scalars()
            assert list(ended) == [True]
        assert b.lead(), "the lock went with the session"
        assert not a.lead()
    finally:
        a.release()
        b.release()
        engine.dispose()


# -- the bureau, with real processes ------------------------------------------------------------


def _count(url: str, table: Any) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def _anchored(url: str) -> tuple[int, int, datetime | None]:
    """(log size, the largest signed checkpoint's size, when that checkpoint was made)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            size = int(conn.execute(select(log_head.c.size)).scalar_one())
            row = conn.execute(
                select(checkpoints.c.size, checkpoints.c.created_at).order_by(checkpoints.c.size.desc()).limit(1)
            ).first()
    finally:
        engine.dispose()
    return size, (int(row.size) if row else 0), (row.created_at if row else None)


def _alert_times(url: str) -> list[datetime]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(alert_runs.c.ran_at).order_by(alert_runs.c.id)).scalars())
    finally:
        engine.dispose()


def _released(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(receipts).where(receipts.c.state == "released")
                ).scalar_one()
            )
    finally:
        engine.dispose()


@needs_postgresql
@pytest.mark.s3
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_the_standby_takes_over_within_30_s_of_a_kill_and_jobs_run_once(
    tmp_path: Path, bucket: str, s3_env: dict[str, str]
) -> None:
    """Two central nodes and a station, real processes: one leads; kill -9 it; the other signs and runs the jobs.

    The art. 26 alert check runs every minute: its runs (``alert_runs`` rows) are one per minute across
    the takeover, never two for one minute. With every central node stopped, the station still ingests
    and ``verify`` reports the waiting entries with their age.
    """
    url = catalog_url(tmp_path)
    key_file = tmp_path / "central-key" / "log.key"
    endpoint = s3_env["S3_ENDPOINT"]
    env = station_env(s3_env)

    def node(name: str, role: str) -> Path:
        home = tmp_path / name
        (home / "inbox").mkdir(parents=True)
        raw = raw_config(
            home,
            bucket,
            endpoint,
            station={"id": name, "role": role},
            database={"url": url},
            log={
                "key_file": str(key_file if role == "central" else home / "no-key" / "log.key"),
                "checkpoint_every_seconds": 2,  # the checkpoint job looks every 5 s (evidock.runner)
            },
            alerts={"check_every_minutes": 1},
            watch={"stable_seconds": 0.2, "rescan_seconds": 1},
            checks={"deep_scan": False},
        )
        return write_config(home / "config.toml", raw)

    configs = {
        name: node(name, role)
        for name, role in (("central-a", "central"), ("central-b", "central"), ("dock-s", "station"))
    }
    central = settings_mod.load(configs["central-b"], env)
    vkey, _ = init_key(central)
    with open_app(central) as evi:  # the bucket, and the key the central nodes share (KEY entry)
        evi.log_key(vkey)

    services: dict[str, Service] = {}

    def start(name: str) -> Service:
        services[name] = Service(configs[name], env, free_port(), log_file=tmp_path / f"{name}.log")
        services[name].wait_http()
        return services[name]

    def clip(n: int) -> None:
        media.clip(
            tmp_path / "dock-s" / "inbox" / f"CAM07_P7001_2026112009{n:02d}00_{n:04d}.mp4", seconds=1, mark=f"s{n}"
        )

    try:
        a = start("central-a")
        wait_until(lambda: "central-a leads" in a.log_text(), "central-a leading", service=a)
        a_started = datetime.now(UTC)
        b = start("central-b")
        wait_until(lambda: "central-b stands by: central-a leads" in b.log_text(), "central-b standing by", service=b)
        s = start("dock-s")
        for n in range(2):
            clip(n)
        wait_until(lambda: _released(url) == 2, "the station ingesting two clips", service=s)
        wait_until(lambda: _anchored(url)[1] == _anchored(url)[0], "central-a signing the station's entries", service=a)
        wait_until(lambda: len(_alert_times(url)) == 1, "central-a's first alert check", timeout=120, service=a)

        a.process.send_signal(signal.SIGKILL)
        a.process.wait(timeout=30)
        killed = time.monotonic()
        killed_at = datetime.now(UTC)
        clip(2)
        wait_until(
            lambda: "central-b leads" in b.log_text(), "central-b taking over", timeout=TAKEOVER_LIMIT, service=b
        )
        wait_until(lambda: _released(url) == 3, "the station ingesting on", service=s)

        def signed_after_kill() -> bool:
            size, signed, at = _anchored(url)
            return signed == size and at is not None and at > killed_at

        wait_until(
            signed_after_kill,
            "central-b signing the new entries",
            timeout=TAKEOVER_LIMIT - (time.monotonic() - killed),
            service=b,
        )
        took = time.monotonic() - killed
        assert took < TAKEOVER_LIMIT

        # The alert check: central-a ran it once; central-b runs the next one at its time, once.
        wait_until(lambda: len(_alert_times(url)) == 2, "central-b's alert check", timeout=120, service=b)
        time.sleep(5)
        runs = _alert_times(url)
        assert len(runs) == 2, runs
        gap = (runs[1] - runs[0]).total_seconds()
        assert 55 <= gap <= 90, f"the checks ran {gap:.0f} s apart: one per minute across the takeover"
        assert runs[0] - a_started < (runs[1] - runs[0]) * 2
        assert "dock-s is a station" in s.log_text()
        assert "dock-s leads" not in s.log_text(), "a station never leads"

        # Every central node stopped: the station docks on; the entries wait, and verify says for how long.
        assert b.stop() == 0, b.log_text()[-3000:]
        size_at_stop, signed_at_stop, _ = _anchored(url)
        assert signed_at_stop == size_at_stop, "the leader signs before it stops"
        clip(3)
        wait_until(lambda: _released(url) == 4, "the station ingesting with no central node", service=s)
        assert s.stop() == 0, s.log_text()[-3000:]
    finally:
        for service in services.values():
            if service.alive():
                os.kill(service.process.pid, signal.SIGKILL)
            service.stop()  # closes its log file

    with open_app(central, ensure_bucket=False) as evi:
        report = verify(evi, vkey)
    assert report.ok, report.failures
    waiting = [n for n in report.notes if n.check == "log_unanchored"]
    assert len(waiting) == 1, report.notes
    assert "s old" in waiting[0].message
    assert report.checked["unanchored_entries"] >= 1
    assert _anchored(url)[1] < _anchored(url)[0]
    assert _count(url, alert_runs) == 2
    print(f"takeover: checkpoint signed by central-b {took:.1f} s after kill -9 of central-a")
