"""Playback proxies, made in the background after ingest: never on the ingest path, at low priority.

The service runs :meth:`ProxyWorker.run` from its scheduler (``evidock.runner``),
in a thread of its own beside the ingest loop. Each run:

1. *examines* the recordings added since (``storage.proxy_jobs.unexamined``):
   a browser plays the original (``not-needed``), or a proxy is ``waiting``,
   with the reason (``derived.playable``);
2. *works*: claims one waiting job at a time (a conditional update, so two
   stations never take the same one), makes the proxy (``derived.making``)
   with ffmpeg under ``nice``, and writes its progress every few seconds
   for the pages. While the dock is busy (``pause_while``: files arriving or
   being ingested) no job starts and a running ffmpeg is held (SIGSTOP). A
   failure is retried on later runs up to ``max_attempts``, then the job is
   ``failed`` with ffmpeg's reason; a stop of the service ends ffmpeg and the
   job waits for the next start.

Ingest never waits for any of this: an ingest is one file's transaction, and
the proxy job only reads what ingest committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection

from derived.ffmpeg import FfmpegError, Stopped
from derived.making import Maker, Recipe
from derived.playable import proxy_needed
from derived.recipes import EncodeOptions, proxy
from storage import proxy_jobs as jobs_db
from storage import recordings as recordings_db
from storage.derived import DerivedKind
from storage.errors import NotFound, StorageError
from storage.objects import StoredVersion
from storage.proxy_jobs import JobState, ProxyJob

log = logging.getLogger(__name__)


@dataclass
class ProxyWorker:
    maker: Maker
    station: str
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    batch: int = 200  # recordings examined per query
    stale: timedelta = timedelta(minutes=30)  # a running job silent this long is taken over
    max_attempts: int = 3
    progress_seconds: float = 2.0  # how often progress is written
    pause_while: Callable[[], bool] = lambda: False  # the dock is busy: ingest comes first (the service sets it)

    def start(self) -> int:
        """At service start: this station's jobs cut short by a stop or crash wait again."""
        with self.maker.catalog.begin() as conn:
            return jobs_db.release_running(conn, station=self.station, now=self.maker.clock())

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Examine new recordings, then make every waiting proxy; returns how many were made."""
        self.examine()
        made = 0
        while not should_stop() and not self.pause_while():
            with self.maker.catalog.begin() as conn:
                job = jobs_db.claim(conn, station=self.station, now=self.maker.clock(), stale=self.stale)
            if job is None:
                break
            if self._work(job, should_stop):
                made += 1
        return made

    def examine(self) -> int:
        """Give every recording not looked at yet its job row; returns how many need a proxy."""
        needing = 0
        while True:
            with self.maker.catalog.begin() as conn:
                found = jobs_db.unexamined(conn, limit=self.batch)
                for recording in found:
                    needed = proxy_needed(recording.kind, recording.original_name, recording.media)
                    jobs_db.add_job(conn, recording, needed=needed, now=self.maker.clock())
                    needing += needed is not None
            if len(found) < self.batch:
                return needing

    def _work(self, job: ProxyJob, should_stop: Callable[[], bool]) -> bool:
        rid = job.recording
        last = [0.0]

        def progress(ms: int) -> None:
            if time.monotonic() - last[0] >= self.progress_seconds:
                last[0] = time.monotonic()
                with self.maker.catalog.begin() as conn:
                    jobs_db.set_job(conn, rid, now=self.maker.clock(), progress_ms=ms)

        def alive() -> None:  # while ffmpeg is held for ingest: the job is not abandoned
            with self.maker.catalog.begin() as conn:
                jobs_db.set_job(conn, rid, now=self.maker.clock())

        def uploaded(version: StoredVersion) -> None:
            with self.maker.catalog.begin() as conn:
                jobs_db.set_job(
                    conn, rid, now=self.maker.clock(), object_key=version.key, version_id=version.version_id
                )

        def done(conn: Connection, entry: int) -> None:
            jobs_db.set_job(conn, rid, now=self.maker.clock(), state=JobState.DONE, entry=entry, error=None)

        recipe = Recipe(DerivedKind.PROXY, tuple(proxy(self.encode)), requested_by=self.station)
        try:
            with self.maker.catalog.read() as conn:
                recording = recordings_db.resolve(conn, rid)
            self.maker.make(recording, recipe, progress=progress, should_stop=should_stop, paused=self.pause_while,
                            heartbeat=alive, uploaded=uploaded, also=done)  # fmt: skip
        except Stopped:
            self._set(rid, state=JobState.WAITING, attempts=job.attempts - 1, error=None)
            return False
        except NotFound as exc:
            self._set(rid, state=JobState.FAILED, error=str(exc))
            return False
        except (FfmpegError, StorageError) as exc:
            final = job.attempts >= self.max_attempts
            log.log(
                logging.ERROR if final else logging.WARNING,
                "playback proxy of %s failed (attempt %d of %d): %s",
                rid[:12],
                job.attempts,
                self.max_attempts,
                exc,
            )
            self._set(rid, state=JobState.FAILED if final else JobState.WAITING, error=str(exc)[:4000])
            if isinstance(exc, StorageError) and not final:
                raise  # the store or catalog is down: this run ends, the scheduler tries again later
            return False
        return True

    def _set(self, recording: str, **values: object) -> None:
        with self.maker.catalog.begin() as conn:
            jobs_db.set_job(conn, recording, now=self.maker.clock(), **values)
