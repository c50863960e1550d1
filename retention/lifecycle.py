"""Case lifecycle (art. 26 第二十六条): case file within 30 days of the case's end, archive by 31 March.

``close`` records the local date the enforcement ended (执法行为终结之日) and the
two dates that follow from it (``retention.deadlines.case_file_due`` and
``archive_due``). A case stops counting as *open* once closed, which is what
lets the purge job consider its ordinary (non-evidence) recordings. ``done``
records that the case file (案卷) was formed or handed to the archive, which
ends the reminders. Each is a CASE entry, appended in the transaction that
changes the ``cases`` row, so the row is a checked projection of the log.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection

from cases.register import Case, close_case, get_case, mark_case_done
from chain.entries import EntryType
from retention.context import CustodyError, RetentionContext, checked_case_number, checked_text
from retention.deadlines import archive_due, case_file_due

__all__ = ["close", "done"]


def close(ctx: RetentionContext, case_number: str, *, closed_on: dt.date, by: str, now: dt.datetime) -> Case:
    """Close a case on local date ``closed_on``; a second close with another date corrects the first."""
    case_number = checked_case_number(case_number)
    by = checked_text("acting user", by)
    today = now.astimezone(ctx.tz).date()
    if closed_on > today:
        raise CustodyError(
            f"--date {closed_on} is in the future (today is {today} in {ctx.tz}); close a case once it ended"
        )
    dates = {"closed_on": closed_on, "case_file_due": case_file_due(closed_on), "archive_due": archive_due(closed_on)}
    with ctx.catalog.begin() as conn:
        _append(ctx, conn, case_number, "close", by=by, now=now, dates=dates)
        return close_case(conn, case_number, **dates, by=by, time=now)


def done(
    ctx: RetentionContext,
    case_number: str,
    *,
    case_file_on: dt.date | None,
    archived_on: dt.date | None,
    by: str,
    now: dt.datetime,
) -> Case:
    """Record that the case file was formed and/or the case handed to the archive."""
    case_number = checked_case_number(case_number)
    by = checked_text("acting user", by)
    if case_file_on is None and archived_on is None:
        raise CustodyError("give --case-file DATE and/or --archived DATE")
    with ctx.catalog.begin() as conn:
        found = get_case(conn, case_number)
        if found is None or found.closed_on is None:
            raise CustodyError(f"case {case_number} (案号) is not closed: run `evidock case close` first")
        for what, day in (("--case-file", case_file_on), ("--archived", archived_on)):
            if day is not None and day < found.closed_on:
                raise CustodyError(f"{what} {day} is before the case closed ({found.closed_on})")
        dates = {"case_file_done_on": case_file_on, "archived_on": archived_on}
        _append(ctx, conn, case_number, "done", by=by, now=now, dates={k: v for k, v in dates.items() if v})
        return mark_case_done(
            conn, case_number, case_file_done_on=case_file_on, archived_on=archived_on, by=by, time=now
        )


def _append(
    ctx: RetentionContext,
    conn: Connection,
    case_number: str,
    action: str,
    *,
    by: str,
    now: dt.datetime,
    dates: dict[str, dt.date],
) -> int:
    """The CASE entry of a change to a case: its dates as local ``YYYY-MM-DD``."""
    body = {"case_number": case_number, "action": action, "by": by} | {k: v.isoformat() for k, v in dates.items()}
    return ctx.journal.append(conn, EntryType.CASE, recording=None, body=body, time=now)
