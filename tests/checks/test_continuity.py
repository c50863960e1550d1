"""Continuity edge cases: counters that reset or wrap, files out of order, files inside files."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from ingest.clock import ClockModel, CorrectedSegment, Segment
from ingest.continuity import find_gaps, incidents
from ingest.findings import FindingKind

from .builders import local, summary, take

GAP = FindingKind.GAP
OVERLAP = FindingKind.OVERLAP
MISSING = FindingKind.MISSING_SEGMENT


def exact(segments: list[Segment]) -> list[CorrectedSegment]:
    return ClockModel([]).correct_segments(segments)


def test_counter_wrapping_around_is_no_missing_segment() -> None:
    segments = take("D", local(8), [600] * 4, first_seq=9998)
    wrapped = [
        Segment(s.recording, s.device, s.seq % 10_000 if s.seq else None, s.raw_start, s.duration_ms) for s in segments
    ]
    assert [s.seq for s in wrapped] == [9998, 9999, 0, 1]
    assert find_gaps(exact(wrapped)) == []


def test_counter_reset_between_days_is_a_gap_not_missing_segments() -> None:
    monday = take("D", local(8), [600, 600, 600], first_seq=48)
    tuesday = take("D", local(8, day=21), [600, 600], first_seq=1)
    findings = find_gaps(exact(monday + tuesday))
    assert summary(findings) == [(GAP, ("D-0050", "D-0001"), (24 * 3600 - 1800) * 1000)]


def test_missing_numbers_are_named_as_a_range() -> None:
    segments = take("D", local(8), [600, 600], pauses_s=[3000], skip_seqs={2, 3, 4, 5, 6})
    findings = find_gaps(exact(segments))
    assert summary(findings) == [
        (GAP, ("D-0001", "D-0007"), 3_000_000),
        (MISSING, ("D-0001", "D-0007"), None),
    ]
    assert findings[1].detail["missing"] == "2-6"
    assert findings[1].detail["missing_count"] == 5


def test_short_files_out_of_time_order_are_not_missing_segments() -> None:
    # Names truncated to the second: file 3 seems to start before file 2.
    segments = [
        Segment("r1", "D", 1, local(8), 1_000),
        Segment("r2", "D", 2, local(8, 0, 1) + timedelta(milliseconds=900), 400),
        Segment("r3", "D", 3, local(8, 0, 1) + timedelta(milliseconds=800), 2_000),
    ]
    assert find_gaps(exact(segments)) == []


def test_a_file_inside_another_is_an_overlap_and_invents_no_gap() -> None:
    # After a clock step back, a short file's times fall inside the long one before it.
    segments = [
        Segment("long", "D", 1, local(8), 600_000),
        Segment("inside", "D", 2, local(8, 0, 10), 10_000),
        Segment("next", "D", 3, local(8, 10, 1), 600_000),
    ]
    findings = find_gaps(exact(segments))
    assert summary(findings) == [(OVERLAP, ("long", "inside"), 10_000)]


def test_a_recording_given_twice_counts_once() -> None:
    segments = take("D", local(8), [600, 600], pauses_s=[60])
    assert find_gaps(exact(segments + segments)) == find_gaps(exact(segments))


def test_devices_touching_but_not_overlapping_are_no_incident() -> None:
    first = take("A", local(8), [600])
    second = take("B", local(8, 10), [600])
    assert incidents(exact(first + second)) == []


def test_a_chain_of_overlapping_devices_is_one_incident() -> None:
    segments = take("A", local(8), [600]) + take("B", local(8, 9), [600]) + take("C", local(8, 18), [600])
    [incident] = incidents(exact(segments))
    assert incident.devices == ("A", "B", "C")
    assert (incident.start, incident.end) == (local(8), local(8, 28))


def test_each_run_after_a_reset_is_checked_on_its_own() -> None:
    # Monday's counter starts at 3 (files 1-2 were recorded last week); Tuesday's restarts
    # at 1 and misses file 3.
    monday = take("D", local(8), [600, 600], first_seq=3)
    tuesday = [
        replace(s, recording=f"tue-{s.seq}")
        for s in take("D", local(8, day=21), [600, 600, 600], pauses_s=[0, 600], skip_seqs={3})
    ]
    findings = find_gaps(exact(monday + tuesday))
    assert summary(findings) == [
        (GAP, ("D-0004", "tue-1"), (24 * 3600 - 1200) * 1000),
        (GAP, ("tue-2", "tue-4"), 600_000),
        (MISSING, ("tue-2", "tue-4"), None),
    ]
