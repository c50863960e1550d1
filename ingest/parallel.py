"""Several docked files in flight at once: a bounded pool of ingest threads over one pipeline.

When a shift ends, a dock's devices land their files together. One file at a
time leaves the machine half idle: hashing and verifying are the station's CPU,
the upload is mostly the store's. With a few files in flight one hashes or
verifies while another uploads. The bound (``watch.parallel_files``) keeps
memory and connections in check: each file holds at most ``s3.parallel_uploads``
parts in memory.

Nothing about crash safety changes: each file still moves one committed state
at a time (``ingest.pipeline``), and the pipeline keeps one catalog writer at a
time and one run per content. What this adds is only that one path is never in
flight twice (a rescan finds a file again while it is being ingested).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ingest.pipeline import Outcome, Pipeline
from ingest.watcher import DockedFile
from storage.receipts import Receipt


@dataclass(frozen=True)
class Finished:
    """One run's end: its outcome (None: the file was already finished), or the error that stopped it."""

    path: Path
    outcome: Outcome | None
    error: Exception | None = None


class IngestPool:
    """Runs ``Pipeline.ingest`` / ``Pipeline.run`` on up to ``workers`` files at once, in the order given."""

    def __init__(self, pipeline: Pipeline, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"an ingest pool needs at least one worker, not {workers}")
        self.pipeline = pipeline
        self.workers = workers
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="ingest")
        self._lock = threading.Lock()
        self._busy: dict[Path, Future[Outcome | None]] = {}  # queued or running, by dock path
        self._finished: list[Finished] = []

    def submit(self, file: DockedFile) -> bool:
        """Queue ``file``; False (and nothing queued) if its path is queued or in flight already."""
        return self._submit(file.path, lambda: self.pipeline.ingest(file))

    def resume(self, receipts: Iterable[Receipt]) -> int:
        """Queue the unfinished receipts whose path is not in flight; how many were queued.

        Each runs from its state when it starts (it may have moved on since it was listed).
        """
        queued = 0
        for receipt in receipts:
            queued += self._submit(receipt.path, partial(self.pipeline.resume_one, receipt))
        return queued

    def busy(self, path: Path) -> bool:
        with self._lock:
            return path in self._busy

    def idle(self) -> bool:
        with self._lock:
            return not self._busy

    def in_flight(self) -> int:
        with self._lock:
            return len(self._busy)

    def take_finished(self) -> list[Finished]:
        """The runs that ended since the last call, in the order they ended."""
        with self._lock:
            taken, self._finished = self._finished, []
        return taken

    def cancel_queued(self) -> int:
        """Drop the files not yet started (after a storage error: a rescan finds them again); how many."""
        with self._lock:
            queued = [(path, f) for path, f in self._busy.items() if f.cancel()]
            for path, _ in queued:
                del self._busy[path]
        return len(queued)

    def close(self) -> None:
        """Let the files in flight finish their run; the queued ones are dropped (found again at the next start)."""
        self.cancel_queued()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _submit(self, path: Path, work: Callable[[], Outcome | None]) -> bool:
        with self._lock:
            if path in self._busy:
                return False
            future = self._executor.submit(work)
            self._busy[path] = future
        future.add_done_callback(lambda f: self._done(path, f))
        return True

    def _done(self, path: Path, future: Future[Outcome | None]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None and not isinstance(error, Exception):  # a KeyboardInterrupt in a worker, say
            error = RuntimeError(f"the ingest thread ended by {error!r}")
        finished = Finished(path, None if error else future.result(), error)
        with self._lock:
            if self._busy.get(path) is future:
                del self._busy[path]
            self._finished.append(finished)
