"""Designations as evidence (作为证据使用, art. 27 第二十七条): which recording is evidence of which case, and when.

One row per designation; a release fills in who released it, who approved and
why, and the row stays. ``retention.evidence`` sets and lifts the legal hold
in the object store and writes the HOLD and RETENTION entries; the rows here
are written in the same transaction as those entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from cases.register import ensure_case
from storage.rows import from_row
from storage.schema import evidence


@dataclass(frozen=True)
class Designation:
    id: int
    recording: str
    case_number: str
    period: str  # "30" (years) or "permanent"
    retain_until: datetime
    added_at: datetime
    added_by: str
    hold_entry: int
    released_at: datetime | None
    released_by: str | None
    approved_by: str | None
    release_reason: str | None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "case_number": self.case_number,
            "period": self.period,
            "retain_until": self.retain_until.isoformat(),
            "added_at": self.added_at.isoformat(),
            "added_by": self.added_by,
            "active": self.active,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "released_by": self.released_by,
            "approved_by": self.approved_by,
            "release_reason": self.release_reason,
        }


def add_designation(
    conn: Connection,
    *,
    recording: str,
    case_number: str,
    period: str,
    retain_until: datetime,
    by: str,
    time: datetime,
    hold_entry: int,
) -> None:
    conn.execute(
        insert(evidence).values(
            recording=recording,
            case_number=case_number,
            period=period,
            retain_until=retain_until,
            added_at=time,
            added_by=by,
            hold_entry=hold_entry,
        )
    )
    ensure_case(conn, case_number, by=by, time=time)


def designations(conn: Connection, recording: str | None = None, *, active_only: bool = False) -> list[Designation]:
    query = select(evidence).order_by(evidence.c.id)
    if recording is not None:
        query = query.where(evidence.c.recording == recording)
    if active_only:
        query = query.where(evidence.c.released_at.is_(None))
    return [from_row(Designation, r) for r in conn.execute(query)]


def release_designations(
    conn: Connection,
    ids: Sequence[int],
    *,
    by: str,
    approved_by: str,
    reason: str,
    time: datetime,
    entry: int,
) -> None:
    conn.execute(
        update(evidence)
        .where(evidence.c.id.in_(list(ids)), evidence.c.released_at.is_(None))
        .values(released_at=time, released_by=by, approved_by=approved_by, release_reason=reason, release_entry=entry)
    )


def extend_designations(conn: Connection, recording: str, retain_until: datetime) -> None:
    """Record a longer retain-until on the recording's active designations (never a shorter one)."""
    conn.execute(
        update(evidence)
        .where(
            evidence.c.recording == recording,
            evidence.c.released_at.is_(None),
            evidence.c.retain_until < retain_until,
        )
        .values(retain_until=retain_until)
    )


def held_recordings(conn: Connection) -> set[str]:
    """Recordings with an active evidence designation (a legal hold is on)."""
    rows = conn.execute(select(evidence.c.recording).where(evidence.c.released_at.is_(None)).distinct())
    return {r for (r,) in rows}


def evidence_retain_until(conn: Connection) -> Mapping[str, datetime]:
    """The longest retain-until each recording got as evidence (released designations included)."""
    rows = conn.execute(select(evidence.c.recording, func.max(evidence.c.retain_until)).group_by(evidence.c.recording))
    return {row[0]: row[1] for row in rows}
