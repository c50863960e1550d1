"""The main job end to end against the real S3 server, real ffmpeg and a real SQLite catalog."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chain.entries import EntryType, decode, original_name_bytes
from evidock.app import App
from ingest.pipeline import AfterVerify, Outcome, _Flight
from ingest.watcher import look
from retention.policy import add_months
from storage import journal
from storage.objects import StoredVersion, content_key
from storage.receipts import State
from storage.schema import log_entries, receipts, recordings
from tests import media

pytestmark = pytest.mark.s3

SHANGHAI_OFFSET = timedelta(hours=8)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ingest(evi: App, path: Path, after: AfterVerify = AfterVerify.KEEP) -> Outcome | None:
    file = look(path.parent, path, ())
    assert file is not None
    return evi.pipeline(after_verify=after).ingest(file)


def _counts(evi: App) -> tuple[int, int, int]:
    with evi.catalog.read() as conn:
        return (
            conn.execute(select(func.count()).select_from(recordings)).scalar_one(),
            conn.execute(
                select(func.count()).select_from(log_entries).where(log_entries.c.type == "INGEST")
            ).scalar_one(),
            conn.execute(select(func.count()).select_from(receipts)).scalar_one(),
        )


def test_camera_clip_is_stored_locked_verified_and_logged(evi: App, tmp_path: Path) -> None:
    created = datetime(2026, 11, 20, 0, 6, 19, tzinfo=UTC)
    clip = media.clip(tmp_path / "inbox" / "CAM01_P1001_20261120080619_0001.mp4", created=created, mark="a")
    digest = _sha256(clip)

    outcome = _ingest(evi, clip)

    assert outcome is not None
    assert outcome.receipt.state is State.RELEASED
    assert outcome.recording == digest
    assert outcome.notes == ()
    version = StoredVersion(content_key(digest), outcome.receipt.version_id or "", clip.stat().st_size)
    # The server holds exactly the bytes, under the content address, as the only version.
    assert evi.store.fixity_sha256(version) == (digest, clip.stat().st_size)
    assert evi.store.versions(content_key(digest)) == [version]
    # COMPLIANCE retention read back from the server: at least 3 calendar months after the end.
    lock = evi.store.read_lock(version)
    assert lock.mode == "COMPLIANCE"
    assert lock.retain_until is not None
    end = created + timedelta(seconds=5)
    assert lock.retain_until >= add_months(end, 3)
    assert clip.exists(), "after_verify = keep leaves the dock copy"
    with evi.catalog.read() as conn:
        row = conn.execute(select(recordings).where(recordings.c.id == digest)).one()
        entry = journal.entry_at(conn, row.ingest_entry)
    # File name (local time) and embedded time (UTC) agree: start is 2026-11-20 00:06:19Z.
    assert (row.device, row.officer, row.seq) == ("CAM01", "P1001", 1)
    assert row.start_raw == created
    assert row.duration_ms == 5000
    assert row.kind == "video"
    assert row.media["video_codec"] == "h264"
    assert row.media["audio_codec"] == "aac"
    assert (row.media["width"], row.media["height"], row.media["frame_rate"]) == (640, 360, "25/1")
    assert row.retain_until == lock.retain_until
    assert entry.type is EntryType.INGEST
    assert entry.recording == digest
    assert entry.body["sha256"] == digest
    assert entry.body["version_id"] == version.version_id
    assert entry.body["retain_until"] == lock.retain_until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _counts(evi) == (1, 1, 1)


def test_the_upload_goes_straight_to_the_content_key(evi: App, tmp_path: Path) -> None:
    clip = media.clip(tmp_path / "inbox" / "CAM01_P1001_20261120080619_0002.mp4", mark="direct")
    outcome = _ingest(evi, clip)
    assert outcome is not None
    assert outcome.receipt.staging_key == ""
    assert [v.key for v in evi.store.listing("")] == [content_key(_sha256(clip))], "no staging object, no copy"
    stat = evi.store._client.stat_object(evi.store.bucket, content_key(_sha256(clip)))
    assert stat.metadata is not None
    assert stat.metadata["x-amz-meta-evidock-receipt"] == str(outcome.receipt.id)


def test_same_file_docked_twice_gives_one_object_and_a_second_receipt(evi: App, tmp_path: Path) -> None:
    first = media.clip(tmp_path / "inbox" / "CAM02_P1002_20261120090000_0001.mp4", mark="dup")
    second = tmp_path / "inbox" / "slot2" / first.name
    second.parent.mkdir()
    second.write_bytes(first.read_bytes())

    one = _ingest(evi, first)
    two = _ingest(evi, second)

    assert one is not None
    assert two is not None
    assert (one.duplicate, two.duplicate) == (False, True)
    assert one.recording == two.recording
    assert len(evi.store.versions(content_key(one.recording or ""))) == 1
    assert _counts(evi) == (1, 1, 2)
    # Docking the very same file again (same path, size, mtime) is not even a new receipt.
    assert _ingest(evi, first) is None
    assert _counts(evi) == (1, 1, 2)


def test_corrupt_and_non_media_files_are_stored_and_noted(evi: App, tmp_path: Path) -> None:
    truncated = media.truncate(media.clip(tmp_path / "inbox" / "CAM03_P1003_20261120100000_0001.mp4", mark="t"))
    text = tmp_path / "inbox" / "notes.txt"
    text.write_text("not a video\n")

    cut = _ingest(evi, truncated)
    plain = _ingest(evi, text)

    assert cut is not None
    assert plain is not None
    assert cut.receipt.state is State.RELEASED
    assert any("moov atom not found" in n for n in cut.notes), cut.notes
    assert any("not readable as media" in n for n in plain.notes)
    assert any("matches no configured pattern" in n for n in plain.notes)
    for path, outcome in ((truncated, cut), (text, plain)):
        version = StoredVersion(content_key(_sha256(path)), outcome.receipt.version_id or "", path.stat().st_size)
        assert evi.store.fixity_sha256(version)[0] == _sha256(path)
        assert evi.store.read_lock(version).mode == "COMPLIANCE"


@pytest.mark.parametrize(
    "name",
    [
        b"..evil.mp4",
        b"line\nbreak.mp4",
        b"-rf --no-preserve-root.mp4",
        b"ctrl\x01\x1b[31mred.mp4",
        b"$(touch pwned); `id` | cat.mp4",
        "执法记录仪_张三_20261120080619_0001.mp4".encode(),
        b"not-utf8-\xff\xfe.mp4",
        b"L" * 246 + b".mp4",
    ],
    ids=["dotdot", "newline", "dashes", "control", "shell", "chinese", "bad-utf8", "long"],
)
def test_hostile_names_stay_in_their_folder_and_keep_their_name(evi: App, tmp_path: Path, name: bytes) -> None:
    inbox = tmp_path / "inbox"
    path = Path(os.fsdecode(os.path.join(os.fsencode(inbox), name)))
    media.clip(path, seconds=1, mark=name.hex())
    digest = _sha256(path)
    before = sorted(os.listdir(tmp_path))

    outcome = _ingest(evi, path)

    assert outcome is not None
    assert outcome.recording == digest
    assert sorted(os.listdir(tmp_path)) == before, "nothing was created outside the folder"
    assert not (tmp_path / "pwned").exists()
    with evi.catalog.read() as conn:
        row = conn.execute(select(recordings).where(recordings.c.id == digest)).one()
        data = conn.execute(select(log_entries.c.data).where(log_entries.c.idx == row.ingest_entry)).scalar_one()
    assert row.object_key == content_key(digest), "the key never comes from the name"
    assert original_name_bytes(decode(data).body) == name, "the exact original name is kept"


def test_symlinks_are_not_followed(evi: App, tmp_path: Path) -> None:
    outside = media.clip(tmp_path / "secret.mp4", seconds=1, mark="outside")
    link = tmp_path / "inbox" / "link.mp4"
    link.symlink_to(outside)
    assert look(link.parent, link, ()) is None
    assert _counts(evi) == (0, 0, 0)


def test_delete_after_verify_removes_only_the_verified_dock_copy(evi: App, tmp_path: Path) -> None:
    clip = media.clip(tmp_path / "inbox" / "CAM04_P1004_20261120110000_0001.mp4", mark="del")
    outcome = _ingest(evi, clip, AfterVerify.DELETE)
    assert outcome is not None
    assert outcome.receipt.state is State.RELEASED
    assert not clip.exists()
    version = StoredVersion(content_key(outcome.recording or ""), outcome.receipt.version_id or "", 0)
    assert evi.store.read_lock(version).mode == "COMPLIANCE"


def test_a_dock_copy_changed_after_storing_is_not_deleted(evi: App, tmp_path: Path) -> None:
    clip = media.clip(tmp_path / "inbox" / "CAM04_P1004_20261120110500_0002.mp4", mark="chg")
    pipeline = evi.pipeline(after_verify=AfterVerify.DELETE)
    file = look(clip.parent, clip, ())
    assert file is not None
    receipt = pipeline.accept(file)
    assert receipt is not None
    # Hash, store, verify, lock and log, then someone rewrites the dock file before release.
    flight = _Flight()
    receipt, _ = pipeline._to_recording(pipeline._hash(receipt, flight), flight, None)
    assert receipt.state is State.LOGGED
    with clip.open("ab") as f:
        f.write(b"appended")
    released = pipeline.run(receipt)
    assert released.receipt.state is State.RELEASED
    assert clip.exists(), "a file that is not the stored one is never deleted"


def test_move_after_verify(evi: App, tmp_path: Path) -> None:
    clip = media.clip(tmp_path / "inbox" / "CAM05_P1005_20261120120000_0001.mp4", mark="mv")
    digest = _sha256(clip)
    pipeline = evi.pipeline(after_verify=AfterVerify.MOVE)
    object.__setattr__(pipeline.options, "move_to", tmp_path / "released")
    file = look(clip.parent, clip, ())
    assert file is not None
    outcome = pipeline.ingest(file)
    assert outcome is not None
    moved = tmp_path / "released" / "inbox" / clip.name
    assert not clip.exists()
    assert _sha256(moved) == digest


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("REC01_P2001_20261120080000_0001.wav", "audio"),
        ("REC01_P2001_20261120080100_0002.mp3", "audio"),
        ("REC01_P2001_20261120080200_0003.m4a", "audio"),
        ("CAM06_P2002_20261120080300_0001.jpg", "photo"),
    ],
)
def test_voice_recordings_and_photos_are_recordings(evi: App, tmp_path: Path, name: str, kind: str) -> None:
    path = tmp_path / "inbox" / name
    if kind == "photo":
        media.photo(path)
    else:
        media.audio(path, seconds=2)
    outcome = _ingest(evi, path)
    assert outcome is not None
    with evi.catalog.read() as conn:
        row = conn.execute(select(recordings).where(recordings.c.id == outcome.recording)).one()
    assert row.kind == kind
    assert row.device in ("REC01", "CAM06")
    assert row.start_raw == datetime.strptime(name.split("_")[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC) - SHANGHAI_OFFSET
    if kind == "audio":
        assert 1900 <= (row.duration_ms or 0) <= 2200
    assert outcome.notes == ()
