"""`verify` against the bucket itself: delete markers, missing versions, and objects nobody logged.

All on the real S3 server. A delete marker needs no rights over locked
versions (``remove_object`` without a version id works under Object Lock);
stray objects are put where recordings and staging uploads live.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import select

from evidock.app import App, checkpointer_for, open_app
from evidock.keys import init_key
from evidock.settings import Settings
from evidock.verify import verify
from storage.objects import Lock, ObjectStore, StoredVersion
from storage.schema import recordings
from tests import media
from tests.conftest import dock

pytestmark = pytest.mark.s3


@dataclass
class Stored:
    evi: App
    vkey: str
    inbox: Path
    key: str  # the first recording's object key
    version: str  # and its version


@pytest.fixture
def stored(settings: Settings, tmp_path: Path) -> Iterator[Stored]:
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        first = dock(evi, media.clip(tmp_path / "inbox" / "CAM51_P5001_20261120080000_0001.mp4", mark="b1"))
        dock(evi, media.clip(tmp_path / "inbox" / "CAM51_P5001_20261120080100_0002.mp4", mark="b2"))
        checkpointer_for(evi).make(evi.now())
        with evi.catalog.read() as conn:
            key, version = conn.execute(
                select(recordings.c.object_key, recordings.c.version_id).where(recordings.c.id == first)
            ).one()
        yield Stored(evi, vkey, tmp_path / "inbox", key, version)


def _put(evi: App, key: str, data: bytes) -> str:
    result = evi.store._client.put_object(evi.store.bucket, key, io.BytesIO(data), len(data))
    assert result.version_id
    return str(result.version_id)


def _failures(s: Stored) -> set[tuple[str, str]]:
    return {(f.check, f.subject) for f in verify(s.evi, s.vkey).failures}


def test_a_clean_bucket_verifies(stored: Stored) -> None:
    report = verify(stored.evi, stored.vkey)
    assert report.ok, report.failures
    assert report.checked["objects"] == 2


def test_a_delete_marker_on_a_recording_is_named(stored: Stored) -> None:
    s = stored
    s.evi.store._client.remove_object(s.evi.store.bucket, s.key)  # no version id: a delete marker, allowed
    (marker,) = [v for v in s.evi.store.listing(s.key) if v.delete_marker]
    assert _failures(s) == {("object_delete_marker", f"{s.key} version {marker.version_id}")}
    (failure,) = verify(s.evi, s.vkey).failures
    assert "a delete marker on a recording's object" in failure.message


def test_a_stray_object_under_the_recordings_prefix_is_named(stored: Stored) -> None:
    s = stored
    key = "sha256/00/00/" + "0" * 64
    version = _put(s.evi, key, b"not evidence")
    assert _failures(s) == {("object_unexplained", f"{key} version {version}")}
    (failure,) = verify(s.evi, s.vkey).failures
    assert failure.message == "12 bytes under sha256/ that no INGEST entry and no receipt in progress names"


def test_a_second_version_over_a_recording_is_named_with_both_versions(stored: Stored) -> None:
    s = stored
    version = _put(s.evi, s.key, b"forged")
    (failure,) = verify(s.evi, s.vkey).failures
    assert (failure.check, failure.subject) == ("object_versions", s.key)
    assert version in failure.message
    assert s.version in failure.message


def test_a_stray_staging_object_is_named(stored: Stored) -> None:
    s = stored
    key = "staging/dock-test/planted"
    version = _put(s.evi, key, b"x")
    assert _failures(s) == {("staging_unexplained", f"{key} version {version}")}


def test_a_missing_version_is_named(settings: Settings, tmp_path: Path) -> None:
    """What a storage administrator's purge leaves (docs/threat-model.md): the entry names a version that is gone.

    Locked versions cannot be deleted through S3, so this recording is stored without its lock first (the
    pipeline is told the lock took).
    """
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        pretended = Lock("COMPLIANCE", evi.now() + timedelta(days=100), legal_hold=False)
        with (
            mock.patch.object(ObjectStore, "lock", autospec=True),
            mock.patch.object(ObjectStore, "read_lock", autospec=True, return_value=pretended),
        ):
            recording = dock(evi, media.clip(tmp_path / "inbox" / "CAM52_P5002_20261120080000_0001.mp4", mark="m"))
        with evi.catalog.read() as conn:
            row = conn.execute(select(recordings).where(recordings.c.id == recording)).one()
        evi.store.delete_version(StoredVersion(row.object_key, row.version_id, row.size))
        report = verify(evi, vkey)
    assert [(f.check, f.subject) for f in report.failures] == [
        ("object_version_missing", f"{row.object_key} version {row.version_id}")
    ]
    assert report.failures[0].message == (
        f"recording {recording}'s version (INGEST entry {row.ingest_entry}) is not in the bucket; found none"
    )
