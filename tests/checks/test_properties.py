"""Properties of the checks over generated shifts, clocks and packet timings."""

from __future__ import annotations

from datetime import timedelta
from random import Random

from hypothesis import given
from hypothesis import strategies as st

from ingest.clock import ClockModel, ClockReport, CorrectedSegment, Segment
from ingest.continuity import find_gaps, incidents
from ingest.findings import FindingKind
from ingest.internal import MediaTiming, StreamTiming, internal_findings

from .strategies import (
    PROPERTY,
    SHIFT_START,
    contiguous_takes,
    durations_ms,
    interruptions_ms,
    pauses_ms,
    takes,
    timeline,
)

GAPS_OR_OVERLAPS = {FindingKind.GAP, FindingKind.OVERLAP}


@PROPERTY
@given(contiguous_takes())
def test_contiguous_segments_never_produce_gap_or_overlap(segments: list[CorrectedSegment]) -> None:
    assert find_gaps(segments) == []


@PROPERTY
@given(takes(pauses_ms))
def test_gaps_sum_to_span_minus_durations(segments: list[CorrectedSegment]) -> None:
    findings = find_gaps(segments)
    span = max(s.end for s in segments) - min(s.start for s in segments)
    recorded = sum(s.duration_ms for s in segments)
    assert {f.kind for f in findings} <= {FindingKind.GAP}
    assert sum(f.length_ms or 0 for f in findings) == span // timedelta(milliseconds=1) - recorded


@PROPERTY
@given(st.lists(durations_ms, min_size=2, max_size=20), st.data())
def test_each_interruption_is_one_gap_of_its_length(durations: list[int], data: st.DataObject) -> None:
    pauses = data.draw(st.lists(pauses_ms, min_size=len(durations) - 1, max_size=len(durations) - 1))
    findings = find_gaps(timeline("DSJ1", durations, pauses))
    assert [f.length_ms for f in findings] == [p for p in pauses if p]
    assert all(f.kind is FindingKind.GAP for f in findings)


@PROPERTY
@given(
    st.lists(takes(pauses_ms), min_size=1, max_size=4, unique_by=lambda take: take[0].device),
    st.randoms(use_true_random=False),
)
def test_result_does_not_depend_on_input_order_and_keys_are_unique(
    groups: list[list[CorrectedSegment]], random: Random
) -> None:
    segments = [s for group in groups for s in group]
    shuffled = list(segments)
    random.shuffle(shuffled)
    findings = find_gaps(segments)
    assert find_gaps(shuffled) == findings
    assert incidents(shuffled) == incidents(segments)
    keys = [f.key for f in findings]
    assert len(keys) == len(set(keys))


@PROPERTY
@given(
    st.integers(min_value=-30_000, max_value=30_000),  # offset at the morning dock, ms
    st.integers(min_value=-200, max_value=200),  # drift, ppm (GA/T 947's 3 s/day is ~35 ppm)
    st.lists(durations_ms, min_size=1, max_size=12),
    st.integers(min_value=1, max_value=48),  # hours until the evening dock
)
def test_linear_drift_between_reports_is_removed_exactly(
    offset_ms: int, drift_ppm: int, durations: list[int], hours: int
) -> None:
    def offset_at(moment_ms: int) -> timedelta:
        return timedelta(milliseconds=offset_ms) + timedelta(microseconds=moment_ms * drift_ppm / 1000)

    morning = SHIFT_START - timedelta(minutes=30)
    evening = SHIFT_START + timedelta(hours=hours)
    reports = [
        ClockReport("D", morning + offset_at(-1_800_000), morning),
        ClockReport("D", evening + offset_at(hours * 3_600_000), evening),
    ]
    segments, true_starts, at = [], [], 0
    for index, duration in enumerate(durations):
        true_start = SHIFT_START + timedelta(milliseconds=at)
        raw = true_start + offset_at(at)
        segments.append(Segment(f"r{index}", "D", index + 1, raw, duration))
        true_starts.append(true_start)
        at += duration
    corrected = ClockModel(reports).correct_segments(segments)
    within = [abs(c.start - t) <= timedelta(microseconds=2) for c, t in zip(corrected, true_starts, strict=True)]
    assert all(within[i] for i, c in enumerate(corrected) if c.end <= evening)
    assert {f.kind for f in find_gaps(corrected)}.isdisjoint(GAPS_OR_OVERLAPS)


@PROPERTY
@given(
    st.lists(
        st.tuples(st.integers(-(10**6), 10**6), st.integers(-(10**5), 10**5)),
        min_size=1,
        max_size=8,
    )
)
def test_a_report_maps_its_own_device_time_to_its_station_time(
    readings: list[tuple[int, int]],
) -> None:
    reports = [
        ClockReport(
            "D",
            SHIFT_START + timedelta(seconds=at) + timedelta(milliseconds=offset),
            SHIFT_START + timedelta(seconds=at),
        )
        for at, offset in readings
    ]
    model = ClockModel(reports)
    for kept in model.reports("D"):
        assert model.correct("D", kept.device_time).corrected == kept.station_time
    lowest = min(r.offset for r in model.reports("D"))
    highest = max(r.offset for r in model.reports("D"))
    for seconds in range(-(10**6) - 10, 10**6 + 10, 99_991):
        used = model.correct("D", SHIFT_START + timedelta(seconds=seconds)).offset_used
        assert lowest <= used <= highest


frame_steps = st.sampled_from([40, 50, 100])  # 25, 20 and 10 fps


@PROPERTY
@given(frame_steps, st.integers(min_value=2, max_value=600))
def test_evenly_spaced_packets_have_no_internal_finding(step: int, frames: int) -> None:
    video = StreamTiming(0, "video", tuple(range(0, frames * step, step)), frames * step, frames)
    audio = StreamTiming(1, "audio", tuple(range(0, frames * step, 64)))
    assert internal_findings(MediaTiming("r", (video, audio), frames * step)) == []


@PROPERTY
@given(frame_steps, st.integers(min_value=4, max_value=600), st.data(), interruptions_ms)
def test_one_jump_is_one_internal_gap_of_its_length(step: int, frames: int, data: st.DataObject, jump: int) -> None:
    at = data.draw(st.integers(min_value=1, max_value=frames - 1))
    pts = tuple(i * step + (jump if i >= at else 0) for i in range(frames))
    video = StreamTiming(0, "video", pts, frames * step + jump, frames)
    findings = internal_findings(MediaTiming("r", (video,)), expect_audio=False)
    assert [(f.stream, f.position_ms, f.length_ms) for f in findings] == [("video:0", at * step, jump)]


stream_timings = st.builds(
    StreamTiming,
    index=st.integers(0, 3),
    kind=st.sampled_from(["video", "audio"]),
    pts_ms=st.lists(st.integers(-10_000, 100_000), max_size=200).map(tuple),
    duration_ms=st.none() | st.integers(0, 100_000),
    frame_count=st.none() | st.integers(0, 3_000),
    frame_rate=st.none() | st.fractions(min_value=0, max_value=120),
)


@PROPERTY
@given(
    st.lists(stream_timings, max_size=4, unique_by=lambda s: s.index),
    st.none() | st.integers(0, 200_000),
)
def test_any_timing_gives_findings_with_unique_keys(streams: list[StreamTiming], container_ms: int | None) -> None:
    findings = internal_findings(MediaTiming("r", tuple(streams), container_ms))
    assert all(f.kind is FindingKind.INTERNAL_GAP for f in findings)
    keys = [f.key for f in findings]
    assert len(keys) == len(set(keys))
