"""The working-day calendar of mainland China, for the art. 26 deadline.

A day is a **working day** when it is a make-up working day (调休: a weekend day
the State Council turns into a working day), or when it is neither a weekend
day nor a day off under the State Council's yearly holiday notice
(国务院办公厅关于某年部分节假日安排的通知). Config overrides win over both.

Where the answer comes from, in order:

1. ``overrides`` from ``config.toml`` ``[calendar.overrides]``: ``{date: True}``
   is a working day, ``{date: False}`` a day off. For late or corrected notices.
2. The ``holidays`` package's China calendar: its days off (statutory holidays,
   days off in lieu, 调休 days off) and ``weekend_workdays`` (the make-up days).
3. Saturday and Sunday are days off.

**Published years.** The make-up days are not derivable from any rule; they
exist only once the State Council publishes the year's notice (usually in
November of the year before). A year counts as *published* when the
``holidays`` package has make-up working days for it (it carries the notices
from 2001 on), or when the operator lists it in ``calendar.published_years``
after entering that year's notice as overrides. For any other year the calendar
still answers, from weekends and the statutory holidays of 《全国年节及纪念日放假办法》
only (no 调休 assumed), but every answer that touches such a day is marked
``provisional`` and carries a warning naming the year and the config keys to
fill in. Nothing is silently guessed.

A year's last days can be changed by the *next* year's notice (e.g. the 2002
notice made 29 and 30 Dec 2001 working days). The notice comes out weeks before;
if the ``holidays`` package lags, enter those dates as overrides.

Everything here is pure: no clock, no I/O. The ``holidays`` package is asked
once per year and its answer kept as plain frozen data. It is imported on that
first question, not with this module: loading its country tables takes longer
than the rest of a command's start-up, and most commands (``evidock ingest``
among them) never ask for a working day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from retention.errors import CalendarError

if TYPE_CHECKING:
    from holidays import HolidayBase

__all__ = [
    "CalendarDay",
    "WorkingCalendar",
    "WorkingDay",
    "WorkingDayCount",
    "unpublished_year_warning",
]

MAX_DAYS_OFF_IN_A_ROW: Final = 366  # days; more means the overrides are broken
_WEEKEND: Final = frozenset({5, 6})  # date.weekday() of Saturday and Sunday


def unpublished_year_warning(year: int) -> str:
    """The warning attached to every answer that depends on a day of ``year``."""
    return (
        f"no published holiday schedule for {year}: {year} dates are provisional "
        f"(weekends and statutory holidays only, no 调休 make-up days assumed); "
        f"add the State Council's notice (国务院办公厅关于{year}年部分节假日安排的通知) "
        f'to config.toml as [calendar.overrides] "{year}-MM-DD" = "workday" | "holiday" '
        f"entries and list {year} in calendar.published_years"
    )


@dataclass(frozen=True)
class CalendarDay:
    """One date and whether it is a working day, with the reason."""

    day: dt.date
    working: bool
    reason: str  # e.g. "weekend", "春节", "调休 make-up working day", "config override"
    provisional: bool  # the year has no published schedule; see unpublished_year_warning


@dataclass(frozen=True)
class WorkingDay:
    """A working day found by counting, and how sure the count is."""

    day: dt.date
    provisional: bool  # some day counted over lies in a year without a published schedule
    warnings: tuple[str, ...]  # one per such year, in year order


@dataclass(frozen=True)
class WorkingDayCount:
    """A number of working days over a span, and how sure the count is."""

    days: int
    provisional: bool  # some day counted over lies in a year without a published schedule
    warnings: tuple[str, ...]  # one per such year, in year order


@dataclass(frozen=True)
class _YearSchedule:
    days_off: Mapping[dt.date, str]  # date -> holiday name (weekdays and weekend days)
    makeup_workdays: frozenset[dt.date]  # 调休 weekend days that are working days
    published: bool  # the holidays package carries the State Council notice for the year


def _package_schedule(year: int) -> _YearSchedule:
    """Ask the holidays package about one year and keep the answer as plain data."""
    from holidays.countries.china import China  # noqa: PLC0415 - on first use: see the module docstring

    def china(*, observed: bool) -> HolidayBase:
        # China.__init__ is declared with untyped *args/**kwargs; what it builds is
        # a fully typed HolidayBase.
        return China(years=year, language="zh_CN", observed=observed)  # type: ignore[no-untyped-call]

    if not China.start_year <= year <= China.end_year:
        return _YearSchedule(MappingProxyType({}), frozenset(), published=False)
    package = china(observed=True)
    makeup = frozenset(day for day in package.weekend_workdays if day.year == year)
    # No notice in the package: keep only the statutory days (no guessed days
    # off in lieu); the caller marks these answers provisional.
    source = package if makeup else china(observed=False)
    days_off = {day: name for day, name in source.items() if day.year == year}
    return _YearSchedule(MappingProxyType(days_off), makeup, published=bool(makeup))


class WorkingCalendar:
    """Working days of mainland China: the ``holidays`` package plus config overrides.

    ``overrides`` maps a date to ``True`` (working day) or ``False`` (day off);
    it comes from ``config.toml`` ``[calendar.overrides]`` and wins over the
    package. ``published_years`` (``calendar.published_years``) lists the years
    whose State Council notice the overrides carry in full, for years the
    package does not know yet. For such a year the base is weekends plus the
    statutory holidays; the overrides must add every other day off and every
    make-up working day of the notice.
    """

    def __init__(
        self,
        *,
        overrides: Mapping[dt.date, bool] | None = None,
        published_years: Iterable[int] = frozenset(),
    ) -> None:
        checked: dict[dt.date, bool] = {}
        for day, working in (overrides or {}).items():
            if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
                raise TypeError(f"calendar override keys must be dates, got {day!r}")
            if not isinstance(working, bool):
                raise TypeError(
                    f"calendar override for {day} must be True (working day) or False (day off), got {working!r}"
                )
            checked[day] = working
        self._overrides: Mapping[dt.date, bool] = MappingProxyType(checked)
        self._configured_years = frozenset(published_years)
        self._schedules: dict[int, _YearSchedule] = {}

    def __repr__(self) -> str:
        return (
            f"WorkingCalendar(overrides={len(self._overrides)} dates, published_years={sorted(self._configured_years)})"
        )

    def _schedule(self, year: int) -> _YearSchedule:
        # Filling the cache from several threads at once is harmless: every
        # thread computes the same immutable value.
        schedule = self._schedules.get(year)
        if schedule is None:
            schedule = self._schedules[year] = _package_schedule(year)
        return schedule

    def is_published(self, year: int) -> bool:
        """Whether ``year``'s holiday notice is known (package or config)."""
        return year in self._configured_years or self._schedule(year).published

    def day(self, day: dt.date) -> CalendarDay:
        """Classify one date: working or not, why, and whether provisionally."""
        provisional = not self.is_published(day.year)
        if day in self._overrides:
            working = self._overrides[day]
            reason = "config override: " + ("working day" if working else "day off")
            return CalendarDay(day, working, reason, provisional)
        schedule = self._schedule(day.year)
        if day in schedule.makeup_workdays:
            return CalendarDay(day, True, "调休 make-up working day", provisional)
        if day in schedule.days_off:
            return CalendarDay(day, False, schedule.days_off[day], provisional)
        if day.weekday() in _WEEKEND:
            return CalendarDay(day, False, "weekend", provisional)
        return CalendarDay(day, True, "working day", provisional)

    def is_working_day(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day (provisional for unpublished years)."""
        return self.day(day).working

    def warnings_for(self, years: Iterable[int]) -> tuple[str, ...]:
        """The warnings for those of ``years`` that have no published schedule."""
        return tuple(unpublished_year_warning(year) for year in sorted(set(years)) if not self.is_published(year))

    def add_working_days(self, start: dt.date, count: int) -> WorkingDay:
        """The ``count``-th working day after ``start`` (``start`` itself never counts).

        ``add_working_days(D, 2)`` is the art. 26 storage day for a recording
        made on D. Raises ``CalendarError`` if the overrides leave no working
        day for ``MAX_DAYS_OFF_IN_A_ROW`` days.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, got {count}")
        day, found, off_in_a_row = start, 0, 0
        years: set[int] = set()
        while found < count:
            day += dt.timedelta(days=1)
            years.add(day.year)
            if self.is_working_day(day):
                found, off_in_a_row = found + 1, 0
            else:
                off_in_a_row += 1
                if off_in_a_row >= MAX_DAYS_OFF_IN_A_ROW:
                    raise CalendarError(
                        f"no working day in the {MAX_DAYS_OFF_IN_A_ROW} days after "
                        f"{day - dt.timedelta(days=off_in_a_row)}: check config.toml "
                        f'[calendar.overrides] for days marked "holiday" by mistake'
                    )
        warnings = self.warnings_for(years)
        return WorkingDay(day, provisional=bool(warnings), warnings=warnings)

    def count_working_days(self, after: dt.date, through: dt.date) -> WorkingDayCount:
        """How many working days d satisfy ``after < d <= through`` (0 if none)."""
        span = (through - after).days
        days = [after + dt.timedelta(days=offset) for offset in range(1, span + 1)]
        warnings = self.warnings_for(day.year for day in days)
        working = sum(1 for day in days if self.is_working_day(day))
        return WorkingDayCount(working, provisional=bool(warnings), warnings=warnings)
