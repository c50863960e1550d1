"""The working-day deadlines of the two sibling rules, counted on the calendar passed in.

* Legal review (法制审核办法 art. 12): within 5 working days of receiving the
  complete submission (完备的送审材料); once, with the head's approval, 5
  more for a complex case.
* Publication (公示办法 art. 9): permits and penalties within 7 working days
  of the decision, other results within 20.

As everywhere in evidock the day the period starts from does not count
(a review received complete on 2026-09-30 is due 2026-10-13: 1-7 October are
days off and 10 October a make-up working day). ``WorkingDays`` is
``retention.calendar.WorkingCalendar.add_working_days`` reduced to its date:
this package sits below the calendar and is handed it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Final

from cases.terms import ActionType

WorkingDays = Callable[[date, int], date]
"""The ``n``-th working day after a date (the date itself never counts)."""

REVIEW_WORKING_DAYS: Final = 5  # art. 12
EXTENSION_WORKING_DAYS: Final = 5  # art. 12, once, with the head's approval
PUBLISH_WORKING_DAYS: Final = 7  # 公示办法 art. 9: 行政许可, 行政处罚
PUBLISH_WORKING_DAYS_OTHER: Final = 20  # 公示办法 art. 9: other results

_SEVEN_DAYS = frozenset({ActionType.PERMIT, ActionType.PENALTY})


def review_due(received_on: date, working_days: WorkingDays) -> date:
    """The last day of a review whose complete submission arrived on ``received_on`` (local date)."""
    return working_days(received_on, REVIEW_WORKING_DAYS)


def extended_due(due_on: date, working_days: WorkingDays) -> date:
    """The last day after the one extension of art. 12."""
    return working_days(due_on, EXTENSION_WORKING_DAYS)


def publication_days(action: ActionType) -> int:
    return PUBLISH_WORKING_DAYS if action in _SEVEN_DAYS else PUBLISH_WORKING_DAYS_OTHER


def publish_due(action: ActionType, decided_on: date, working_days: WorkingDays) -> date:
    """The last day to publish a decision of kind ``action`` made on ``decided_on`` (公示办法 art. 9)."""
    return working_days(decided_on, publication_days(action))
