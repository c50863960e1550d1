"""Purge tombstones: a recording whose stored objects were (or are being) deleted after its retention ended.

``retention.purge`` decides and writes the PURGE entry; the row here says how
far the deletion got (``state``) and keeps what the recording was: its object
key and version, size, end, retention and every label it had. The
``recordings`` row stays (the INGEST entry still describes it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from storage.rows import from_row
from storage.schema import purges


class PurgeState(StrEnum):
    DELETING = "deleting"  # the PURGE entry is written; deleting the object versions
    REFUSED = "refused"  # the server refused a deletion; retried by the next purge
    PURGED = "purged"  # no version is left


@dataclass(frozen=True)
class Tombstone:
    recording: str
    object_key: str
    version_id: str
    size: int
    ended_at: datetime
    retain_until: datetime
    labels: list[dict[str, Any]]
    reason: str
    purge_entry: int
    decided_at: datetime
    state: PurgeState
    purged_at: datetime | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "object_key": self.object_key,
            "version_id": self.version_id,
            "size": self.size,
            "ended_at": self.ended_at.isoformat(),
            "retain_until": self.retain_until.isoformat(),
            "labels": self.labels,
            "reason": self.reason,
            "purge_entry": self.purge_entry,
            "decided_at": self.decided_at.isoformat(),
            "state": self.state.value,
            "purged_at": self.purged_at.isoformat() if self.purged_at else None,
            "error": self.error,
        }


def _tombstone(row: Any) -> Tombstone:
    return from_row(Tombstone, row, state=PurgeState(row.state))


def add_tombstone(conn: Connection, tombstone: Tombstone) -> None:
    values = tombstone.__dict__ | {"state": tombstone.state.value}
    conn.execute(insert(purges).values(**values))


def tombstones(conn: Connection, *, states: Iterable[PurgeState] | None = None) -> list[Tombstone]:
    query = select(purges).order_by(purges.c.decided_at, purges.c.recording)
    if states is not None:
        query = query.where(purges.c.state.in_([s.value for s in states]))
    return [_tombstone(r) for r in conn.execute(query)]


def tombstone(conn: Connection, recording: str) -> Tombstone | None:
    row = conn.execute(select(purges).where(purges.c.recording == recording)).first()
    return _tombstone(row) if row else None


def finish_tombstone(
    conn: Connection, recording: str, *, state: PurgeState, time: datetime | None, error: str | None
) -> None:
    conn.execute(
        update(purges).where(purges.c.recording == recording).values(state=state.value, purged_at=time, error=error)
    )
