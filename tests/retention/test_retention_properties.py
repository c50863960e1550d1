"""Properties of the deadline, status and retention arithmetic, over generated inputs."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from hypothesis import given
from hypothesis import strategies as st

from retention.calendar import WorkingCalendar
from retention.deadlines import SHANGHAI, StatusKind, deadline_status, storage_deadline
from retention.policy import (
    MINIMUM_DAYS_FLOOR,
    PERMANENT,
    Category,
    RetentionPolicy,
    add_months,
    extend,
    retain_until,
)

UTC = dt.UTC
CALENDAR = WorkingCalendar()  # shared, so each year is asked of the package once

# Recordings from 2001 (the first notice the package carries) to 2030, so
# published and unpublished years both appear.
ended_times = st.datetimes(
    min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2030, 12, 31), timezones=st.just(UTC)
)
moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(UTC))
overrides = st.dictionaries(
    st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2026, 12, 31)),
    st.booleans(),
    max_size=40,
)


def _check_deadline(ended_at: dt.datetime, calendar: WorkingCalendar) -> None:
    deadline = storage_deadline(ended_at, calendar)
    ended_on = ended_at.astimezone(SHANGHAI).date()
    due_on = deadline.due.date()
    assert deadline.ended_on == ended_on
    assert deadline.due > ended_at
    assert deadline.due.tzinfo is SHANGHAI
    assert deadline.due.time() == dt.time(23, 59, 59)
    assert due_on >= ended_on + dt.timedelta(days=2)
    assert calendar.is_working_day(due_on)
    assert calendar.count_working_days(ended_on, due_on).days == 2  # exactly the 2nd
    years = {ended_on.year + offset for offset in range(due_on.year - ended_on.year + 1)}
    touched = {year for year in years if dt.date(year, 12, 31) > ended_on and dt.date(year, 1, 1) <= due_on}
    assert deadline.provisional == any(not calendar.is_published(year) for year in touched)


@given(ended_times)
def test_the_deadline_is_the_end_of_the_second_working_day_after(ended_at: dt.datetime) -> None:
    _check_deadline(ended_at, CALENDAR)


@given(
    st.datetimes(
        min_value=dt.datetime(2025, 12, 1),
        max_value=dt.datetime(2026, 12, 31),
        timezones=st.just(UTC),
    ),
    overrides,
)
def test_the_deadline_properties_hold_under_any_overrides(
    ended_at: dt.datetime, given_overrides: dict[dt.date, bool]
) -> None:
    _check_deadline(ended_at, WorkingCalendar(overrides=given_overrides))


@given(
    ended_times,
    st.one_of(
        st.none(),
        st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=40)),
    ),
    st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=40)),
)
def test_status_kinds_agree_with_the_due_second(
    ended_at: dt.datetime, done_after: dt.timedelta | None, now_after: dt.timedelta
) -> None:
    due = storage_deadline(ended_at, CALENDAR).due
    now = ended_at + now_after
    done_at = None if done_after is None else ended_at + done_after
    status = deadline_status(due, done_at, now, CALENDAR)
    if done_at is not None:
        on_time = done_at.replace(microsecond=0) <= due
        assert status.kind is (StatusKind.ON_TIME if on_time else StatusKind.LATE)
        assert (status.working_days_late is None) == on_time
    elif now.replace(microsecond=0) > due:
        assert status.kind is StatusKind.OVERDUE
    else:
        assert status.kind in {StatusKind.PENDING, StatusKind.DUE_SOON}
        assert status.working_days_left is not None
        assert 0 <= status.working_days_left <= 2
        assert (status.kind is StatusKind.DUE_SOON) == (status.working_days_left <= 1)
    if status.working_days_late is not None:
        assert status.working_days_late >= 1


@given(moments, st.integers(min_value=-1200, max_value=1200))
def test_add_months_moves_the_month_and_clamps_only_down(moment: dt.datetime, months: int) -> None:
    result = add_months(moment, months)
    assert (result.year * 12 + result.month) - (moment.year * 12 + moment.month) == months
    assert result.day <= moment.day
    assert result.time() == moment.time()
    assert result.tzinfo is moment.tzinfo
    if result.day < moment.day:  # clamped: the last day of the month
        assert (result + dt.timedelta(days=1)).month != result.month


@given(moments, moments, st.integers(min_value=0, max_value=600))
def test_add_months_is_monotonic(first: dt.datetime, second: dt.datetime, months: int) -> None:
    early, late = sorted((first, second))
    assert add_months(early, months) <= add_months(late, months)


@given(
    moments,
    st.integers(min_value=MINIMUM_DAYS_FLOOR, max_value=5000),
    st.one_of(st.integers(min_value=1, max_value=100), st.just(PERMANENT)),
    st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=20000)),
)
def test_retention_covers_three_months_and_the_minimum(
    ended_at: dt.datetime,
    minimum_days: int,
    evidence_years: int | Literal["permanent"],
    age: dt.timedelta,
) -> None:
    policy = RetentionPolicy(minimum_days=minimum_days, evidence_years=evidence_years)
    now = ended_at + age
    ordinary = retain_until(ended_at, policy, Category.ORDINARY, now=now)
    evidence = retain_until(ended_at, policy, Category.EVIDENCE, now=now)
    # Beijing kept daylight-saving time 1986-1991: calendar months are wall-clock
    # months there, while minimum_days is absolute time.
    expected = max(ended_at + dt.timedelta(days=minimum_days), add_months(ended_at.astimezone(SHANGHAI), 3))
    assert expected <= ordinary < expected + dt.timedelta(seconds=1)
    assert ordinary.microsecond == 0
    assert evidence >= ordinary
    if evidence_years == PERMANENT:
        assert evidence >= now + dt.timedelta(days=policy.permanent_window_days)


@given(moments, moments)
def test_extend_never_shortens(current: dt.datetime, proposed: dt.datetime) -> None:
    result = extend(current, proposed)
    assert result >= current
    assert result in {current, proposed}
