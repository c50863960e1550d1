"""Art. 26 (第二十六条) standing per recording, and the compliance report built from it.

``deadlines`` gives every recording's due time and its storage and label
status (on time, due soon, pending, overdue, late with working days late);
``report`` groups them per device, officer and case for a month, adds the
open findings (art. 7, 18), the cases whose case file or archive handover
falls due, and the legal review and publication deadlines of the cases'
decisions (``retention.decision_dues``). Both read the catalog only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from cases.labels import first_labelled_at, latest_labels
from cases.register import Case, all_cases
from retention.context import CustodyError, RetentionContext
from retention.decision_dues import DecisionDue, decision_dues
from retention.tracking import ComplianceRow, Tracked, recording_deadline, recording_end, summarise
from storage.recording_facts import RecordingFacts, open_findings_by_recording, recording_facts

__all__ = ["CaseDue", "ComplianceReport", "case_dues", "deadlines", "month_range", "parse_month", "report"]


def parse_month(text: str) -> tuple[int, int]:
    """``YYYY-MM`` as (year, month)."""
    try:
        day = dt.date.fromisoformat(f"{text.strip()}-01")
    except ValueError as exc:
        raise CustodyError(f"--month {text!r} is not a month: use YYYY-MM, e.g. 2026-11") from exc
    return day.year, day.month


def month_range(ctx: RetentionContext, year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """The local month [first day 00:00, next month's first day 00:00) as aware UTC times."""
    first = dt.datetime(year, month, 1, tzinfo=ctx.tz)
    following = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=ctx.tz)
    return first.astimezone(dt.UTC), following.astimezone(dt.UTC)


def track(
    ctx: RetentionContext, conn: Connection, facts: Sequence[RecordingFacts], *, now: dt.datetime
) -> list[Tracked]:
    """Each recording's art. 26 standing at ``now``, with its current case and open findings."""
    ids = [f.id for f in facts]
    labelled = first_labelled_at(conn, ids)
    current = latest_labels(conn, ids)
    findings = open_findings_by_recording(conn)
    tracked = []
    for item in facts:
        deadline = recording_deadline(
            ended_at=recording_end(end_raw=item.end_raw, start_raw=item.start_raw, ingested_at=item.ingested_at),
            stored_at=item.ingested_at,
            labelled_at=labelled.get(item.id),
            now=now,
            calendar=ctx.calendar,
            due_soon_working_days=ctx.alerts.due_soon_working_days,
            tz=ctx.tz,
        )
        label = current.get(item.id)
        tracked.append(
            Tracked(
                recording=item.id,
                device=item.device,
                officer=item.officer,
                case_number=label.case_number if label else None,
                deadline=deadline,
                open_findings=frozenset(findings.get(item.id, ())),
            )
        )
    return tracked


def deadlines(
    ctx: RetentionContext,
    *,
    now: dt.datetime,
    device: str | None = None,
    officer: str | None = None,
    month: tuple[int, int] | None = None,
    unlabelled_only: bool = False,
) -> list[Tracked]:
    """Every (matching) recording's art. 26 deadline and status at ``now``; purged ones left out."""
    start, end = month_range(ctx, *month) if month else (None, None)
    with ctx.catalog.read() as conn:
        facts = recording_facts(
            conn,
            device=device,
            officer=officer,
            ended_from=start,
            ended_before=end,
            unlabelled_only=unlabelled_only,
            include_purged=False,
        )
        return track(ctx, conn, facts, now=now)


@dataclass(frozen=True)
class CaseDue:
    """A case file (案卷) or archive handover date of a closed case."""

    case_number: str
    what: str  # "case_file" or "archive"
    due: dt.date
    days_left: int  # calendar days from today; negative when overdue
    done_on: dt.date | None

    @property
    def status(self) -> str:
        if self.done_on is not None:
            return "on time" if self.done_on <= self.due else "late"
        return "overdue" if self.days_left < 0 else "due"

    def as_json(self) -> dict[str, Any]:
        return {
            "case_number": self.case_number,
            "what": self.what,
            "due": self.due.isoformat(),
            "days_left": self.days_left,
            "done_on": self.done_on.isoformat() if self.done_on else None,
            "status": self.status,
        }


def case_dues(
    closed: Iterable[Case],
    *,
    today: dt.date,
    due_from: dt.date | None = None,
    due_until: dt.date,
    open_only: bool = True,
) -> list[CaseDue]:
    """Case-file and archive dates of closed cases due up to ``due_until`` (and from ``due_from``).

    ``open_only``: leave out what was already done (alerts); the report keeps it.
    """
    found = []
    for case in closed:
        for what, due, done in (
            ("case_file", case.case_file_due, case.case_file_done_on),
            ("archive", case.archive_due, case.archived_on),
        ):
            if due is None or due > due_until or (due_from is not None and due < due_from):
                continue
            if open_only and done is not None:
                continue
            found.append(CaseDue(case.case_number, what, due, (due - today).days, done))
    return sorted(found, key=lambda d: (d.due, d.case_number, d.what))


@dataclass(frozen=True)
class ComplianceReport:
    month: str | None  # "2026-11", or None for every recording
    generated_at: dt.datetime
    by_device: list[ComplianceRow]
    by_officer: list[ComplianceRow]
    by_case: list[ComplianceRow]
    cases_due: list[CaseDue]
    warnings: tuple[str, ...] = field(default_factory=tuple)  # unpublished holiday schedules
    decisions_due: list[DecisionDue] = field(default_factory=list)  # legal reviews (art. 12), publications (art. 9)

    @property
    def rows(self) -> list[ComplianceRow]:
        return [*self.by_device, *self.by_officer, *self.by_case]

    def as_json(self, ctx: RetentionContext) -> dict[str, Any]:
        return {
            "month": self.month,
            "generated_at": self.generated_at.astimezone(ctx.tz).isoformat(),
            "by_device": [r.as_json() for r in self.by_device],
            "by_officer": [r.as_json() for r in self.by_officer],
            "by_case": [r.as_json() for r in self.by_case],
            "cases_due": [d.as_json() for d in self.cases_due],
            "decisions_due": [d.as_json() for d in self.decisions_due],
            "provisional": bool(self.warnings),
            "warnings": list(self.warnings),
        }


def report(ctx: RetentionContext, *, now: dt.datetime, month: tuple[int, int] | None = None) -> ComplianceReport:
    """The art. 26 figures of the recordings that ended in ``month`` (local), or of all of them.

    Cases due: with a month, every case-file or archive date in it (done or not);
    without, every one not done yet up to ``alerts.case_due_soon_days`` ahead.
    Review and publication deadlines: with a month, every one falling in it (met
    or not, on time or late); without, every one not met yet.
    """
    tracked = deadlines(ctx, now=now, month=month)
    today = now.astimezone(ctx.tz).date()
    with ctx.catalog.read() as conn:
        closed = [c for c in all_cases(conn) if not c.open]
        decisions = decision_dues(
            conn,
            ctx.calendar,
            tz=ctx.tz,
            today=today,
            due_soon_working_days=ctx.alerts.due_soon_working_days,
            open_only=month is None,
        )
    if month:
        first = dt.date(*month, 1)
        last = dt.date(month[0] + (month[1] == 12), month[1] % 12 + 1, 1) - dt.timedelta(days=1)
        due = case_dues(closed, today=today, due_from=first, due_until=last, open_only=False)
        decisions = [d for d in decisions if first <= d.due <= last]
    else:
        due = case_dues(closed, today=today, due_until=today + dt.timedelta(days=ctx.alerts.case_due_soon_days))
    warnings = tuple(sorted({w for t in tracked for w in t.deadline.warnings}))
    return ComplianceReport(
        month=f"{month[0]:04d}-{month[1]:02d}" if month else None,
        generated_at=now,
        by_device=summarise(tracked, "device", lambda t: t.device),
        by_officer=summarise(tracked, "officer", lambda t: t.officer),
        by_case=summarise(tracked, "case", lambda t: t.case_number),
        cases_due=due,
        warnings=warnings,
        decisions_due=decisions,
    )
