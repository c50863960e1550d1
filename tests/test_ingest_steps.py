"""The ingest states one by one, in-process, against the real local S3 and catalog: a run stopped after any
step (or inside the upload) resumes to exactly one object, one recording and one INGEST entry; a file that
changes between its hash and its upload is never locked; a receipt of the copy era finishes on today's path.

``tests/test_crash.py`` does the same with ``kill -9`` of the real service; here each stop is exact.
"""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from evidock import settings as settings_mod
from evidock.app import App, open_app
from ingest.pipeline import Pipeline, _Flight
from ingest.watcher import look
from storage import receipts as receipts_db
from storage import s3_raw
from storage.objects import ObjectStore, StoredVersion, content_key
from storage.receipts import Receipt, State
from storage.schema import log_entries, receipts, recordings
from tests.conftest import raw_config, station_env, write_config

pytestmark = pytest.mark.s3

MIB = 1024 * 1024
SIZE = 12 * MIB + 321  # three parts of 5 MiB
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def station(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> Iterator[App]:
    (tmp_path / "inbox").mkdir()
    raw = raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"], s3={"part_size_mib": 5})
    settings = settings_mod.load(write_config(tmp_path / "config.toml", raw), station_env(s3_env))
    with open_app(settings) as evi:
        yield evi


def _docked(evi: App, name: str, data: bytes | None = None) -> tuple[Receipt, bytes]:
    path = evi.settings.watch.folders[0] / name
    data = os.urandom(SIZE) if data is None else data
    path.write_bytes(data)
    file = look(path.parent, path, ())
    assert file is not None
    receipt = evi.pipeline().accept(file)
    assert receipt is not None
    return receipt, data


def _drive(pipeline: Pipeline, receipt: Receipt, until: State) -> Receipt:
    """Run the steps, one committed state each, until the receipt is in ``until`` (then "crash": drop it)."""
    flight = _Flight()
    steps: dict[State, Callable[[Receipt], Receipt]] = {
        State.RECEIVED: lambda r: pipeline._hash(r, flight),
        State.HASHED: lambda r: pipeline._store(r, None),
        State.STORED: pipeline._verify,
        State.VERIFIED: lambda r: pipeline._lock(r, flight),
        State.LOCKED: lambda r: pipeline._log(r, flight)[0],
        State.LOGGED: pipeline._release,
    }
    while receipt.state is not until:
        receipt = steps[receipt.state](receipt)
    if flight.scan is not None:
        flight.scan.cancel()
    return receipt


def _reader(data: bytes) -> Callable[[int, memoryview], None]:
    def read(offset: int, view: memoryview) -> None:
        view[:] = data[offset : offset + len(view)]

    return read


def _unfinished_uploads(store: ObjectStore, prefix: str) -> list[str]:
    listing = ET.fromstring(s3_raw.list_uploads(store._client, store.bucket, prefix))  # noqa: S314 - our server
    return [u.findtext(f"{S3_NS}Key") or "" for u in listing.iter(f"{S3_NS}Upload")]


def _assert_stored_once(evi: App, data: bytes) -> StoredVersion:
    digest = hashlib.sha256(data).hexdigest()
    versions = evi.store.versions(content_key(digest))
    assert len(versions) == 1, versions
    assert evi.store.fixity_sha256(versions[0]) == (digest, len(data))
    assert evi.store.read_lock(versions[0]).mode == "COMPLIANCE"
    assert _unfinished_uploads(evi.store, "sha256/") == []
    assert evi.store.listing("staging/") == []
    with evi.catalog.read() as conn:
        assert conn.execute(select(recordings.c.id, recordings.c.version_id)).all() == [
            (digest, versions[0].version_id)
        ]
        ingests = select(func.count()).select_from(log_entries).where(log_entries.c.type == "INGEST")
        assert conn.execute(ingests).scalar_one() == 1
    return versions[0]


@pytest.mark.parametrize(
    "stopped_at",
    [State.RECEIVED, State.HASHED, State.STORED, State.VERIFIED, State.LOCKED, State.LOGGED],
    ids=lambda s: s.value,
)
def test_a_run_stopped_after_any_step_resumes_to_one_recording(station: App, stopped_at: State) -> None:
    receipt, data = _docked(station, "CAM01_P1001_20261120080000_0001.mp4")
    assert _drive(station.pipeline(), receipt, stopped_at).state is stopped_at

    (outcome,) = station.pipeline().resume()  # a new process after the crash

    assert outcome.receipt.state is State.RELEASED, outcome.receipt.error
    assert outcome.duplicate is False
    _assert_stored_once(station, data)


def test_an_upload_completed_before_the_crash_is_used_not_doubled(station: App) -> None:
    receipt, data = _docked(station, "CAM01_P1001_20261120080100_0002.mp4")
    receipt = _drive(station.pipeline(), receipt, State.HASHED)
    # The killed run's upload was complete, its version id not yet committed.
    sent = station.store.upload_parts(content_key(receipt.sha256 or ""), len(data), _reader(data), metadata={})

    (outcome,) = station.pipeline().resume()

    assert outcome.receipt.state is State.RELEASED, outcome.receipt.error
    assert _assert_stored_once(station, data) == sent


def test_an_upload_cut_off_by_the_crash_is_aborted(station: App) -> None:
    receipt, data = _docked(station, "CAM01_P1001_20261120080200_0003.mp4")
    receipt = _drive(station.pipeline(), receipt, State.HASHED)
    key = content_key(receipt.sha256 or "")
    # The killed run had begun its upload and sent one part.
    upload_id = s3_raw.create_upload(station.store._client, station.store.bucket, key, {})
    station.store._put_part(key, upload_id, 1, data[: 5 * MIB])
    assert _unfinished_uploads(station.store, key) == [key]

    (outcome,) = station.pipeline().resume()

    assert outcome.receipt.state is State.RELEASED, outcome.receipt.error
    _assert_stored_once(station, data)


def test_a_file_changed_between_hash_and_upload_is_never_locked(station: App) -> None:
    receipt, data = _docked(station, "CAM01_P1001_20261120080300_0004.mp4")
    receipt = _drive(station.pipeline(), receipt, State.HASHED)
    # Rewritten in place between the two reads, size kept and mtime put back: only the bytes tell.
    before = receipt.path.stat()
    with receipt.path.open("r+b") as f:
        f.seek(SIZE // 2)
        f.write(b"X" * 4096)
    os.utime(receipt.path, ns=(before.st_atime_ns, before.st_mtime_ns))

    (outcome,) = station.pipeline().resume()

    assert outcome.receipt.state is State.FAILED
    assert "does not match the dock file" in (outcome.receipt.error or "")
    assert "deleted (never locked)" in (outcome.receipt.error or "")
    assert station.store.versions(content_key(receipt.sha256 or "")) == [], "the wrong bytes are gone"
    assert receipt.path.exists(), "the dock copy is kept"
    with station.catalog.read() as conn:
        assert conn.execute(select(func.count()).select_from(recordings)).scalar_one() == 0
    assert hashlib.sha256(data).hexdigest() == receipt.sha256


@pytest.mark.parametrize("old_state", ["stored", "locked"])
def test_a_receipt_of_the_copy_era_finishes_on_todays_path(station: App, old_state: str) -> None:
    """Before direct uploads: staged at its own key, then (``locked``) copied and locked, not yet re-read."""
    receipt, data = _docked(station, f"CAM01_P1001_20261120080400_{old_state}.mp4")
    digest = hashlib.sha256(data).hexdigest()
    staging = f"staging/dock-test/{old_state}"
    staged = station.store.upload_parts(staging, len(data), _reader(data), metadata={})
    facts: dict[str, object] = {"staging_key": staging, "staging_version": staged.version_id, "sha256": digest}
    if old_state == "locked":
        copy = station.store.upload_parts(content_key(digest), len(data), _reader(data), metadata={})
        station.store.lock(copy, station.now() + timedelta(days=100))
        facts["version_id"] = copy.version_id
    with station.catalog.begin() as conn:
        conn.execute(update(receipts).where(receipts.c.id == receipt.id).values(state=old_state, **facts))

    (outcome,) = station.pipeline().resume()

    assert outcome.receipt.state is State.RELEASED, outcome.receipt.error
    assert outcome.receipt.staging_key == ""
    stored = _assert_stored_once(station, data)
    if old_state == "locked":
        assert stored.version_id == facts["version_id"], "the copy is used, after it was re-read"
    with station.catalog.read() as conn:
        assert receipts_db.get(conn, receipt.id).version_id == stored.version_id
