"""The background playback-proxy work, per recording: which need one, which station works on which, progress.

Operational state, not evidence: the proxy a job made is proven by its
DERIVED entry (``storage.derived``). A row is added for every recording once
it has been looked at (``not-needed`` when a browser plays the original), so
the scan reads only recordings added since. A job is claimed by one station
at a time with a conditional update, so several stations sharing one catalog
never transcode the same recording twice at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from storage.recordings import Recording
from storage.rows import from_row
from storage.schema import proxy_jobs, purges, recordings


class JobState(StrEnum):
    NOT_NEEDED = "not-needed"  # a browser plays the original
    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # after the allowed attempts; the error says why


@dataclass(frozen=True)
class ProxyJob:
    recording: str
    state: JobState
    reason: str
    station: str | None
    progress_ms: int
    duration_ms: int | None
    attempts: int
    updated_at: datetime
    error: str | None
    object_key: str | None
    version_id: str | None
    entry: int | None

    @property
    def percent(self) -> int | None:
        if self.state is JobState.DONE:
            return 100
        if not self.duration_ms:
            return None
        return max(0, min(99, self.progress_ms * 100 // self.duration_ms))

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "state": self.state.value,
            "reason": self.reason,
            "station": self.station,
            "progress_ms": self.progress_ms,
            "duration_ms": self.duration_ms,
            "percent": self.percent,
            "attempts": self.attempts,
            "updated_at": self.updated_at.isoformat(),
            "error": self.error,
            "entry": self.entry,
        }


def _job(row: Any) -> ProxyJob:
    return from_row(ProxyJob, row, state=JobState(row.state))


def unexamined(conn: Connection, *, limit: int) -> list[Recording]:
    """Recordings with no job row yet (not purged), oldest first."""
    query = (
        select(recordings)
        .outerjoin(proxy_jobs, proxy_jobs.c.recording == recordings.c.id)
        .outerjoin(purges, purges.c.recording == recordings.c.id)
        .where(proxy_jobs.c.recording.is_(None), purges.c.recording.is_(None))
        .order_by(recordings.c.ingest_entry)
        .limit(limit)
    )
    return [from_row(Recording, r) for r in conn.execute(query)]


def add_job(conn: Connection, recording: Recording, *, needed: str | None, now: datetime) -> None:
    """The row of one examined recording: ``needed`` says why a proxy is needed, None if not."""
    conn.execute(
        insert(proxy_jobs).values(
            recording=recording.id,
            state=(JobState.WAITING if needed else JobState.NOT_NEEDED).value,
            reason=needed or "a browser plays the original",
            station=None,
            progress_ms=0,
            duration_ms=recording.duration_ms,
            attempts=0,
            updated_at=now,
            error=None,
        )
    )


def job_of(conn: Connection, recording: str) -> ProxyJob | None:
    row = conn.execute(select(proxy_jobs).where(proxy_jobs.c.recording == recording)).first()
    return _job(row) if row else None


def jobs(conn: Connection, recordings_: Sequence[str] | None = None) -> dict[str, ProxyJob]:
    query = select(proxy_jobs)
    if recordings_ is not None:
        query = query.where(proxy_jobs.c.recording.in_(list(recordings_)))
    return {row.recording: _job(row) for row in conn.execute(query)}


def claim(conn: Connection, *, station: str, now: datetime, stale: timedelta) -> ProxyJob | None:
    """Take the oldest waiting job (or one whose station went silent for ``stale``) for ``station``."""
    candidates = conn.execute(
        select(proxy_jobs.c.recording, proxy_jobs.c.state, proxy_jobs.c.updated_at)
        .where(
            or_(
                proxy_jobs.c.state == JobState.WAITING.value,
                (proxy_jobs.c.state == JobState.RUNNING.value) & (proxy_jobs.c.updated_at < now - stale),
            )
        )
        .order_by(proxy_jobs.c.updated_at)
        .limit(5)
    ).all()
    for recording, state, updated_at in candidates:
        taken = conn.execute(
            update(proxy_jobs)
            .where(
                proxy_jobs.c.recording == recording,
                proxy_jobs.c.state == state,
                proxy_jobs.c.updated_at == updated_at,
            )
            .values(
                state=JobState.RUNNING.value,
                station=station,
                progress_ms=0,
                attempts=proxy_jobs.c.attempts + 1,
                updated_at=now,
            )
        )
        if taken.rowcount == 1:
            return job_of(conn, recording)
    return None


def release_running(conn: Connection, *, station: str, now: datetime) -> int:
    """At start: this station's jobs left running by a stop or crash wait again."""
    return int(
        conn.execute(
            update(proxy_jobs)
            .where(proxy_jobs.c.station == station, proxy_jobs.c.state == JobState.RUNNING.value)
            .values(state=JobState.WAITING.value, attempts=proxy_jobs.c.attempts - 1, updated_at=now)
        ).rowcount
    )


def set_job(conn: Connection, recording: str, *, now: datetime, **values: Any) -> None:
    """Record progress, the upload not yet logged, or the outcome of one job."""
    if "state" in values and isinstance(values["state"], JobState):
        values["state"] = values["state"].value
    conn.execute(update(proxy_jobs).where(proxy_jobs.c.recording == recording).values(updated_at=now, **values))


def uploads_in_progress(conn: Connection) -> set[tuple[str, str]]:
    """(object key, version id) uploaded by a job whose DERIVED entry is not written yet (verify explains them)."""
    query = select(proxy_jobs.c.object_key, proxy_jobs.c.version_id).where(
        proxy_jobs.c.object_key.is_not(None), proxy_jobs.c.entry.is_(None)
    )
    return {(k, v) for k, v in conn.execute(query) if k and v}
