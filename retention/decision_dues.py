"""The deadlines of the decision rules on the working-day calendar: legal reviews and publications.

* A legal review is due 5 working days after its complete submission arrived
  (+5 once, 法制审核办法 art. 12); it is met by the opinion of that round.
* A final decision is due for publication 7 working days after its date
  (permits, penalties) or 20 (other results) (公示办法 art. 9); it is met by its
  publication or by a recorded exclusion (art. 10), which ends it.

Like the art. 26 deadlines these join the alerts (``retention.alerts``), the
compliance report (``retention.compliance``) and the dashboard. Counting is in
working days on local dates: "due soon" is at most
``alerts.due_soon_working_days`` working days left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from cases.decisions import all_decisions
from cases.publication import all_exclusions, all_publications
from cases.review_rows import CLOCK_STATES, all_reviews, opinions_of
from retention.calendar import WorkingCalendar

__all__ = ["DecisionDue", "decision_dues"]

REVIEW = "review"
PUBLICATION = "publication"


@dataclass(frozen=True)
class DecisionDue:
    """One review or publication deadline of a case and where it stands on ``today``."""

    case_number: str
    what: str  # "review" (法制审核, art. 12) or "publication" (公示, art. 9)
    reference: int | None  # the review's id (a review), None (a publication)
    due: dt.date
    done_on: dt.date | None  # the opinion or publication (or exclusion) date
    status: str  # "on time", "late", "overdue", "due soon", "due"
    working_days: int  # left (due, due soon), late (late, overdue), 0 on time

    def as_json(self) -> dict[str, Any]:
        return {
            "case_number": self.case_number,
            "what": self.what,
            "reference": self.reference,
            "due": self.due.isoformat(),
            "done_on": self.done_on.isoformat() if self.done_on else None,
            "status": self.status,
            "working_days": self.working_days,
        }


def _standing(
    calendar: WorkingCalendar, due: dt.date, done_on: dt.date | None, today: dt.date, soon: int
) -> tuple[str, int]:
    if done_on is not None:
        if done_on <= due:
            return "on time", 0
        return "late", calendar.count_working_days(due, done_on).days or 1
    if today > due:
        return "overdue", calendar.count_working_days(due, today).days or 1
    left = calendar.count_working_days(today, due).days
    return ("due soon" if left <= soon else "due"), left


def decision_dues(
    conn: Connection,
    calendar: WorkingCalendar,
    *,
    tz: dt.tzinfo,
    today: dt.date,
    due_soon_working_days: int,
    open_only: bool = True,
) -> list[DecisionDue]:
    """Every review and publication deadline (``open_only``: only those not met yet), by due date."""
    found: list[DecisionDue] = []

    def add(case_number: str, what: str, reference: int | None, due: dt.date, done_on: dt.date | None) -> None:
        if open_only and done_on is not None:
            return
        status, days = _standing(calendar, due, done_on, today, due_soon_working_days)
        found.append(DecisionDue(case_number, what, reference, due, done_on, status, days))

    for review in all_reviews(conn):
        opinions = opinions_of(conn, review.id)
        if review.state in CLOCK_STATES and review.due_on is not None:
            add(review.case_number, REVIEW, review.id, review.due_on, None)
        for opinion in opinions:  # each opinion met the deadline of its round
            add(review.case_number, REVIEW, review.id, opinion.due_on, opinion.given_at.astimezone(tz).date())
    published = _first_dates((p.case_number, p.published_at) for p in all_publications(conn))
    excluded = _first_dates((e.case_number, e.excluded_at) for e in all_exclusions(conn))
    for decision in all_decisions(conn):
        if decision.publish_due_on is None:
            continue
        moment = published.get(decision.case_number) or excluded.get(decision.case_number)
        done_on = moment.astimezone(tz).date() if moment else None
        add(decision.case_number, PUBLICATION, None, decision.publish_due_on, done_on)
    return sorted(found, key=lambda d: (d.due, d.case_number, d.what))


def _first_dates(pairs: Iterable[tuple[str, dt.datetime]]) -> dict[str, dt.datetime]:
    first: dict[str, dt.datetime] = {}
    for case_number, moment in pairs:
        if case_number not in first or moment < first[case_number]:
            first[case_number] = moment
    return first
