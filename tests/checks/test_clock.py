"""The clock model: offsets, linear drift between reports, nearest report outside, time mismatch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest.clock import (
    ClockBasis,
    ClockModel,
    ClockReport,
    Correction,
    Segment,
    time_mismatch_finding,
    to_ms,
)
from ingest.findings import FindingKind

from .builders import local, report

S = timedelta(seconds=1)


def test_offset_is_device_minus_station() -> None:
    assert report("D", local(8), 90).offset == 90 * S
    assert report("D", local(8), -2.5).offset == -2.5 * S


def test_device_without_reports_is_uncorrected() -> None:
    assert ClockModel([]).correct("D", local(9)) == Correction(local(9), timedelta(0), ClockBasis.NO_REPORT)


def test_between_two_reports_the_offset_is_interpolated_in_device_time() -> None:
    # +2 s at 08:00, +12 s at 18:00 (station times); device times are 08:00:02 and 18:00:12.
    model = ClockModel([report("D", local(8), 2), report("D", local(18), 12)])
    halfway = local(13, 0, 7)  # device time halfway between the two device times
    assert model.correct("D", halfway) == Correction(local(13), 7 * S, ClockBasis.INTERPOLATED)
    # At a report, the corrected time is the station's reading exactly.
    assert model.correct("D", local(8, 0, 2)) == Correction(local(8), 2 * S, ClockBasis.INTERPOLATED)
    assert model.correct("D", local(18, 0, 12)) == Correction(local(18), 12 * S, ClockBasis.INTERPOLATED)


def test_outside_the_reports_the_nearest_offset_is_used_unchanged() -> None:
    model = ClockModel([report("D", local(8), 2), report("D", local(18), 12)])
    assert model.correct("D", local(6)) == Correction(local(6) - 2 * S, 2 * S, ClockBasis.BEFORE_FIRST)
    later = local(9, day=22)
    assert model.correct("D", later) == Correction(later - 12 * S, 12 * S, ClockBasis.AFTER_LAST)


def test_reports_of_other_devices_do_not_count() -> None:
    model = ClockModel([report("A", local(8), 30)])
    assert model.correct("B", local(9)).basis is ClockBasis.NO_REPORT
    assert model.reports("B") == ()


def test_repeated_report_is_kept_once() -> None:
    first = report("D", local(8), 2)
    model = ClockModel([first, first, report("D", local(18), 4)])
    assert model.reports("D") == (first, report("D", local(18), 4))


def test_segment_is_corrected_by_its_start() -> None:
    model = ClockModel([report("D", local(18), 90)])
    corrected = model.correct_segment(Segment("r1", "D", 1, local(9, 1, 30), 600_000))
    assert (corrected.start, corrected.end) == (local(9), local(9, 10))
    assert (corrected.offset, corrected.basis) == (90 * S, ClockBasis.BEFORE_FIRST)
    assert (corrected.recording, corrected.device, corrected.seq, corrected.duration_ms) == (
        "r1",
        "D",
        1,
        600_000,
    )


def test_naive_times_are_misuse() -> None:
    naive = datetime(2026, 11, 20, 8)  # naive on purpose
    with pytest.raises(ValueError, match="aware"):
        ClockReport("D", naive, local(8))
    with pytest.raises(ValueError, match="aware"):
        Segment("r", "D", None, naive, 1000)
    with pytest.raises(ValueError, match="aware"):
        ClockModel([]).correct("D", naive)
    with pytest.raises(ValueError, match=">= 0"):
        Segment("r", "D", None, local(8), -1)


def test_to_ms_rounds_half_up_exactly() -> None:
    assert to_ms(timedelta(microseconds=1500)) == 2
    assert to_ms(timedelta(microseconds=1499)) == 1
    assert to_ms(timedelta(days=-1)) == -86_400_000


def test_embedded_time_eight_hours_off_is_a_time_zone_mistake() -> None:
    name_start = datetime(2026, 11, 20, 0, 6, 19, tzinfo=UTC)  # 08:06:19 Shanghai, from the name
    embedded = datetime(2026, 11, 20, 8, 6, 19, tzinfo=UTC)  # local time written as if UTC
    finding = time_mismatch_finding("r1", device="D", name_start=name_start, embedded_start=embedded)
    assert finding is not None
    assert finding.kind is FindingKind.TIME_MISMATCH
    assert (finding.detail["difference_ms"], finding.detail["whole_hours"]) == (8 * 3_600_000, 8)
    assert "+8 小时整" in finding.message_zh
    assert "第七条" in finding.message_zh


def test_embedded_time_within_resolution_is_no_finding() -> None:
    start = datetime(2026, 11, 20, 0, 6, 19, tzinfo=UTC)
    assert time_mismatch_finding("r1", device="D", name_start=start, embedded_start=start + 2 * S) is None
    odd = time_mismatch_finding("r1", device="D", name_start=start, embedded_start=start - 100 * S)
    assert odd is not None
    assert (odd.detail["difference_ms"], odd.detail["whole_hours"]) == (-100_000, 0)
