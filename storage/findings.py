"""Findings and clock reports in the catalog.

A finding is stored once per ``key`` (see ``ingest.findings.Finding.key``):
re-running the checks updates its facts instead of adding a second one, and
its explanation stays attached. Status: ``open`` until explained;
``explained`` once an EXPLANATION entry is logged; ``withdrawn`` when a later
fact makes it untrue (e.g. the "missing" segment was docked after all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from storage.rows import from_row, inserted_id
from storage.schema import clock_reports, findings


@dataclass(frozen=True)
class StoredFinding:
    id: int
    key: str
    kind: str
    device: str | None
    recordings: list[str]
    start: datetime | None
    end: datetime | None
    length_ms: int | None
    facts: dict[str, Any]
    status: str
    found_at: datetime
    entry: int
    explained_at: datetime | None
    explained_by: str | None
    explanation: str | None
    voice_in: str | None
    voice_at_ms: int | None
    explanation_entry: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            **self.facts,
            "id": self.id,
            "status": self.status,
            "found_at": self.found_at.isoformat(),
            "entry": self.entry,
            "explained_at": self.explained_at.isoformat() if self.explained_at else None,
            "explained_by": self.explained_by,
            "explanation": self.explanation,
            "voice_in": self.voice_in,
            "voice_at_ms": self.voice_at_ms,
            "explanation_entry": self.explanation_entry,
        }


def _row(row: Any) -> StoredFinding:
    return from_row(StoredFinding, row)


def by_key(conn: Connection, keys: Iterable[str]) -> dict[str, StoredFinding]:
    wanted = list(keys)
    if not wanted:
        return {}
    return {r.key: r for r in map(_row, conn.execute(select(findings).where(findings.c.key.in_(wanted))))}


def get(conn: Connection, finding_id: int) -> StoredFinding | None:
    row = conn.execute(select(findings).where(findings.c.id == finding_id)).first()
    return _row(row) if row else None


def add(conn: Connection, values: Mapping[str, Any]) -> int:
    return inserted_id(conn.execute(insert(findings).values(**values)))


def change(conn: Connection, finding_id: int, **values: Any) -> None:
    conn.execute(update(findings).where(findings.c.id == finding_id).values(**values))


def about_device(conn: Connection, device: str, kinds: Iterable[str]) -> list[StoredFinding]:
    rows = conn.execute(select(findings).where(findings.c.device == device, findings.c.kind.in_(list(kinds))))
    return [_row(r) for r in rows]


def listing(
    conn: Connection,
    *,
    open_only: bool = False,
    device: str | None = None,
    since: datetime | None = None,
    recording: str | None = None,
    limit: int = 1000,
) -> list[StoredFinding]:
    wanted = findings.c.status == "open" if open_only else findings.c.status != "withdrawn"
    query = select(findings).where(wanted)
    if device:
        query = query.where(findings.c.device == device)
    if since:
        query = query.where((findings.c.start >= since) | (findings.c.start.is_(None) & (findings.c.found_at >= since)))
    rows = [_row(r) for r in conn.execute(query.order_by(findings.c.start.nulls_last(), findings.c.id).limit(limit))]
    if recording:
        rows = [r for r in rows if recording in r.recordings]
    return rows


def add_clock_report(conn: Connection, **values: Any) -> int:
    return inserted_id(conn.execute(insert(clock_reports).values(**values)))


def clock_reports_of(conn: Connection, device: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(clock_reports).where(clock_reports.c.device == device).order_by(clock_reports.c.id))
    return [dict(r._mapping) for r in rows]


def count_open(conn: Connection) -> int:
    """Findings not yet explained (nor withdrawn)."""
    return int(conn.execute(select(func.count()).select_from(findings).where(findings.c.status == "open")).scalar_one())
