"""The watcher on a real file system with real inotify (no S3 needed)."""

from __future__ import annotations

import io
import logging
import os
import time
from pathlib import Path

import pytest

from evidock.text import OneLineFormatter
from ingest.watcher import DockedFile, FolderWatcher, Stabiliser, look, scan

IGNORE = ("*.part", "*.tmp", ".*", "~*")


def _poll_until(watcher: FolderWatcher, want: int, timeout: float = 10.0) -> list[DockedFile]:
    found: list[DockedFile] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(found) < want:
        found += watcher.poll(time.monotonic())
        time.sleep(0.05)
    return found


def test_scan_skips_partial_files_symlinks_and_the_release_folder(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "slot1").mkdir(parents=True)
    (inbox / "released").mkdir()
    (inbox / "a.mp4").write_bytes(b"a")
    (inbox / "slot1" / "b.mp4").write_bytes(b"b")
    (inbox / "c.mp4.part").write_bytes(b"partial")
    (inbox / ".hidden.mp4").write_bytes(b"h")
    (inbox / "released" / "old.mp4").write_bytes(b"o")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"s")
    (inbox / "link.mp4").symlink_to(outside / "secret.mp4")
    (inbox / "linkdir").symlink_to(outside)

    found = sorted(f.relative.as_posix() for f in scan(inbox, IGNORE, skip=[inbox / "released"]))

    assert found == ["a.mp4", "slot1/b.mp4"]


def test_look_refuses_paths_outside_the_folder_and_through_symlinks(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "secret.mp4").write_bytes(b"s")
    (inbox / "dir").symlink_to(tmp_path)
    assert look(inbox, inbox / ".." / "secret.mp4", IGNORE) is None
    assert look(inbox, tmp_path / "secret.mp4", IGNORE) is None
    assert look(inbox, inbox / "dir" / "secret.mp4", IGNORE) is None
    assert look(inbox, inbox / "missing.mp4", IGNORE) is None


def test_hostile_names_are_found_as_they_are(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = [b"..x.mp4", b"new\nline.mp4", b"-rf.mp4", b"\x1b[31m.mp4", b"bad-\xff.mp4", b"L" * 250]
    for name in names:
        with open(os.path.join(os.fsencode(inbox), name), "wb") as f:
            f.write(name)
    found = sorted(os.fsencode(f.path.name) for f in scan(inbox, ("*.part",)))
    assert found == sorted(names)
    for file in scan(inbox, ("*.part",)):
        assert file.path.parent == inbox


def test_stabiliser_waits_for_quiet_and_longer_for_an_open_writer() -> None:
    stab = Stabiliser(stable_seconds=2.0)
    file = DockedFile(Path("/in"), Path("/in/a.mp4"), size=10, mtime_ns=1, inode=1)
    stab.observe(file, now=100.0)
    assert not stab.is_stable(file, now=101.0)
    assert stab.is_stable(file, now=102.0)
    grown = DockedFile(Path("/in"), Path("/in/a.mp4"), size=20, mtime_ns=2, inode=1)
    stab.observe(grown, now=102.5)
    assert not stab.is_stable(grown, now=103.0), "a change restarts the clock"
    assert stab.is_stable(grown, now=104.5)
    stab.written(grown.path)  # a write event with no close after it
    assert not stab.is_stable(grown, now=110.0)
    assert stab.is_stable(grown, now=122.5), "a writer that died still leaves evidence to take"
    stab.closed(grown.path)
    assert stab.is_stable(grown, now=104.5)


def test_files_present_at_start_and_new_ones_are_taken_when_stable(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "before.mp4").write_bytes(b"x" * 100)
    watcher = FolderWatcher([inbox], ignore=IGNORE, stable_seconds=0.3, rescan_seconds=60)
    watcher.start()
    try:
        first = _poll_until(watcher, 1)
        assert [f.path.name for f in first] == ["before.mp4"]

        # A file written in pieces is not taken while it grows.
        growing = inbox / "growing.mp4"
        with growing.open("wb") as f:
            for _ in range(5):
                f.write(b"y" * 1000)
                f.flush()
                assert watcher.poll(time.monotonic()) == []
                time.sleep(0.1)
        # Copied the careful way: written as .part, then renamed.
        part = inbox / "renamed.mp4.part"
        part.write_bytes(b"z" * 10)
        part.rename(inbox / "renamed.mp4")
        later = _poll_until(watcher, 2)
        assert sorted(f.path.name for f in later) == ["growing.mp4", "renamed.mp4"]
        assert next(f for f in later if f.path.name == "growing.mp4").size == 5000
    finally:
        watcher.stop()


def test_the_rescan_finds_what_events_missed(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = FolderWatcher([inbox], ignore=IGNORE, stable_seconds=0.1, rescan_seconds=0.5)
    # Not started: no inotify at all, as on a mount that loses events.
    assert watcher.poll(time.monotonic()) == []
    (inbox / "quiet.mp4").write_bytes(b"q")
    found = _poll_until(watcher, 1)
    assert [f.path.name for f in found] == ["quiet.mp4"]


def test_finished_files_are_skipped(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "done.mp4").write_bytes(b"d")
    (inbox / "new.mp4").write_bytes(b"n")
    watcher = FolderWatcher(
        [inbox], ignore=IGNORE, stable_seconds=0.1, rescan_seconds=0.2, should_skip=lambda f: f.path.name == "done.mp4"
    )
    found = _poll_until(watcher, 1)
    time.sleep(0.5)
    found += watcher.poll(time.monotonic())
    assert [f.path.name for f in found] == ["new.mp4"]


def test_what_is_not_taken_is_reported_once_per_path(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "outside.mp4").write_bytes(b"o")
    (inbox / "link.mp4").symlink_to(tmp_path / "outside.mp4")
    os.mkfifo(inbox / "pipe.mp4")
    (inbox / ".hidden.mp4").write_bytes(b"h")
    (inbox / "copy.mp4.part").write_bytes(b"p")  # a temporary name: expected, not reported
    (inbox / "real.mp4").write_bytes(b"r")
    watcher = FolderWatcher([inbox], ignore=IGNORE, stable_seconds=0.1, rescan_seconds=0.1)
    caplog.set_level(logging.WARNING, logger="ingest.watcher")
    found = _poll_until(watcher, 1)
    for _ in range(5):  # five more full rescans
        time.sleep(0.12)
        found += watcher.poll(time.monotonic())
    assert {f.path.name for f in found} == {"real.mp4"}  # taken again each rescan: nothing here marks it done
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert sum("link.mp4" in m and "symlink" in m for m in messages) == 1
    assert sum("pipe.mp4" in m and "a FIFO" in m for m in messages) == 1
    assert sum(".hidden.mp4" in m and "hidden name" in m for m in messages) == 1

    # Gone and back: reported again, once.
    (inbox / "link.mp4").unlink()
    time.sleep(0.12)
    watcher.poll(time.monotonic())
    (inbox / "link.mp4").symlink_to(tmp_path / "outside.mp4")
    for _ in range(3):
        time.sleep(0.12)
        watcher.poll(time.monotonic())
    assert sum("link.mp4" in r.getMessage() for r in caplog.records) == 2


def test_a_newline_in_a_file_name_cannot_forge_a_log_line() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("test.forge")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("not taking %s: %s", "a.mp4\nERROR evidock: verify FAILED\r\x1b[2J", "why")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("ingest of %s failed", "b\nc")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == r"WARNING test.forge: not taking a.mp4\nERROR evidock: verify FAILED\r\x1b[2J: why"
    assert lines[1] == r"ERROR test.forge: ingest of b\nc failed"
    assert lines[2] == "Traceback (most recent call last):"  # a traceback keeps its own lines
    assert not any(line.startswith("ERROR evidock") for line in lines)
