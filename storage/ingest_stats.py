"""Ingest figures read from the receipts table, so any process (the API beside the service, a
second station) sees the same numbers: queue, throughput, failures, the oldest unverified file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, or_, select

from storage.receipts import State
from storage.schema import receipts

WAITING = (State.RECEIVED, State.HASHED, State.STORED, State.VERIFIED, State.LOCKED, State.LOGGED)  # not yet released
UNVERIFIED = (State.RECEIVED, State.HASHED, State.STORED)  # the stored bytes are not yet re-read and compared
TAKEN_IN = (State.LOGGED, State.RELEASED)  # stored, verified and logged (and quarantined ones with a recording)


@dataclass(frozen=True)
class IngestStats:
    by_state: dict[str, int]
    queue: int  # receipts taken but not yet released (nor failed)
    failed: int  # receipts stopped for a person to look at
    quarantined: int  # receipts an unexpected error about that one file stopped (receipts.State.QUARANTINED)
    bytes_total: int  # bytes of every docked file stored, verified and logged (duplicates included)
    bytes_recent: int  # of those, bytes whose receipt reached that state within ``window``
    window: timedelta
    oldest_unverified: datetime | None  # when the oldest file not yet verified was received
    oldest_waiting: datetime | None  # when the oldest file taken but not yet released was received

    @property
    def bytes_per_second(self) -> float:
        return self.bytes_recent / self.window.total_seconds()

    def oldest_waiting_age(self, now: datetime) -> float:
        """Seconds since the oldest file taken but not yet released was received (0 when none waits)."""
        return max(0.0, (now - self.oldest_waiting).total_seconds()) if self.oldest_waiting else 0.0

    def oldest_unverified_age(self, now: datetime) -> float:
        """Seconds since the oldest unverified file was received (0 when every file is verified)."""
        return max(0.0, (now - self.oldest_unverified).total_seconds()) if self.oldest_unverified else 0.0


def ingest_stats(conn: Connection, *, now: datetime, window: timedelta = timedelta(minutes=5)) -> IngestStats:
    counted = conn.execute(select(receipts.c.state, func.count()).group_by(receipts.c.state))
    by_state = {str(state): int(n) for state, n in counted}
    taken = or_(
        receipts.c.state.in_([s.value for s in TAKEN_IN]),
        and_(receipts.c.state == State.QUARANTINED.value, receipts.c.recording.is_not(None)),
    )
    total = conn.execute(select(func.coalesce(func.sum(receipts.c.size), 0)).where(taken))
    recent = conn.execute(
        select(func.coalesce(func.sum(receipts.c.size), 0)).where(taken, receipts.c.updated_at >= now - window)
    )
    oldest = conn.execute(
        select(func.min(receipts.c.received_at)).where(receipts.c.state.in_([s.value for s in UNVERIFIED]))
    ).scalar()
    oldest_waiting = conn.execute(
        select(func.min(receipts.c.received_at)).where(receipts.c.state.in_([s.value for s in WAITING]))
    ).scalar()
    return IngestStats(
        by_state=by_state,
        queue=sum(by_state.get(s.value, 0) for s in WAITING),
        failed=by_state.get(State.FAILED.value, 0),
        quarantined=by_state.get(State.QUARANTINED.value, 0),
        bytes_total=int(total.scalar_one()),
        bytes_recent=int(recent.scalar_one()),
        window=window,
        oldest_unverified=oldest,
        oldest_waiting=oldest_waiting,
    )
