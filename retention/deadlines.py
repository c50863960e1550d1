"""Art. 26 (第二十六条) deadlines: storage within 2 working days, case file, archive.

Art. 26 requires that a recording be stored on dedicated storage and labelled
(案号, 当事人, 承办人) "within 2 working days" after it is made. evidock reads
that as: a recording that ends on local date D is due by the end (23:59:59
local) of the **2nd working day after D**. D itself never counts, whether or
not it is a working day. Example: ends 2026-09-30 → due 2026-10-09 23:59:59+08:00
(1 to 7 Oct are days off; 8 and 9 Oct are the two working days).

Times come in as aware datetimes (UTC in the catalog); the working-day
arithmetic happens on local dates in ``tz`` (default Asia/Shanghai), because
the regulation's days are the bureau's days: 2026-09-30T16:00:00Z is
2026-10-01 00:00 in Beijing.

Pure functions: the caller passes ``now``; nothing here reads a clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from retention.calendar import WorkingCalendar

__all__ = [
    "SHANGHAI",
    "Deadline",
    "Status",
    "StatusKind",
    "archive_due",
    "case_file_due",
    "deadline_status",
    "storage_deadline",
]

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
STORAGE_WORKING_DAYS: Final = 2  # working days after the recording's local end date (art. 26)
CASE_FILE_DAYS: Final = 30  # calendar days after the case ends (art. 26)
END_OF_DAY: Final = dt.time(23, 59, 59)


def _require_aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), got naive {value}")


def _to_second(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


@dataclass(frozen=True)
class Deadline:
    """When a recording must be stored and labelled (art. 26)."""

    due: dt.datetime  # 23:59:59 local time on the due day, aware (tz of the calculation)
    ended_on: dt.date  # local date D on which the recording ended
    provisional: bool  # the calculation crossed a year without a published holiday schedule
    warnings: tuple[str, ...]  # what to add to config.toml to make it final


def storage_deadline(
    ended_at: dt.datetime,
    calendar: WorkingCalendar,
    tz: ZoneInfo = SHANGHAI,
) -> Deadline:
    """The art. 26 storage-and-label deadline of a recording that ended at ``ended_at``.

    Due at 23:59:59 local time of the 2nd working day after the local date on
    which the recording ended. ``ended_at`` must be aware (UTC in practice).
    """
    _require_aware("ended_at", ended_at)
    ended_on = ended_at.astimezone(tz).date()
    due_day = calendar.add_working_days(ended_on, STORAGE_WORKING_DAYS)
    return Deadline(
        due=dt.datetime.combine(due_day.day, END_OF_DAY, tzinfo=tz),
        ended_on=ended_on,
        provisional=due_day.provisional,
        warnings=due_day.warnings,
    )


class StatusKind(StrEnum):
    """Where a deadline stands."""

    ON_TIME = "on_time"  # done, at or before the due second
    DUE_SOON = "due_soon"  # not done; at most `due_soon_working_days` working days left
    PENDING = "pending"  # not done; more working days left than that
    OVERDUE = "overdue"  # not done and the due second has passed
    LATE = "late"  # done, but after the due second


@dataclass(frozen=True)
class Status:
    """A deadline's standing at one moment, with the numbers to show.

    ``working_days_left`` (PENDING, DUE_SOON; else None): the working days
    after today's local date up to and including the due date. 0 means "due
    today"; on the recording's own date D it is 2.

    ``working_days_late`` (LATE, measured at ``done_at``; OVERDUE, measured at
    ``now``; else None): the smallest n ≥ 1 such that the moment falls on or
    before the n-th working day after the due date, i.e. the number of working
    days in (due date, W] where W is the first working day on or after the
    moment's local date, and at least 1. Done on the Saturday or the Monday
    after a Friday deadline: 1; on the Tuesday: 2. It is how many more working
    days the deadline would have needed.
    """

    kind: StatusKind
    working_days_left: int | None
    working_days_late: int | None
    provisional: bool  # a count crossed a year without a published holiday schedule
    warnings: tuple[str, ...]


def deadline_status(
    due: dt.datetime,
    done_at: dt.datetime | None,
    now: dt.datetime,
    calendar: WorkingCalendar,
    *,
    due_soon_working_days: int = 1,
    tz: ZoneInfo = SHANGHAI,
) -> Status:
    """Classify a deadline ``due`` given when it was met (``done_at``) and ``now``.

    Times are compared at one-second resolution: all of the due second counts
    as on time (due 23:59:59, done 23:59:59.9 is ON_TIME). Working days are
    counted on local dates in ``tz``. ``due_soon_working_days`` is the
    countdown at or below which an open deadline is DUE_SOON (default 1:
    the working day before the due date, the days off in between and the due
    date itself).
    """
    _require_aware("due", due)
    _require_aware("now", now)
    if done_at is not None:
        _require_aware("done_at", done_at)
    if due_soon_working_days < 0:
        raise ValueError(f"due_soon_working_days must be 0 or more, got {due_soon_working_days}")
    due_on = due.astimezone(tz).date()

    if done_at is not None:
        if _to_second(done_at) <= due:
            return Status(StatusKind.ON_TIME, None, None, provisional=False, warnings=())
        return _late(StatusKind.LATE, due_on, done_at.astimezone(tz).date(), calendar)

    if _to_second(now) > due:
        return _late(StatusKind.OVERDUE, due_on, now.astimezone(tz).date(), calendar)

    left = calendar.count_working_days(now.astimezone(tz).date(), due_on)
    kind = StatusKind.DUE_SOON if left.days <= due_soon_working_days else StatusKind.PENDING
    return Status(kind, left.days, None, left.provisional, left.warnings)


def _late(kind: StatusKind, due_on: dt.date, when: dt.date, calendar: WorkingCalendar) -> Status:
    first_working = calendar.add_working_days(when - dt.timedelta(days=1), 1)
    late = calendar.count_working_days(due_on, first_working.day)
    warnings = tuple(sorted(set(first_working.warnings) | set(late.warnings)))
    return Status(kind, None, max(1, late.days), bool(warnings), warnings)


def case_file_due(case_closed_on: dt.date) -> dt.date:
    """Last day to form the case file (案卷): 30 days after the case ends (art. 26).

    "自行政执法行为终结之日起30日内": as in 《民法典》 art. 201 the day the case
    ends is not counted, so day 30 is ``case_closed_on + 30 days``. No
    extension when that day is a holiday: the earlier date is the safe one.
    """
    return case_closed_on + dt.timedelta(days=CASE_FILE_DAYS)


def archive_due(case_closed_on: dt.date) -> dt.date:
    """Last day to hand a closed case to the archive: 31 March of the next year (art. 26)."""
    return dt.date(case_closed_on.year + 1, 3, 31)
