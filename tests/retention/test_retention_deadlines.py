"""Art. 26 deadlines across the 2026 holidays, their status, case file and archive dates."""

from __future__ import annotations

import datetime as dt

import pytest

from retention.calendar import WorkingCalendar, unpublished_year_warning
from retention.deadlines import (
    SHANGHAI,
    StatusKind,
    archive_due,
    case_file_due,
    deadline_status,
    storage_deadline,
)

CALENDAR = WorkingCalendar()
UTC = dt.UTC


def utc(text: str) -> dt.datetime:
    """An aware UTC datetime from ``2026-09-30T16:00:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str) -> dt.datetime:
    """An aware Beijing-time datetime from ``2026-10-09T23:59:59``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("ended_at", "due_on"),
    [
        # New Year 2026: 1-3 Jan off, Sunday 4 Jan a make-up working day.
        ("2025-12-31T02:00:00", "2026-01-05"),
        ("2026-01-02T02:00:00", "2026-01-05"),  # ends on a holiday
        ("2026-01-03T15:59:59", "2026-01-05"),  # 23:59:59 local on Saturday 3 Jan
        ("2026-01-03T16:00:00", "2026-01-06"),  # 00:00 local on the make-up Sunday
        ("2026-01-04T02:00:00", "2026-01-06"),  # ends on the make-up Sunday
        # Spring Festival 2026: 15-23 Feb off; Saturdays 14 and 28 Feb working.
        ("2026-02-12T02:00:00", "2026-02-14"),  # due on the make-up Saturday
        ("2026-02-13T02:00:00", "2026-02-24"),  # 14 Feb, then 24 Feb
        ("2026-02-14T02:00:00", "2026-02-25"),  # ends on the make-up Saturday
        ("2026-02-17T02:00:00", "2026-02-25"),  # ends during the holiday
        ("2026-02-26T02:00:00", "2026-02-28"),  # due on the make-up Saturday
        ("2026-02-27T02:00:00", "2026-03-02"),
        # Labour Day 2026: 1-5 May off, Saturday 9 May working.
        ("2026-04-29T02:00:00", "2026-05-06"),
        ("2026-05-03T02:00:00", "2026-05-07"),  # ends on a holiday
        ("2026-05-07T02:00:00", "2026-05-09"),  # due on the make-up Saturday
        ("2026-05-09T02:00:00", "2026-05-12"),  # ends on the make-up Saturday
        # Mid-Autumn and National Day 2026: 25-27 Sep and 1-7 Oct off;
        # Sunday 20 Sep and Saturday 10 Oct working.
        ("2026-09-18T02:00:00", "2026-09-21"),  # make-up Sunday counts
        ("2026-09-19T02:00:00", "2026-09-21"),
        ("2026-09-24T02:00:00", "2026-09-29"),  # Mid-Autumn Friday skipped
        ("2026-09-29T15:59:59", "2026-10-08"),  # 23:59:59 local on 29 Sep
        ("2026-09-29T16:00:00", "2026-10-09"),  # 00:00 local on 30 Sep
        ("2026-09-30T03:00:00", "2026-10-09"),  # the design's example
        ("2026-09-30T16:00:00", "2026-10-09"),  # 00:00 local on 1 Oct, a holiday
        ("2026-10-08T02:00:00", "2026-10-10"),  # due on the make-up Saturday
        ("2026-10-10T02:00:00", "2026-10-13"),  # ends on the make-up Saturday
    ],
)
def test_storage_deadline_across_the_2026_holidays(ended_at: str, due_on: str) -> None:
    deadline = storage_deadline(utc(ended_at), CALENDAR)
    assert deadline.due == local(f"{due_on}T23:59:59")
    assert deadline.due.isoformat() == f"{due_on}T23:59:59+08:00"
    assert deadline.due.tzinfo is SHANGHAI
    assert not deadline.provisional
    assert deadline.warnings == ()


def test_the_local_date_not_the_utc_date_is_d() -> None:
    deadline = storage_deadline(utc("2026-09-30T16:00:00"), CALENDAR)
    assert deadline.ended_on == dt.date(2026, 10, 1)


def test_any_aware_timezone_gives_the_same_deadline() -> None:
    in_utc = storage_deadline(utc("2026-09-29T16:00:00"), CALENDAR)
    in_beijing = storage_deadline(local("2026-09-30T00:00:00"), CALENDAR)
    assert in_utc == in_beijing


def test_a_naive_end_time_is_refused() -> None:
    with pytest.raises(ValueError, match="ended_at must be a timezone-aware datetime"):
        storage_deadline(dt.datetime(2026, 9, 30, 12), CALENDAR)


def test_a_deadline_in_an_unpublished_year_is_provisional() -> None:
    deadline = storage_deadline(utc("2026-12-30T02:00:00"), CALENDAR)
    assert deadline.due == local("2027-01-04T23:59:59")
    assert deadline.provisional
    assert deadline.warnings == (unpublished_year_warning(2027),)


def test_a_recording_ending_on_the_last_day_of_a_published_year_is_not_provisional() -> None:
    # D = 31 Dec 2025 does not count; only 2026 days are looked at.
    assert not storage_deadline(utc("2025-12-31T02:00:00"), CALENDAR).provisional


def test_overrides_change_the_deadline() -> None:
    # Say a correction made Thursday 8 Oct 2026 a day off: 9 Oct and the
    # make-up Saturday 10 Oct become the two working days.
    corrected = WorkingCalendar(overrides={dt.date(2026, 10, 8): False})
    deadline = storage_deadline(utc("2026-09-30T03:00:00"), corrected)
    assert deadline.due == local("2026-10-10T23:59:59")


def test_entering_the_next_years_notice_makes_the_deadline_final() -> None:
    # A hypothetical 2027 notice making Saturday 2 Jan 2027 a make-up working day.
    with_notice = WorkingCalendar(overrides={dt.date(2027, 1, 2): True}, published_years=frozenset({2027}))
    guessed = storage_deadline(utc("2026-12-31T02:00:00"), CALENDAR)
    final = storage_deadline(utc("2026-12-31T02:00:00"), with_notice)
    assert (guessed.due, guessed.provisional) == (local("2027-01-05T23:59:59"), True)
    assert (final.due, final.provisional, final.warnings) == (
        local("2027-01-04T23:59:59"),
        False,
        (),
    )


# Status of the design's example: ends 30 Sep 2026, due 9 Oct 2026 23:59:59.
DUE = local("2026-10-09T23:59:59")


@pytest.mark.parametrize(
    ("done_at", "kind", "late"),
    [
        ("2026-09-30T18:00:00", StatusKind.ON_TIME, None),
        ("2026-10-09T23:59:59", StatusKind.ON_TIME, None),
        ("2026-10-09T23:59:59.900000", StatusKind.ON_TIME, None),  # within the due second
        ("2026-10-10T00:00:00", StatusKind.LATE, 1),  # the make-up Saturday
        ("2026-10-11T09:00:00", StatusKind.LATE, 2),  # Sunday: Saturday 10 Oct was missed too
        ("2026-10-12T09:00:00", StatusKind.LATE, 2),
        ("2026-10-13T09:00:00", StatusKind.LATE, 3),
    ],
)
def test_status_when_done(done_at: str, kind: StatusKind, late: int | None) -> None:
    status = deadline_status(DUE, local(done_at), local("2026-10-20T12:00:00"), CALENDAR)
    assert status.kind is kind
    assert status.working_days_late == late
    assert status.working_days_left is None
    assert not status.provisional


@pytest.mark.parametrize(
    ("done_at", "late"),
    [
        ("2026-10-17T10:00:00", 1),  # Saturday after a Friday deadline
        ("2026-10-18T10:00:00", 1),  # Sunday
        ("2026-10-19T10:00:00", 1),  # Monday
        ("2026-10-20T10:00:00", 2),  # Tuesday
    ],
)
def test_working_days_late_after_a_friday_deadline(done_at: str, late: int) -> None:
    friday = local("2026-10-16T23:59:59")
    status = deadline_status(friday, local(done_at), local("2026-10-30T12:00:00"), CALENDAR)
    assert (status.kind, status.working_days_late) == (StatusKind.LATE, late)


@pytest.mark.parametrize(
    ("now", "kind", "left", "late"),
    [
        ("2026-09-30T18:00:00", StatusKind.PENDING, 2, None),  # on D itself
        ("2026-10-03T10:00:00", StatusKind.PENDING, 2, None),  # during the holiday
        ("2026-10-07T23:00:00", StatusKind.PENDING, 2, None),
        ("2026-10-08T10:00:00", StatusKind.DUE_SOON, 1, None),
        ("2026-10-09T10:00:00", StatusKind.DUE_SOON, 0, None),
        ("2026-10-09T23:59:59.500000", StatusKind.DUE_SOON, 0, None),
        ("2026-10-10T00:00:00", StatusKind.OVERDUE, None, 1),
        ("2026-10-12T10:00:00", StatusKind.OVERDUE, None, 2),
    ],
)
def test_status_while_open(now: str, kind: StatusKind, left: int | None, late: int | None) -> None:
    status = deadline_status(DUE, None, local(now), CALENDAR)
    assert (status.kind, status.working_days_left, status.working_days_late) == (kind, left, late)


def test_due_soon_threshold_is_configurable() -> None:
    on_holiday = local("2026-10-03T10:00:00")
    wider = deadline_status(DUE, None, on_holiday, CALENDAR, due_soon_working_days=2)
    assert wider.kind is StatusKind.DUE_SOON
    narrow = deadline_status(DUE, None, local("2026-10-08T10:00:00"), CALENDAR, due_soon_working_days=0)
    assert narrow.kind is StatusKind.PENDING


def test_status_reads_a_utc_due_in_local_days() -> None:
    due_in_utc = DUE.astimezone(UTC)  # 2026-10-09T15:59:59Z
    status = deadline_status(due_in_utc, None, local("2026-10-08T10:00:00"), CALENDAR)
    assert (status.kind, status.working_days_left) == (StatusKind.DUE_SOON, 1)


def test_status_counting_into_an_unpublished_year_is_provisional() -> None:
    due = local("2027-01-04T23:59:59")
    status = deadline_status(due, None, local("2026-12-31T10:00:00"), CALENDAR)
    assert (status.kind, status.working_days_left) == (StatusKind.DUE_SOON, 1)
    assert status.provisional
    assert status.warnings == (unpublished_year_warning(2027),)


def test_status_refuses_naive_times_and_negative_thresholds() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware datetime"):
        deadline_status(DUE, None, dt.datetime(2026, 10, 8), CALENDAR)
    with pytest.raises(ValueError, match="done_at must be a timezone-aware datetime"):
        deadline_status(DUE, dt.datetime(2026, 10, 8), local("2026-10-08T10:00:00"), CALENDAR)
    with pytest.raises(ValueError, match="due_soon_working_days must be 0 or more, got -1"):
        deadline_status(DUE, None, local("2026-10-08T10:00:00"), CALENDAR, due_soon_working_days=-1)


@pytest.mark.parametrize(
    ("closed_on", "case_file", "archive"),
    [
        (dt.date(2026, 1, 31), dt.date(2026, 3, 2), dt.date(2027, 3, 31)),
        (dt.date(2026, 12, 15), dt.date(2027, 1, 14), dt.date(2027, 3, 31)),
        (dt.date(2027, 12, 31), dt.date(2028, 1, 30), dt.date(2028, 3, 31)),
        (dt.date(2028, 1, 31), dt.date(2028, 3, 1), dt.date(2029, 3, 31)),  # leap February
    ],
)
def test_case_file_and_archive_dates(closed_on: dt.date, case_file: dt.date, archive: dt.date) -> None:
    assert case_file_due(closed_on) == case_file
    assert archive_due(closed_on) == archive
