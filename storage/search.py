"""Finding recordings by their facts, labels, custody and findings: the one search the CLI and the API share.

Only the catalog is read here; a person's search is registered by the access
gate (``Gate.record_listing``) by whoever calls this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Connection, func, select

from storage import recordings as recordings_db
from storage.schema import evidence, findings, labels, purges, recordings

MAX_LIMIT = 100_000


class CustodyStatus(StrEnum):
    """Where a recording stands in custody (a filter of the search)."""

    LABELLED = "labelled"  # has a label (案号, 当事人, 承办人)
    UNLABELLED = "unlabelled"  # no label yet (art. 26 wants one within 2 working days)
    EVIDENCE = "evidence"  # an active evidence designation: legal hold on
    PURGED = "purged"  # deleted after its retention ended; the catalog keeps a tombstone


@dataclass(frozen=True)
class RecordingFilter:
    device: str | None = None
    officer: str | None = None
    case_number: str | None = None  # 案号 of the current label
    since: datetime | None = None  # started at or after (device clock, UTC)
    until: datetime | None = None  # started before
    status: CustodyStatus | None = None
    has_findings: bool | None = None  # True: a finding not withdrawn is about it; False: none is
    open_findings: bool | None = None  # True: an open finding (not yet explained) is about it; False: none is
    limit: int = 1000

    def as_query(self) -> dict[str, str]:
        """The filter as the ACCESS entry of the search records it (only what was given; times in UTC).

        Times are converted to UTC so that the same search reads the same in
        the log whether it came with the station's offset (the API, the web
        pages) or was already in UTC (the CLI).
        """
        values = {
            "device": self.device,
            "officer": self.officer,
            "case": self.case_number,
            "since": self.since.astimezone(UTC).isoformat() if self.since else None,
            "until": self.until.astimezone(UTC).isoformat() if self.until else None,
            "status": self.status.value if self.status else None,
            "has_findings": None if self.has_findings is None else str(self.has_findings).lower(),
            "open_findings": None if self.open_findings is None else str(self.open_findings).lower(),
            "limit": str(self.limit),
        }
        return {k: v for k, v in values.items() if v is not None}


def _with_findings(conn: Connection, *, only_open: bool) -> set[str]:
    status = findings.c.status == "open" if only_open else findings.c.status != "withdrawn"
    rows = conn.execute(select(findings.c.recordings).where(status))
    return {str(r) for (about,) in rows for r in about or ()}


def _conditions(conn: Connection, wanted: RecordingFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if wanted.case_number is not None:
        newest = select(func.max(labels.c.entry)).group_by(labels.c.recording).scalar_subquery()
        current = select(labels.c.recording).where(
            labels.c.entry.in_(newest), labels.c.case_number == wanted.case_number
        )
        found.append(recordings.c.id.in_(current))
    status = wanted.status
    if status is CustodyStatus.LABELLED:
        found.append(recordings.c.id.in_(select(labels.c.recording)))
    elif status is CustodyStatus.UNLABELLED:
        found.append(recordings.c.id.not_in(select(labels.c.recording)))
    elif status is CustodyStatus.EVIDENCE:
        found.append(recordings.c.id.in_(select(evidence.c.recording).where(evidence.c.released_at.is_(None))))
    elif status is CustodyStatus.PURGED:
        found.append(recordings.c.id.in_(select(purges.c.recording)))
    for wanted_with, only_open in ((wanted.has_findings, False), (wanted.open_findings, True)):
        if wanted_with is not None:
            about = sorted(_with_findings(conn, only_open=only_open))
            found.append(recordings.c.id.in_(about) if wanted_with else recordings.c.id.not_in(about))
    return found


def search(conn: Connection, wanted: RecordingFilter) -> list[recordings_db.Recording]:
    """The recordings matching every given filter, ordered by device and start, at most ``limit``."""
    return recordings_db.listing(
        conn,
        device=wanted.device,
        officer=wanted.officer,
        since=wanted.since,
        until=wanted.until,
        limit=min(max(wanted.limit, 1), MAX_LIMIT),
        where=_conditions(conn, wanted),
    )
