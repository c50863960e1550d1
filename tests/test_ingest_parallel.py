"""Several files in flight at once (``ingest.parallel``), against the real local S3 and catalog.

Each content is stored once (two files with the same bytes in flight together make one object, one
recording and a duplicate receipt), the catalog sees one writer at a time, the log verifies, and the
service (`evidock run --once`) takes a folder of files with ``watch.parallel_files`` of them at once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from evidock import settings as settings_mod
from evidock.app import App, checkpointer_for, open_app
from evidock.keys import init_key
from evidock.verify import verify
from ingest.parallel import IngestPool
from ingest.pipeline import Pipeline
from ingest.watcher import DockedFile, look
from storage.objects import content_key
from storage.receipts import Receipt, State
from storage.schema import log_entries, receipts, recordings
from tests.conftest import raw_config, station_env, write_config

pytestmark = pytest.mark.s3

MIB = 1024 * 1024


class Watched(Pipeline):
    """The real pipeline, counting the uploads and the catalog writers that run at the same time."""

    def __init__(self, base: Pipeline) -> None:
        super().__init__(store=base.store, catalog=base.catalog, journal=base.journal, options=base.options)
        self._count = threading.Lock()
        self.uploading = self.most_uploading = 0
        self.writing = self.most_writing = 0

    def _store(self, receipt: Receipt, progress: object) -> Receipt:
        with self._count:
            self.uploading += 1
            self.most_uploading = max(self.most_uploading, self.uploading)
        try:
            time.sleep(0.05)  # small files: give the others time to start theirs
            return super()._store(receipt, None)
        finally:
            with self._count:
                self.uploading -= 1

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with super()._write() as conn:
            with self._count:
                self.writing += 1
                self.most_writing = max(self.most_writing, self.writing)
            try:
                yield conn
            finally:
                with self._count:
                    self.writing -= 1


@pytest.fixture
def station(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> Iterator[App]:
    (tmp_path / "inbox").mkdir()
    raw = raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"], s3={"part_size_mib": 5})
    settings = settings_mod.load(write_config(tmp_path / "config.toml", raw), station_env(s3_env))
    with open_app(settings) as evi:
        yield evi


def _write_file(folder: Path, name: str, data: bytes) -> DockedFile:
    path = folder / name
    path.write_bytes(data)
    file = look(folder, path, ())
    assert file is not None
    return file


def _wait_idle(pool: IngestPool, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not pool.idle():
        assert time.monotonic() < deadline, "the pool did not finish"
        time.sleep(0.05)


def test_files_in_flight_together_are_each_stored_once_and_the_log_verifies(station: App) -> None:
    vkey, _ = init_key(station.settings)
    station.log_key(vkey)
    inbox = station.settings.watch.folders[0]
    contents = [os.urandom(7 * MIB + n) for n in range(6)]  # two parts each
    files = [_write_file(inbox, f"CAM0{n}_P100{n}_20261120080000_0001.mp4", c) for n, c in enumerate(contents)]
    # The same bytes as the first file, docked in another slot at the same moment.
    (inbox / "slot2").mkdir()
    files.append(_write_file(inbox / "slot2", files[0].path.name, contents[0]))
    pipeline = Watched(station.pipeline())
    pool = IngestPool(pipeline, 3)

    assert all(pool.submit(f) for f in files)
    assert not pool.submit(files[1]), "a path in flight is not queued twice"
    _wait_idle(pool)
    finished = pool.take_finished()
    pool.close()

    assert [f.error for f in finished] == [None] * len(files)
    outcomes = [f.outcome for f in finished if f.outcome is not None]
    assert len(outcomes) == len(files)
    assert {o.receipt.state for o in outcomes} == {State.RELEASED}
    assert sorted(o.duplicate for o in outcomes) == [False] * 6 + [True]
    assert pipeline.most_uploading >= 2, "files really were in flight together"
    assert pipeline.most_uploading <= 3, "never more than parallel_files"
    assert pipeline.most_writing == 1, "one catalog writer at a time"
    for data in contents:
        digest = hashlib.sha256(data).hexdigest()
        assert len(station.store.versions(content_key(digest))) == 1
    with station.catalog.read() as conn:
        assert conn.execute(select(func.count()).select_from(recordings)).scalar_one() == 6
        ingests = select(log_entries.c.recording).where(log_entries.c.type == "INGEST").order_by(log_entries.c.idx)
        logged = conn.execute(ingests).scalars().all()
        assert sorted(logged) == sorted(hashlib.sha256(c).hexdigest() for c in contents)
        by_recording = dict(conn.execute(select(recordings.c.id, recordings.c.ingest_entry)).all())
    assert sorted(by_recording.values()) == [by_recording[r] for r in logged], "rows point at their own entries"
    checkpointer_for(station).make(station.now())
    report = verify(station, vkey, deep=True)
    assert report.ok, report.failures


def test_resume_skips_a_receipt_in_flight_and_one_finished_meanwhile(station: App) -> None:
    inbox = station.settings.watch.folders[0]
    file = _write_file(inbox, "CAM01_P1001_20261120090000_0001.mp4", os.urandom(6 * MIB))
    pipeline = Watched(station.pipeline())
    receipt = pipeline.accept(file)
    assert receipt is not None
    pool = IngestPool(pipeline, 2)

    assert pool.resume([receipt]) == 1
    assert pool.resume([receipt]) == 0, "its path is in flight"
    _wait_idle(pool)
    (first,) = pool.take_finished()
    assert pool.resume([receipt]) == 1, "listed before it finished"
    _wait_idle(pool)
    (second,) = pool.take_finished()
    pool.close()

    assert first.outcome is not None
    assert first.outcome.receipt.state is State.RELEASED
    assert (second.outcome, second.error) == (None, None), "found finished: not run again"


def test_the_service_takes_a_folder_of_files_several_at_once(
    tmp_path: Path, s3_env: dict[str, str], bucket: str
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    raw = raw_config(
        tmp_path,
        bucket,
        s3_env["S3_ENDPOINT"],
        watch={"parallel_files": 3, "stable_seconds": 0.2, "after_verify": "delete"},
        s3={"part_size_mib": 5},
    )
    config = write_config(tmp_path / "config.toml", raw)
    digests = []
    for n in range(8):
        data = os.urandom(6 * MIB + n)
        (inbox / f"CAM1{n}_P2001_20261120100000_0001.mp4").write_bytes(data)
        digests.append(hashlib.sha256(data).hexdigest())

    done = subprocess.run(
        [sys.executable, "-m", "evidock.cli", "--config", str(config), "run", "--once"],
        env=station_env(s3_env),
        capture_output=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stderr.decode()
    assert list(inbox.iterdir()) == [], "every file stored, verified, logged and released"
    settings = settings_mod.load(config, station_env(s3_env))
    with open_app(settings) as evi, evi.catalog.read() as conn:
        assert sorted(conn.execute(select(recordings.c.id)).scalars()) == sorted(digests)
        assert conn.execute(select(receipts.c.state).distinct()).scalars().all() == ["released"]
        for digest in digests:
            assert len(evi.store.versions(content_key(digest))) == 1
