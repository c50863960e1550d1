"""A shift of recordings through the pure checks: each scenario asserts the exact findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.clock import ClockModel, Segment, clock_findings
from ingest.continuity import Incident, find_gaps, incidents
from ingest.filenames import BUILTIN_PATTERNS, parse_name
from ingest.findings import FindingKind
from ingest.internal import MediaTiming, StreamTiming, internal_findings

from .builders import SHANGHAI, local, report, run_checks, summary, take

GAP = FindingKind.GAP
OVERLAP = FindingKind.OVERLAP
MISSING = FindingKind.MISSING_SEGMENT
DRIFT = FindingKind.CLOCK_DRIFT


def _clean_timing(recording: str, seconds: int) -> MediaTiming:
    """A file with 25 fps video and 64 ms AAC packets, both covering ``seconds``."""
    video = StreamTiming(
        index=0,
        kind="video",
        pts_ms=tuple(range(0, seconds * 1000, 40)),
        duration_ms=seconds * 1000,
        frame_count=seconds * 25,
    )
    audio = StreamTiming(index=1, kind="audio", pts_ms=tuple(range(0, seconds * 1000, 64)))
    return MediaTiming(recording, (video, audio), container_duration_ms=seconds * 1000)


def test_clean_shift_produces_no_findings() -> None:
    # A device 1.0 s fast at the morning dock and 1.8 s fast at the evening dock
    # records six contiguous 10-minute files. Its names carry its own clock,
    # truncated to the second, in Shanghai time.
    morning, evening = local(7, 55), local(18, 0)
    reports = [report("DSJ0012", morning, 1.0), report("DSJ0012", evening, 1.8)]

    def fast_by(moment: datetime) -> timedelta:
        share = (moment - morning) / (evening - morning)
        return timedelta(seconds=1.0 + 0.8 * share)

    names = []
    for index in range(6):
        true_start = local(8) + timedelta(minutes=10 * index)
        raw = (true_start + fast_by(true_start)).astimezone(SHANGHAI)
        names.append(f"DSJ0012_010203_{raw:%Y%m%d%H%M%S}_{index + 1:04d}.mp4")

    segments = []
    for name in names:
        facts = parse_name(name, BUILTIN_PATTERNS, SHANGHAI)
        assert facts is not None, name
        segments.append(Segment(name, facts.device, facts.seq, facts.start, 600_000))

    assert run_checks(segments, reports) == []
    assert incidents(ClockModel(reports).correct_segments(segments)) == []
    assert [f for name in names for f in internal_findings(_clean_timing(name, 600))] == []


def test_forty_second_interruption_is_exactly_one_gap() -> None:
    segments = take("DSJ0012", local(8), [600, 600, 600], pauses_s=[0, 40])
    reports = [report("DSJ0012", local(18), 0.4)]

    findings = run_checks(segments, reports)

    assert summary(findings) == [(GAP, ("DSJ0012-0002", "DSJ0012-0003"), 40_000)]
    gap = findings[0]
    assert (gap.start, gap.end) == (
        local(8, 20) - timedelta(seconds=0.4),
        local(8, 20, 40) - timedelta(seconds=0.4),
    )
    assert gap.device == "DSJ0012"
    assert gap.detail["tolerance_ms"] == 2000
    assert "第七条" in gap.message_zh
    assert "中断 40 秒" in gap.message_zh


def test_clock_stepped_back_mid_shift_is_one_overlap() -> None:
    # The clock ran 4 s fast, then synced to network time between two files:
    # the second file's name starts 4 s before the first file ends.
    before = take("DSJ0012", local(8), [600], clock_fast_s=4)
    after = take("DSJ0012", local(8, 10), [600], first_seq=2)
    reports = [report("DSJ0012", local(18), 0)]

    findings = run_checks(before + after, reports)

    assert summary(findings) == [(OVERLAP, ("DSJ0012-0001", "DSJ0012-0002"), 4000)]
    assert (findings[0].start, findings[0].end) == (local(8, 10), local(8, 10, 4))
    assert "第七条" in findings[0].message_zh


def test_missing_sequence_number_is_named() -> None:
    # File 3 was recorded (the camera used its number) but never reached the dock.
    segments = take("DSJ0012", local(8), [300, 300, 300, 300], pauses_s=[0, 300, 0], skip_seqs={3})
    reports = [report("DSJ0012", local(18), 0)]

    findings = run_checks(segments, reports)

    pair = ("DSJ0012-0002", "DSJ0012-0004")
    assert summary(findings) == [(GAP, pair, 300_000), (MISSING, pair, None)]
    assert dict(findings[1].detail) == {
        "missing": "3",
        "missing_count": 1,
        "seq_before": 2,
        "seq_after": 4,
    }
    assert "缺少序号 3" in findings[1].message_zh


def test_fast_device_lines_up_with_second_device_after_correction() -> None:
    fast = take("DSJ-A", local(9), [600, 600], clock_fast_s=90)
    right = take("DSJ-B", local(9), [600, 600])
    reports = [report("DSJ-A", local(18), 90), report("DSJ-B", local(18), 0)]
    segments = fast + right

    uncorrected = ClockModel([]).correct_segments(fast)
    assert [s.start - t.raw_start for s, t in zip(uncorrected, right, strict=True)] == [timedelta(seconds=90)] * 2

    corrected = ClockModel(reports).correct_segments(segments)
    by_id = {s.recording: s for s in corrected}
    assert by_id["DSJ-A-0001"].start == by_id["DSJ-B-0001"].start == local(9)
    assert by_id["DSJ-A-0002"].start == by_id["DSJ-B-0002"].start == local(9, 10)

    findings = run_checks(segments, reports)
    assert summary(findings) == [(DRIFT, ("DSJ-A-0001",), None), (DRIFT, ("DSJ-A-0002",), None)]
    assert [(f.detail["offset_ms"], f.detail["correction_ms"]) for f in findings] == [(90_000, 90_000)] * 2
    assert all("快 90 秒" in f.message_zh and "第七条" in f.message_zh for f in findings)

    assert incidents(corrected) == [
        Incident(
            start=local(9),
            end=local(9, 20),
            devices=("DSJ-A", "DSJ-B"),
            recordings=("DSJ-A-0001", "DSJ-B-0001", "DSJ-A-0002", "DSJ-B-0002"),
        )
    ]


def test_two_devices_recording_one_enforcement_are_one_incident() -> None:
    officer_a = take("DSJ-A", local(10), [600, 300]) + take("DSJ-A", local(16), [300], first_seq=3)
    officer_b = take("DSJ-B", local(10, 5), [420])
    alone = take("DSJ-C", local(14), [600])
    reports = [report(d, local(18), 0) for d in ("DSJ-A", "DSJ-B", "DSJ-C")]
    corrected = ClockModel(reports).correct_segments(officer_a + officer_b + alone)

    assert incidents(corrected) == [
        Incident(
            start=local(10),
            end=local(10, 15),
            devices=("DSJ-A", "DSJ-B"),
            recordings=("DSJ-A-0001", "DSJ-B-0001", "DSJ-A-0002"),
        )
    ]
    # The gap between A's morning and afternoon takes is an interruption of its own.
    assert summary(find_gaps(corrected)) == [(GAP, ("DSJ-A-0002", "DSJ-A-0003"), 5 * 3600 * 1000 + 45 * 60 * 1000)]


def test_linear_drift_between_two_calibrations_is_corrected() -> None:
    # 1 s fast per hour: +1 s at 08:00, +11 s at 18:00 (the evening report is out of tolerance).
    reports = [report("DSJ0012", local(8), 1), report("DSJ0012", local(18), 11)]
    true_starts = [local(9) + timedelta(minutes=15 * i) for i in range(4)]
    fast_by = [timedelta(seconds=1 + (start - local(8)) / timedelta(hours=1)) for start in true_starts]
    segments = [Segment(f"r{i}", "DSJ0012", i + 1, start + fast_by[i], 900_000) for i, start in enumerate(true_starts)]
    corrected = ClockModel(reports).correct_segments(segments)

    # Corrected to within a millisecond of the truth (the rate is measured in device time).
    assert all(abs(c.start - t) < timedelta(milliseconds=1) for c, t in zip(corrected, true_starts, strict=True))
    assert find_gaps(corrected) == []
    assert summary(clock_findings(segments, reports)) == [(DRIFT, (f"r{i}",), None) for i in range(4)]


def test_drift_is_flagged_only_since_the_last_good_calibration() -> None:
    device = "DSJ0012"
    reports = [
        report(device, local(12), 1),  # good
        report(device, local(18), 5),  # bad: flags what was recorded since 12:00
        report(device, local(18, day=21), 6),  # bad: flags what was recorded since 12:00 on the 20th
    ]
    segments = [
        Segment("morning", device, 1, local(9), 60_000),
        Segment("afternoon", device, 2, local(14), 60_000),
        Segment("next-day", device, 3, local(10, day=21), 60_000),
        Segment("after-last", device, 4, local(19, day=21), 60_000),
    ]

    findings = clock_findings(segments, reports)

    assert summary(findings) == [(DRIFT, ("afternoon",), None), (DRIFT, ("next-day",), None)]
    assert [f.detail["offset_ms"] for f in findings] == [5000, 6000]


def test_no_calibration_near_a_recording_is_unverified() -> None:
    segments = [
        Segment("docked", "DSJ-A", 1, local(9), 60_000),
        Segment("weekend", "DSJ-A", 2, local(9, day=23), 60_000),
        Segment("never-docked", "DSJ-X", 1, local(9), 60_000),
    ]
    reports = [report("DSJ-A", local(18), 0)]

    findings = clock_findings(segments, reports)

    assert summary(findings) == [
        (FindingKind.CLOCK_UNVERIFIED, ("weekend",), None),
        (FindingKind.CLOCK_UNVERIFIED, ("never-docked",), None),
    ]
    weekend, never = findings
    assert weekend.detail["nearest_report_ms"] == (2 * 24 + 15) * 3600 * 1000  # Fri 18:00 -> Mon 09:00
    assert never.detail["reports"] == 0
    assert "没有任何时钟校准记录" in never.message_zh


def test_findings_are_idempotent_and_keyed_without_corrected_time() -> None:
    segments = take("DSJ0012", local(8), [600, 600, 600], pauses_s=[0, 40])
    first = run_checks(segments, [report("DSJ0012", local(18), 0)])
    again = run_checks(list(reversed(segments)), [report("DSJ0012", local(18), 0)])
    assert first == again
    # A later calibration moves the corrected times; the finding keeps its key.
    recalibrated = run_checks(segments, [report("DSJ0012", local(18), 0), report("DSJ0012", local(7), 2)])
    assert [f.key for f in recalibrated] == [f.key for f in first] == ["gap/DSJ0012-0002+DSJ0012-0003"]
    assert recalibrated[0].start != first[0].start


def test_times_are_utc() -> None:
    gap = run_checks(take("D", local(8), [60, 60], pauses_s=[10]), [report("D", local(18), 0)])[0]
    assert gap.start is not None
    assert gap.start.tzinfo is UTC
    assert gap.as_json()["start"] == "2026-11-20T00:01:00Z"
    assert datetime(2026, 11, 20, 8, 1, tzinfo=SHANGHAI) == gap.start
