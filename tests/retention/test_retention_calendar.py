"""WorkingCalendar: the 2026 State Council notice, unpublished years, overrides."""

from __future__ import annotations

import datetime as dt

import pytest

from chain.errors import EvidockError
from retention.calendar import (
    MAX_DAYS_OFF_IN_A_ROW,
    WorkingCalendar,
    unpublished_year_warning,
)
from retention.errors import CalendarError

D = dt.date
CALENDAR = WorkingCalendar()


def _days(first: dt.date, last: dt.date) -> set[dt.date]:
    return {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}


# 国务院办公厅关于2026年部分节假日安排的通知 as published in November 2025.
NOTICE_2026_DAYS_OFF = (
    _days(D(2026, 1, 1), D(2026, 1, 3))  # 元旦
    | _days(D(2026, 2, 15), D(2026, 2, 23))  # 春节
    | _days(D(2026, 4, 4), D(2026, 4, 6))  # 清明节
    | _days(D(2026, 5, 1), D(2026, 5, 5))  # 劳动节
    | _days(D(2026, 6, 19), D(2026, 6, 21))  # 端午节
    | _days(D(2026, 9, 25), D(2026, 9, 27))  # 中秋节
    | _days(D(2026, 10, 1), D(2026, 10, 7))  # 国庆节
)
NOTICE_2026_MAKEUP_DAYS = {
    D(2026, 1, 4),  # Sunday
    D(2026, 2, 14),  # Saturday
    D(2026, 2, 28),  # Saturday
    D(2026, 5, 9),  # Saturday
    D(2026, 9, 20),  # Sunday
    D(2026, 10, 10),  # Saturday
}

WARNING_2027 = (
    "no published holiday schedule for 2027: 2027 dates are provisional "
    "(weekends and statutory holidays only, no 调休 make-up days assumed); "
    "add the State Council's notice (国务院办公厅关于2027年部分节假日安排的通知) "
    'to config.toml as [calendar.overrides] "2027-MM-DD" = "workday" | "holiday" '
    "entries and list 2027 in calendar.published_years"
)


def test_every_day_of_2026_matches_the_state_council_notice() -> None:
    wrong = []
    for day in sorted(_days(D(2026, 1, 1), D(2026, 12, 31))):
        expected = day in NOTICE_2026_MAKEUP_DAYS or (day.weekday() < 5 and day not in NOTICE_2026_DAYS_OFF)
        answer = CALENDAR.day(day)
        if answer.working != expected or answer.provisional:
            wrong.append(answer)
    assert wrong == []


@pytest.mark.parametrize("day", sorted(NOTICE_2026_MAKEUP_DAYS))
def test_2026_makeup_days_are_weekend_working_days(day: dt.date) -> None:
    answer = CALENDAR.day(day)
    assert day.weekday() >= 5
    assert answer.working
    assert answer.reason == "调休 make-up working day"


def test_reasons_name_the_holiday_or_the_weekend() -> None:
    assert CALENDAR.day(D(2026, 2, 17)).reason == "春节"
    # The package's zh_CN label uses full-width brackets, as Chinese text does.
    assert CALENDAR.day(D(2026, 2, 20)).reason == "休息日（由 2026-02-14 调休）"  # noqa: RUF001
    assert CALENDAR.day(D(2026, 3, 7)).reason == "weekend"
    assert CALENDAR.day(D(2026, 3, 9)).reason == "working day"


def test_published_years_come_from_the_package_and_config() -> None:
    assert CALENDAR.is_published(2025)
    assert CALENDAR.is_published(2026)
    assert not CALENDAR.is_published(2027)
    assert WorkingCalendar(published_years=frozenset({2027})).is_published(2027)


def test_unpublished_year_is_answered_provisionally_with_a_warning() -> None:
    new_year = CALENDAR.day(D(2027, 1, 1))
    assert not new_year.working
    assert new_year.provisional
    assert unpublished_year_warning(2027) == WARNING_2027
    assert CALENDAR.warnings_for([2026, 2027, 2027]) == (WARNING_2027,)


def test_unpublished_year_assumes_no_days_off_in_lieu() -> None:
    # 2027-05-01/02 fall on Saturday/Sunday; the package would guess 3 and 4
    # May off in lieu. Without the notice only the statutory days count.
    assert CALENDAR.day(D(2027, 5, 3)).working
    assert CALENDAR.day(D(2027, 5, 3)).provisional


def test_years_beyond_the_package_fall_back_to_weekends_provisionally() -> None:
    new_year = CALENDAR.day(D(2201, 1, 1))  # a Thursday; no holiday data at all
    assert (new_year.working, new_year.reason, new_year.provisional) == (
        True,
        "working day",
        True,
    )
    saturday = CALENDAR.day(D(2201, 1, 3))
    assert (saturday.working, saturday.reason, saturday.provisional) == (False, "weekend", True)


def test_overrides_win_over_the_package() -> None:
    calendar = WorkingCalendar(overrides={D(2026, 3, 7): True, D(2026, 3, 9): False, D(2026, 2, 14): False})
    assert calendar.day(D(2026, 3, 7)).working  # a Saturday made a working day
    assert calendar.day(D(2026, 3, 7)).reason == "config override: working day"
    assert not calendar.day(D(2026, 3, 9)).working  # a Monday made a day off
    assert calendar.day(D(2026, 3, 9)).reason == "config override: day off"
    assert not calendar.day(D(2026, 2, 14)).working  # a make-up day withdrawn


def test_overrides_alone_do_not_publish_a_year() -> None:
    partial = WorkingCalendar(overrides={D(2027, 2, 20): True})
    assert partial.day(D(2027, 2, 20)).working
    assert partial.day(D(2027, 2, 20)).provisional
    complete = WorkingCalendar(overrides={D(2027, 2, 20): True}, published_years=frozenset({2027}))
    assert not complete.day(D(2027, 2, 20)).provisional
    assert complete.warnings_for([2027]) == ()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            dt.datetime(2026, 3, 9),
            True,
            "calendar override keys must be dates, got datetime.datetime(2026, 3, 9, 0, 0)",
        ),
        ("2026-03-09", True, "calendar override keys must be dates, got '2026-03-09'"),
        (
            D(2026, 3, 9),
            "holiday",
            "calendar override for 2026-03-09 must be True (working day) or False (day off), got 'holiday'",
        ),
    ],
)
def test_malformed_overrides_are_refused(key: object, value: object, message: str) -> None:
    with pytest.raises(TypeError) as caught:
        WorkingCalendar(overrides={key: value})  # type: ignore[dict-item]  # misuse on purpose
    assert str(caught.value) == message


def test_add_working_days_skips_the_national_day_week() -> None:
    found = CALENDAR.add_working_days(D(2026, 9, 30), 2)
    assert found.day == D(2026, 10, 9)
    assert not found.provisional
    assert found.warnings == ()


def test_add_working_days_into_an_unpublished_year_is_provisional() -> None:
    found = CALENDAR.add_working_days(D(2026, 12, 30), 2)
    assert found.day == D(2027, 1, 4)
    assert found.provisional
    assert found.warnings == (WARNING_2027,)


def test_add_working_days_needs_a_positive_count() -> None:
    with pytest.raises(ValueError, match="count must be at least 1, got 0"):
        CALENDAR.add_working_days(D(2026, 1, 5), 0)


def test_overrides_that_leave_no_working_day_are_a_calendar_error() -> None:
    start = D(2026, 3, 1)
    all_off = dict.fromkeys(_days(start, start + dt.timedelta(days=400)), False)
    calendar = WorkingCalendar(overrides=all_off)
    with pytest.raises(CalendarError) as caught:
        calendar.add_working_days(start, 1)
    assert isinstance(caught.value, EvidockError)
    assert str(caught.value) == (
        f"no working day in the {MAX_DAYS_OFF_IN_A_ROW} days after 2026-03-01: check "
        'config.toml [calendar.overrides] for days marked "holiday" by mistake'
    )


def test_count_working_days_is_half_open() -> None:
    assert CALENDAR.count_working_days(D(2026, 9, 30), D(2026, 10, 9)).days == 2
    assert CALENDAR.count_working_days(D(2026, 9, 30), D(2026, 9, 30)).days == 0
    assert CALENDAR.count_working_days(D(2026, 10, 9), D(2026, 9, 30)).days == 0
    # 14 to 28 Feb 2026: only the make-up Saturday at the end, and 24 to 27 Feb.
    assert CALENDAR.count_working_days(D(2026, 2, 14), D(2026, 2, 28)).days == 5


def test_count_working_days_warns_about_each_unpublished_year_once() -> None:
    counted = CALENDAR.count_working_days(D(2026, 12, 1), D(2028, 1, 31))
    assert counted.provisional
    assert counted.warnings == (WARNING_2027, unpublished_year_warning(2028))
