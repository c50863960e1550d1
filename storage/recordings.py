"""Recordings in the catalog: one row per distinct original (its SHA-256 is its id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, select

from storage.errors import InvalidReference, NotFound
from storage.rows import from_row
from storage.schema import recordings

MIN_PREFIX = 6


@dataclass(frozen=True)
class Recording:
    id: str  # SHA-256 hex of the original bytes
    size: int
    object_key: str
    version_id: str
    retain_until: datetime
    original_name: str
    station: str
    device: str | None
    officer: str | None
    seq: int | None
    start_raw: datetime | None
    end_raw: datetime | None
    duration_ms: int | None
    kind: str
    media: dict[str, Any]
    notes: list[str]
    ingested_at: datetime
    ingest_entry: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": self.size,
            "object_key": self.object_key,
            "version_id": self.version_id,
            "retain_until": self.retain_until.isoformat(),
            "original_name": self.original_name,
            "station": self.station,
            "device": self.device,
            "officer": self.officer,
            "seq": self.seq,
            "start_raw": self.start_raw.isoformat() if self.start_raw else None,
            "end_raw": self.end_raw.isoformat() if self.end_raw else None,
            "duration_ms": self.duration_ms,
            "kind": self.kind,
            "media": self.media,
            "notes": self.notes,
            "ingested_at": self.ingested_at.isoformat(),
            "ingest_entry": self.ingest_entry,
        }


def _to_recording(row: Any) -> Recording:
    return from_row(Recording, row)


def insert_recording(conn: Connection, recording: Recording) -> None:
    conn.execute(insert(recordings).values(**recording.__dict__))


def get(conn: Connection, recording_id: str) -> Recording | None:
    row = conn.execute(select(recordings).where(recordings.c.id == recording_id)).first()
    return _to_recording(row) if row else None


def resolve(conn: Connection, prefix: str) -> Recording:
    """A recording by its id or a unique prefix of at least 6 hex digits (like git)."""
    text = prefix.strip().lower()
    if len(text) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in text):
        raise InvalidReference(
            f"recording id {prefix[:80]!r} is not valid: give the SHA-256 (or its first {MIN_PREFIX}+ hex digits)"
        )
    rows = conn.execute(select(recordings).where(recordings.c.id.startswith(text, autoescape=True)).limit(2)).all()
    if not rows:
        raise NotFound(f"no recording {text}")
    if len(rows) > 1:
        raise InvalidReference(f"recording id {text} is ambiguous: give more digits")
    return _to_recording(rows[0])


def listing(
    conn: Connection,
    *,
    device: str | None = None,
    officer: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
    where: Sequence[ColumnElement[bool]] = (),
) -> list[Recording]:
    """Recordings ordered by device and start; ``where`` adds conditions (see storage.search)."""
    query = select(recordings).where(*where)
    if device:
        query = query.where(recordings.c.device == device)
    if officer:
        query = query.where(recordings.c.officer == officer)
    if since:
        query = query.where(recordings.c.start_raw >= since)
    if until:
        query = query.where(recordings.c.start_raw < until)
    # NULLS LAST spelled out: SQLite puts NULLs first, PostgreSQL last, and with a limit that changes the rows.
    order = (recordings.c.device.nulls_last(), recordings.c.start_raw.nulls_last(), recordings.c.id)
    query = query.order_by(*order).limit(limit)
    return [_to_recording(r) for r in conn.execute(query)]
