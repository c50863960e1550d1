"""Finding docked files: a scan of the watch folders, inotify events, and the stability rule.

Events are a hint, the scan is the truth: inotify events get lost on some
mounts (and all of them while the service is down), so every folder is also
rescanned periodically and fully at start. A file is taken only when it is
*stable*: size and mtime unchanged for ``stable_seconds``, not still open
for writing as far as inotify can tell (a write seen with no close after it
makes the file wait ten times longer — a writer that died in a power cut
still leaves evidence that must be taken eventually), and held open for
writing by no process (``ingest.writers`` asks ``/proc``; a writer that pauses
longer than ``stable_seconds`` keeps its file waiting until it closes).

Symlinks are never followed, so nothing outside a watch folder is ever read.
Names are handled as the operating system gives them (``str`` with
surrogate escapes for non-UTF-8 bytes); a name is never used to build a
storage key.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import queue
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from ingest import writers

log = logging.getLogger(__name__)

OPEN_FILE_FACTOR = 10


@dataclass(frozen=True)
class DockedFile:
    """A regular file found under a watch folder."""

    folder: Path
    path: Path  # folder / relative path, never outside folder
    size: int
    mtime_ns: int
    inode: int
    dev: int = 0  # st_dev: with the inode, names the file for the open-writer check

    @property
    def relative(self) -> Path:
        return self.path.relative_to(self.folder)


def ignored(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


SkipReport = Callable[[str, str], None]  # (path, why it is not taken)


def _log_skip(path: str, why: str) -> None:
    log.warning("not taking %r: %s", path, why)


def scan(
    folder: Path, ignore: Sequence[str], skip: Sequence[Path] = (), on_skip: SkipReport = _log_skip
) -> Iterator[DockedFile]:
    """Every regular, non-ignored file under ``folder``; symlinks and ignored names are skipped.

    What a person may not expect to be left out (symlinks, FIFOs, sockets, devices,
    hidden names) is reported through ``on_skip``; ignored temporary names are not.
    """
    skip_set = {os.fspath(p) for p in skip}
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            on_skip(os.fspath(current), f"cannot list it: {exc.strerror}")
            continue
        for entry in entries:
            if ignored(entry.name, ignore):
                if entry.name.startswith("."):
                    on_skip(entry.path, "a hidden name (watch.ignore); rename it without the leading dot to ingest it")
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # vanished between listing and stat
            if stat.S_ISLNK(st.st_mode):
                on_skip(entry.path, "a symlink in a watch folder is never followed")
                continue
            if stat.S_ISDIR(st.st_mode):
                if entry.path not in skip_set:
                    stack.append(Path(entry.path))
            elif stat.S_ISREG(st.st_mode):
                yield DockedFile(folder, Path(entry.path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
            else:
                on_skip(entry.path, f"not a regular file ({_kind(st.st_mode)})")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return f"mode {mode:o}"


def look(folder: Path, path: Path, ignore: Sequence[str]) -> DockedFile | None:
    """The file at ``path`` if it is a regular, non-ignored file inside ``folder`` (no symlink anywhere)."""
    try:
        relative = path.relative_to(folder)
    except ValueError:
        return None
    if ".." in relative.parts or any(ignored(part, ignore) for part in relative.parts):
        return None
    current = folder
    for part in relative.parts:
        current = current / part
        try:
            st = current.lstat()
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return DockedFile(folder, path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float  # monotonic time the (size, mtime) pair was first seen
    writing: bool  # a write event came after the last close event


class Stabiliser:
    """Decides when a file has stopped changing. Pure: the caller passes monotonic ``now``."""

    def __init__(self, stable_seconds: float) -> None:
        self.stable_seconds = stable_seconds
        self._seen: dict[Path, _Seen] = {}

    def observe(self, file: DockedFile, now: float) -> None:
        seen = self._seen.get(file.path)
        if seen is None or (seen.size, seen.mtime_ns) != (file.size, file.mtime_ns):
            writing = seen.writing if seen else False
            self._seen[file.path] = _Seen(file.size, file.mtime_ns, now, writing)

    def written(self, path: Path) -> None:
        seen = self._seen.get(path)
        if seen:
            seen.writing = True

    def closed(self, path: Path) -> None:
        seen = self._seen.get(path)
        if seen:
            seen.writing = False

    def is_stable(self, file: DockedFile, now: float) -> bool:
        seen = self._seen.get(file.path)
        if seen is None or (seen.size, seen.mtime_ns) != (file.size, file.mtime_ns):
            return False
        wait = self.stable_seconds * (OPEN_FILE_FACTOR if seen.writing else 1)
        return now - seen.since >= wait

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)

    def pending(self) -> int:
        return len(self._seen)


class _Events(FileSystemEventHandler):
    """Forwards watchdog's events (from its thread) into a queue the main loop drains."""

    def __init__(self, sink: queue.SimpleQueue[tuple[str, Path]]) -> None:
        self._sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            if event.event_type in ("created", "moved"):
                self._sink.put(("rescan", Path(os.fsdecode(event.src_path))))
            return
        path = event.dest_path if event.event_type == "moved" else event.src_path
        kind = "closed" if isinstance(event, FileClosedEvent) else event.event_type
        self._sink.put((kind, Path(os.fsdecode(path))))


class FolderWatcher:
    """Watch folders with inotify (via watchdog) plus periodic rescans; yields stable files.

    ``poll(now)`` is called by the service loop; it returns the files that became
    stable since the last call. ``should_skip`` lets the caller drop files it has
    already finished (by identity), so a kept dock copy is not taken again.
    """

    def __init__(
        self,
        folders: Sequence[Path],
        *,
        ignore: Sequence[str],
        stable_seconds: float,
        rescan_seconds: float,
        skip_dirs: Sequence[Path] = (),
        should_skip: Callable[[DockedFile], bool] = lambda _f: False,
        held_for_writing: Callable[[set[tuple[int, int]]], set[tuple[int, int]]] = writers.held_for_writing,
    ) -> None:
        self.folders = [f.resolve() for f in folders]
        self.ignore = tuple(ignore)
        self.rescan_seconds = rescan_seconds
        self.skip_dirs = tuple(p.resolve() for p in skip_dirs)
        self.should_skip = should_skip
        self.held_for_writing = held_for_writing
        self.stabiliser = Stabiliser(stable_seconds)
        self._events: queue.SimpleQueue[tuple[str, Path]] = queue.SimpleQueue()
        self._observer: Observer | None = None  # type: ignore[valid-type]  # watchdog's Observer is a factory alias
        self._candidates: dict[Path, DockedFile] = {}
        self._next_scan = 0.0
        # What is not taken, reported once per path and reason: what the last full scan found.
        self._reported: set[tuple[str, str]] = set()

    def start(self) -> None:
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
        observer = Observer()
        for folder in self.folders:
            observer.schedule(_Events(self._events), os.fspath(folder), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None

    def queue_length(self) -> int:
        return len(self._candidates)

    def poll(self, now: float) -> list[DockedFile]:
        if now >= self._next_scan:
            self.rescan(now)
            self._next_scan = now + self.rescan_seconds
        self._drain(now)
        ready = []
        for path in list(self._candidates):
            current = self._folder_of(path)
            fresh = look(current, path, self.ignore) if current else None
            if fresh is None:
                self._candidates.pop(path, None)
                self.stabiliser.forget(path)
                continue
            self.stabiliser.observe(fresh, now)
            self._candidates[path] = fresh
            if self.stabiliser.is_stable(fresh, now):
                ready.append(fresh)
        held = self.held_for_writing({(f.dev, f.inode) for f in ready})
        taken = []
        for file in ready:
            if (file.dev, file.inode) in held:
                self.stabiliser.written(file.path)  # still being written: wait for the writer to close
                continue
            taken.append(file)
            self._candidates.pop(file.path, None)
            self.stabiliser.forget(file.path)
        return taken

    def rescan(self, now: float) -> None:
        seen: set[tuple[str, str]] = set()
        for folder in self.folders:
            for file in scan(folder, self.ignore, self.skip_dirs, on_skip=self._reporter(seen)):
                self._consider(file, now)
        self._reported = seen  # a path gone and back is reported again; memory stays what is there now

    def _reporter(self, seen: set[tuple[str, str]]) -> SkipReport:
        def report(path: str, why: str) -> None:
            if (path, why) not in self._reported and (path, why) not in seen:
                _log_skip(path, why)
            seen.add((path, why))

        return report

    def _consider(self, file: DockedFile, now: float) -> None:
        known = self._candidates.get(file.path)
        changed = known is None or (known.size, known.mtime_ns) != (file.size, file.mtime_ns)
        if changed and self.should_skip(file):
            return
        self._candidates[file.path] = file
        self.stabiliser.observe(file, now)

    def _drain(self, now: float) -> None:
        while True:
            try:
                kind, path = self._events.get_nowait()
            except queue.Empty:
                return
            folder = self._folder_of(path)
            if folder is None or any(path.is_relative_to(d) for d in self.skip_dirs):
                continue
            if kind == "rescan":
                if path.is_dir():
                    for found in scan(path, self.ignore, self.skip_dirs, on_skip=self._reporter(self._reported)):
                        self._consider(found, now)
                continue
            if kind == "deleted":
                self._candidates.pop(path, None)
                self.stabiliser.forget(path)
                continue
            file = look(folder, path, self.ignore)
            if file is None:
                continue
            self._consider(file, now)
            if kind == "closed":
                self.stabiliser.closed(path)
            elif kind == "modified":
                self.stabiliser.written(path)

    def _folder_of(self, path: Path) -> Path | None:
        for folder in self.folders:
            if path.is_relative_to(folder):
                return folder
        return None
