"""The case register: one row per case number (案号), opened when first used, closed with its deadlines.

Art. 26 (第二十六条): the case file (案卷) is due 30 days after the case's end
and goes to the archive by 31 March of the next year; ``retention.lifecycle``
works the dates out and writes the CASE entry, this module keeps the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from storage.errors import StorageError
from storage.rows import from_row
from storage.schema import cases


@dataclass(frozen=True)
class Case:
    case_number: str  # 案号
    opened_at: datetime
    closed_on: date | None
    case_file_due: date | None
    archive_due: date | None
    case_file_done_on: date | None
    archived_on: date | None

    @property
    def open(self) -> bool:
        return self.closed_on is None

    def as_json(self) -> dict[str, Any]:
        def day(value: date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "case_number": self.case_number,
            "open": self.open,
            "closed_on": day(self.closed_on),
            "case_file_due": day(self.case_file_due),
            "archive_due": day(self.archive_due),
            "case_file_done_on": day(self.case_file_done_on),
            "archived_on": day(self.archived_on),
        }


def ensure_case(conn: Connection, case_number: str, *, by: str, time: datetime) -> Case:
    """The case row, created (open) the first time a case number is used."""
    found = get_case(conn, case_number)
    if found is not None:
        return found
    conn.execute(insert(cases).values(case_number=case_number, opened_at=time, updated_at=time, updated_by=by))
    return Case(case_number, time, None, None, None, None, None)


def get_case(conn: Connection, case_number: str) -> Case | None:
    row = conn.execute(select(cases).where(cases.c.case_number == case_number)).first()
    return from_row(Case, row) if row else None


def all_cases(conn: Connection) -> list[Case]:
    return [from_row(Case, r) for r in conn.execute(select(cases).order_by(cases.c.case_number))]


def close_case(
    conn: Connection,
    case_number: str,
    *,
    closed_on: date,
    case_file_due: date,
    archive_due: date,
    by: str,
    time: datetime,
) -> Case:
    ensure_case(conn, case_number, by=by, time=time)
    conn.execute(
        update(cases)
        .where(cases.c.case_number == case_number)
        .values(
            closed_on=closed_on,
            case_file_due=case_file_due,
            archive_due=archive_due,
            updated_at=time,
            updated_by=by,
        )
    )
    found = get_case(conn, case_number)
    if found is None:
        raise StorageError(f"case {case_number} vanished while being closed (concurrent delete?)")
    return found


def mark_case_done(
    conn: Connection,
    case_number: str,
    *,
    case_file_done_on: date | None,
    archived_on: date | None,
    by: str,
    time: datetime,
) -> Case:
    values: dict[str, object] = {"updated_at": time, "updated_by": by}
    if case_file_done_on is not None:
        values["case_file_done_on"] = case_file_done_on
    if archived_on is not None:
        values["archived_on"] = archived_on
    conn.execute(update(cases).where(cases.c.case_number == case_number).values(**values))
    found = get_case(conn, case_number)
    if found is None:
        raise StorageError(f"no case {case_number} (案号) in the catalog")
    return found
