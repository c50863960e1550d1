"""The timeline picture's data: marks follow the bars when a clock report arrives after the finding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.clock import ClockReport, Segment
from ingest.timeline import Mark, build

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
DAY = datetime(2026, 11, 20, tzinfo=SHANGHAI)


def _segments() -> list[Segment]:
    return [
        Segment(recording="a", device="CAM1", seq=1, raw_start=T0, duration_ms=40_000),
        Segment(recording="b", device="CAM1", seq=2, raw_start=T0 + timedelta(seconds=50), duration_ms=40_000),
        Segment(recording="c", device="CAM1", seq=3, raw_start=T0 + timedelta(seconds=85), duration_ms=30_000),
    ]


def _marks() -> list[Mark]:
    """As found at ingest, before any clock report: device time is corrected time."""
    return [
        Mark("gap", T0 + timedelta(seconds=40), T0 + timedelta(seconds=50), 10_000, 1, "open", ("a", "b")),
        Mark("overlap", T0 + timedelta(seconds=85), T0 + timedelta(seconds=90), 5_000, 2, "open", ("b", "c")),
        Mark("missing_segment", T0, T0, None, 3, "open", ("x", "y")),  # names recordings not on the day
    ]


def test_marks_move_with_the_bars_after_a_late_clock_report() -> None:
    # The device clock ran 1.5 s fast: every bar moves 1.5 s earlier, and so must the marks.
    late = ClockReport(
        device="CAM1", device_time=T0 + timedelta(minutes=3, seconds=1.5), station_time=T0 + timedelta(minutes=3)
    )
    timeline = build("CAM1", DAY, segments=_segments(), reports=[late], marks=_marks(), tz=SHANGHAI)
    bars = {b.recording: b for b in timeline.bars}
    assert bars["a"].start == T0 - timedelta(seconds=1.5)
    gap, overlap, other = timeline.marks
    assert (gap.start, gap.end) == (bars["a"].end, bars["b"].start)
    assert gap.start == T0 + timedelta(seconds=38.5)
    assert (overlap.start, overlap.end) == (bars["c"].start, bars["b"].end)
    assert other == _marks()[2], "a mark whose recordings are not drawn keeps its own times"


def test_without_a_report_the_marks_keep_their_times() -> None:
    timeline = build("CAM1", DAY, segments=_segments(), reports=[], marks=_marks(), tz=SHANGHAI)
    assert [(m.start, m.end) for m in timeline.marks] == [(m.start, m.end) for m in _marks()]
