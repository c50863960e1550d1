"""kill -9 at any moment, then restart: exactly one object, one INGEST entry, one recording per file.

The service runs as a real subprocess (`evidock run`) against the real S3
server and its catalog (SQLite, or PostgreSQL with EVIDOCK_TEST_DATABASE=postgresql); it is
killed with SIGKILL at spread-out moments during the upload of a large file, then started again.
"""

from __future__ import annotations

import functools
import hashlib
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, inspect, select

from evidock import settings as settings_mod
from evidock.app import connect_store
from storage import s3_raw
from storage.objects import ObjectStore, content_key
from storage.schema import log_entries, receipts, recordings
from tests.conftest import free_port, raw_config, station_env, write_config

pytestmark = [pytest.mark.s3, pytest.mark.slow]

SIZE = 48 * 1024 * 1024  # bytes: several multipart parts, under a second to store
# When to kill: right after start (before any receipt), or as soon as the file's
# receipt is seen in a state (plus a delay: 0.15 s into "hashed" is mid-upload).
KILL_AT: tuple[tuple[str | None, float], ...] = (
    (None, 0.3),
    ("received", 0.0),
    ("hashed", 0.0),
    ("hashed", 0.15),
    ("stored", 0.0),
    ("verified", 0.0),
    ("locked", 0.0),
    ("logged", 0.0),
)
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
ORDER = ("none", "received", "hashed", "stored", "verified", "locked", "logged", "released")


def _evidock(config: Path, *args: str, env: dict[str, str], quiet: bool = False) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "evidock.cli", "--config", str(config), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if quiet else subprocess.PIPE,
    )


def _big_file(path: Path, seed: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(8 * 1024 * 1024)
    with path.open("wb") as f:
        for i in range(SIZE // len(block)):
            chunk = seed.to_bytes(8, "big") + i.to_bytes(8, "big") + block[16:]
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def test_kill_9_during_ingest_then_restart(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    raw = raw_config(
        tmp_path,
        bucket,
        s3_env["S3_ENDPOINT"],
        watch={"after_verify": "delete", "stable_seconds": 0.1},
        s3={"part_size_mib": 8},
    )
    config = write_config(tmp_path / "config.toml", raw)
    db = raw["database"]["url"]
    env = station_env(s3_env)
    digests = []
    interrupted: list[str] = []
    for n, (state, delay) in enumerate(KILL_AT):
        target = inbox / f"CAM09_P9009_2026112008{n:02d}00_{n + 1:04d}.mp4"
        partial = inbox / f"{target.name}.part"  # ignored while written, renamed when complete
        digests.append(_big_file(partial, seed=n))
        partial.rename(target)

        victim = _evidock(config, "run", "--http-port", str(free_port()), env=env, quiet=True)
        if state is not None:
            _wait_for_state(db, target, state)
        time.sleep(delay)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        interrupted.append(_state(db, target))

        # The dock copy is never gone unless its stored copy was verified and logged.
        if not target.exists():
            _assert_recorded(db, digests[-1])

        restart = _evidock(config, "run", "--once", env=env)
        _, err = restart.communicate(timeout=300)
        assert restart.returncode == 0, err.decode()
        assert not target.exists(), f"after restart {target.name} should be stored and released"

    # The kills really landed mid-ingest, at several states, or the test proves nothing.
    print("receipt states at the kills:", interrupted)
    unfinished = set(interrupted) - {"none", "released"}
    assert len(unfinished) >= 3, f"kills landed only at {interrupted}"
    settings = settings_mod.load(config, env)
    store = connect_store(settings)
    engine = create_engine(db)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(recordings)).scalar_one() == len(KILL_AT)
        ingests = select(func.count()).select_from(log_entries).where(log_entries.c.type == "INGEST")
        assert conn.execute(ingests).scalar_one() == len(KILL_AT)
        states = conn.execute(select(receipts.c.state, func.count()).group_by(receipts.c.state)).all()
        assert states == [("released", len(KILL_AT))]
        for digest in digests:
            assert conn.execute(select(recordings.c.id).where(recordings.c.id == digest)).scalar_one() == digest
            versions = store.versions(content_key(digest))
            assert len(versions) == 1, f"{digest}: {versions}"
            assert store.fixity_sha256(versions[0]) == (digest, SIZE)
    engine.dispose()
    assert store.listing("staging/") == [], "uploads go straight to the content key"
    assert _unfinished_uploads(store, "sha256/") == [], "an upload cut off by a kill was not aborted"


def _unfinished_uploads(store: ObjectStore, prefix: str) -> list[str]:
    """Keys with a multipart upload begun and neither completed nor aborted."""
    listing = ET.fromstring(s3_raw.list_uploads(store._client, store.bucket, prefix))  # noqa: S314 - our server
    return [u.findtext(f"{S3_NS}Key") or "" for u in listing.iter(f"{S3_NS}Upload")]


BATCH = 6  # files dropped at once, ingested three at a time
BATCH_SIZE = 24 * 1024 * 1024  # bytes each: three parts


def test_kill_9_with_several_files_in_flight_then_restart(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> None:
    """A dock of files landing together, ``parallel_files = 3``: killed whenever one of them enters a state."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    raw = raw_config(
        tmp_path,
        bucket,
        s3_env["S3_ENDPOINT"],
        watch={"after_verify": "delete", "stable_seconds": 0.1, "parallel_files": 3},
        s3={"part_size_mib": 8},
    )
    config = write_config(tmp_path / "config.toml", raw)
    db = raw["database"]["url"]
    env = station_env(s3_env)
    digests = []
    for n in range(BATCH):
        partial = inbox / f"CAM2{n}_P9009_20261120090000_0001.mp4.part"
        data = n.to_bytes(8, "big") + os.urandom(BATCH_SIZE - 8)
        partial.write_bytes(data)
        digests.append(hashlib.sha256(data).hexdigest())
    for partial in sorted(inbox.iterdir()):
        partial.rename(partial.with_suffix(""))  # all at once

    at_kills: list[dict[str, str]] = []
    for state in ("received", "hashed", "stored", "verified", "locked", "logged", "hashed", "stored", "verified"):
        started = datetime.now(UTC)
        victim = _evidock(config, "run", "--http-port", str(free_port()), env=env, quiet=True)
        entered = _wait_for_entry(db, state, since=started)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        states = _states(db)
        if entered:
            at_kills.append(states)
        if set(states.values()) == {"released"} and len(states) == BATCH:
            break

    restart = _evidock(config, "run", "--once", env=env)
    _, err = restart.communicate(timeout=300)
    assert restart.returncode == 0, err.decode()

    # The kills landed on files in flight together, in many states, or the test proves nothing.
    print("receipt states at the kills:", at_kills)
    unfinished = [{s for s in kill.values() if s not in ("received", "released")} for kill in at_kills]
    assert len(set().union(*unfinished)) >= 4, at_kills
    assert any(sum(s not in ("received", "released") for s in kill.values()) >= 2 for kill in at_kills), at_kills
    assert list(inbox.iterdir()) == []
    store = connect_store(settings_mod.load(config, env))
    engine = create_engine(db)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(recordings.c.id)).scalars()) == sorted(digests)
        ingests = select(log_entries.c.recording).where(log_entries.c.type == "INGEST")
        assert sorted(conn.execute(ingests).scalars()) == sorted(digests), "one INGEST entry per file"
        assert conn.execute(select(receipts.c.state).distinct()).scalars().all() == ["released"]
        assert conn.execute(select(func.count()).select_from(receipts)).scalar_one() == BATCH
    engine.dispose()
    for digest in digests:
        versions = store.versions(content_key(digest))
        assert len(versions) == 1, f"{digest}: {versions}"
        assert store.fixity_sha256(versions[0]) == (digest, BATCH_SIZE)
    assert _unfinished_uploads(store, "sha256/") == []


def _states(db: str) -> dict[str, str]:
    with _engine(db).connect() as conn:
        rows = conn.execute(select(receipts.c.rel_path, receipts.c.state)).all()
    return {os.fsdecode(path): state for path, state in rows}


def _wait_for_entry(db: str, state: str, *, since: datetime, timeout: float = 30.0) -> bool:
    """Wait until some receipt enters ``state`` after ``since`` while another file is in flight too.

    False if that did not happen (every file was past ``state`` already, or they all finished).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _state(db, None) != "none":
            with _engine(db).connect() as conn:
                rows = conn.execute(select(receipts.c.state, receipts.c.updated_at)).all()
            fresh = [1 for st, at in rows if st == state and at > since]
            flying = [1 for st, _ in rows if st not in ("received", "released")]
            if fresh and len(flying) >= 2:
                return True
            if [st for st, _ in rows] == ["released"] * BATCH:
                return False
        time.sleep(0.005)
    return False


def _assert_recorded(db: str, digest: str) -> None:
    engine = create_engine(db)
    with engine.connect() as conn:
        found = conn.execute(select(recordings.c.id).where(recordings.c.id == digest)).scalar()
    engine.dispose()
    assert found == digest, "the dock copy was removed before the recording was verified and logged"


@functools.cache
def _engine(db: str) -> Engine:
    """One engine (and connection pool) per catalog: ``_state`` is polled every few milliseconds."""
    return create_engine(db)


def _state(db: str, target: Path | None) -> str:
    """The receipt state of ``target`` (None: of any file) right after the kill ("none" before any receipt)."""
    if db.startswith("sqlite:///") and not Path(db.removeprefix("sqlite:///")).exists():
        return "none"  # do not create the file before the service does
    with _engine(db).connect() as conn:
        found = None
        if inspect(conn).has_table(receipts.name):
            rows = select(receipts.c.state)
            if target is not None:
                rows = rows.where(receipts.c.rel_path == os.fsencode(target.name))
            found = conn.execute(rows).scalar()
    return found or "none"


def _wait_for_state(db: str, target: Path, state: str, timeout: float = 60.0) -> None:
    """Wait until the receipt of ``target`` has reached ``state`` (or passed it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ORDER.index(_state(db, target)) >= ORDER.index(state):
            return
        time.sleep(0.005)
    pytest.fail(f"{target.name} did not reach {state} within {timeout} s")
