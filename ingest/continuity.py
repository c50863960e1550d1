# ruff: noqa: RUF001 - the Chinese messages use full-width punctuation on purpose
"""Continuity between recordings: gaps, overlaps, missing files, and multi-angle incidents.

Art. 7 and art. 18 want on-site recording uninterrupted from arrival to the
end; an interruption needs its reason explained. Cameras split a long take
into files, so consecutive files of one device normally follow each other
closely. Per device, on the *corrected* timeline (``ingest.clock``):

* From the furthest end so far to the next start, up to ``split_tolerance``
  (default 2 s) is a normal split; more is a GAP (an interruption to explain).
  Measuring from the furthest end (not the previous file's) keeps a file that
  lies inside another, after a clock step, from inventing a gap.
* An overlap of more than ``overlap_tolerance`` (default 1.5 s) is an OVERLAP:
  one camera cannot record two files at once, so it is a clock fault. The
  threshold is the timestamp resolution plus a frame: start times come from
  file names or the MP4 header, both in whole seconds (truncated), so a
  perfectly contiguous split can *measure* up to just under 1 s of overlap,
  and a camera may repeat a frame (40 ms at 25 fps) or an audio frame
  (up to 128 ms) across the split. 1.5 s is above all of that together and
  still catches any real clock step of 2 s or more. With starts known to the
  millisecond, 0.2 s is a sound setting.
* A sequence number that skips (…, 3, 5) is MISSING_SEGMENT naming the
  missing numbers. Numbers are checked per *run*: the device's files in time
  order until a number is more than ``REORDER_WINDOW`` (2) below the previous
  file's (a counter reset, e.g. daily, or a wrap-around 9999 -> 0). Within a
  run, every number between the smallest and the largest present is expected.
  Comparing sets rather than neighbours means files whose order in time
  disagrees with their numbers (short files, a clock step) give no false
  finding. A reset that goes back by 2 or less is not seen as one.

An incident (``incidents``) is a stretch of time that two or more devices
recorded simultaneously: art. 7 allows several devices to record one
enforcement step from different angles, and their recordings belong together.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Final

from ingest.clock import CorrectedSegment, to_ms
from ingest.findings import Finding, FindingKind, format_length, format_seconds

__all__ = [
    "DEFAULT_OVERLAP_TOLERANCE",
    "DEFAULT_SPLIT_TOLERANCE",
    "REORDER_WINDOW",
    "Incident",
    "find_gaps",
    "incidents",
]

DEFAULT_SPLIT_TOLERANCE: Final = timedelta(seconds=2)
DEFAULT_OVERLAP_TOLERANCE: Final = timedelta(milliseconds=1500)
REORDER_WINDOW: Final = 2
"""A drop in sequence number by at most this much is files out of time order, not a reset."""


def _by_device(segments: Iterable[CorrectedSegment]) -> dict[str, list[CorrectedSegment]]:
    """Per device, in time order; a recording id given twice counts once."""
    unique: dict[str, CorrectedSegment] = {}
    for segment in segments:
        unique.setdefault(segment.recording, segment)
    devices: dict[str, list[CorrectedSegment]] = {}
    for segment in unique.values():
        devices.setdefault(segment.device, []).append(segment)
    for items in devices.values():
        items.sort(key=lambda s: (s.start, s.end, -1 if s.seq is None else s.seq, s.recording))
    return dict(sorted(devices.items()))


def find_gaps(
    segments: Iterable[CorrectedSegment],
    *,
    split_tolerance: timedelta = DEFAULT_SPLIT_TOLERANCE,
    overlap_tolerance: timedelta = DEFAULT_OVERLAP_TOLERANCE,
) -> list[Finding]:
    """GAP, OVERLAP and MISSING_SEGMENT findings between consecutive files of each device.

    Findings come per device (sorted by device id), in time order; for one pair
    of files, GAP or OVERLAP comes before MISSING_SEGMENT. Input order does not matter.
    """
    findings: list[Finding] = []
    for items in _by_device(segments).values():
        found: list[tuple[int, int, Finding]] = []  # (time index of the later file, rank, finding)
        reach: CorrectedSegment | None = None  # the file that runs furthest so far
        for index, item in enumerate(items):
            if reach is not None:
                if item.start - reach.end > split_tolerance:
                    found.append((index, 0, _gap(reach, item, split_tolerance)))
                elif min(reach.end, item.end) - item.start > overlap_tolerance:
                    found.append((index, 0, _overlap(reach, item, overlap_tolerance)))
            if reach is None or item.end > reach.end:
                reach = item
        position = {item.recording: index for index, item in enumerate(items)}
        for before, after, seq_before, seq_after in _skipped_numbers(items):
            later = max(position[before.recording], position[after.recording])
            found.append((later, 1, _missing(before, after, seq_before, seq_after)))
        findings.extend(finding for _, _, finding in sorted(found, key=lambda f: f[:2]))
    return findings


def _skipped_numbers(
    items: Sequence[CorrectedSegment],
) -> list[tuple[CorrectedSegment, CorrectedSegment, int, int]]:
    """Pairs of files (by number) with numbers missing between them, run by run (module doc)."""
    runs: list[dict[int, CorrectedSegment]] = []
    previous: int | None = None
    for item in items:
        if item.seq is None:
            continue
        if previous is None or item.seq < previous - REORDER_WINDOW:
            runs.append({})
        runs[-1].setdefault(item.seq, item)
        previous = item.seq
    pairs = []
    for run in runs:
        numbers = sorted(run)
        pairs += [(run[a], run[b], a, b) for a, b in pairwise(numbers) if b > a + 1]
    return pairs


def _gap(before: CorrectedSegment, after: CorrectedSegment, tolerance: timedelta) -> Finding:
    length_ms, tolerance_ms = to_ms(after.start - before.end), to_ms(tolerance)
    device, a, b = before.device, before.recording, after.recording
    length_en, length_zh = format_length(length_ms)
    return Finding(
        kind=FindingKind.GAP,
        recordings=(a, b),
        device=device,
        start=before.end,
        end=after.start,
        length_ms=length_ms,
        detail={
            "tolerance_ms": tolerance_ms,
            "correction_before_ms": to_ms(before.offset),
            "correction_after_ms": to_ms(after.offset),
        },
        message=(
            f"Art. 7/18: device {device} stopped recording for {length_en} between {a} and {b} "
            f"(a file split is at most {format_seconds(tolerance_ms)} s). On-site recording must "
            "be uninterrupted; attach the reason for the interruption (spoken at resumption, "
            "or in writing)."
        ),
        message_zh=(
            f"第七条、第十八条：设备 {device} 在录像 {a} 与 {b} 之间中断 {length_zh}"
            f"（正常分段间隔不超过 {format_seconds(tolerance_ms)} 秒）。现场执法应全程不间断记录，"
            "请补充中断原因说明（重新开始记录时的语音说明或书面说明）。"
        ),
    )


def _overlap(before: CorrectedSegment, after: CorrectedSegment, tolerance: timedelta) -> Finding:
    end = min(before.end, after.end)
    length_ms, tolerance_ms = to_ms(end - after.start), to_ms(tolerance)
    device, a, b = before.device, before.recording, after.recording
    length_en, length_zh = format_length(length_ms)
    return Finding(
        kind=FindingKind.OVERLAP,
        recordings=(a, b),
        device=device,
        start=after.start,
        end=end,
        length_ms=length_ms,
        detail={
            "tolerance_ms": tolerance_ms,
            "correction_before_ms": to_ms(before.offset),
            "correction_after_ms": to_ms(after.offset),
        },
        message=(
            f"Art. 7: recordings {a} and {b} of device {device} overlap by {length_en} on the "
            f"corrected timeline (at most {format_seconds(tolerance_ms)} s expected); one camera "
            "cannot record twice at once, so its clock was set or jumped. Check the device clock "
            "and the calibration records."
        ),
        message_zh=(
            f"第七条：设备 {device} 的录像 {a} 与 {b} 在修正后的时间上重叠 {length_zh}"
            f"（应不超过 {format_seconds(tolerance_ms)} 秒）。同一设备不能同时录制两段，"
            "说明设备时钟被调整或发生跳变。请检查设备时钟和校准记录。"
        ),
    )


def _numbers(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _missing(before: CorrectedSegment, after: CorrectedSegment, seq_before: int, seq_after: int) -> Finding:
    first, last = seq_before + 1, seq_after - 1
    count = last - first + 1
    device, a, b = before.device, before.recording, after.recording
    numbers = _numbers(first, last)
    in_order = after.start >= before.end
    return Finding(
        kind=FindingKind.MISSING_SEGMENT,
        recordings=(a, b),
        device=device,
        start=before.end if in_order else None,
        end=after.start if in_order else None,
        detail={
            "missing": numbers,
            "missing_count": count,
            "seq_before": seq_before,
            "seq_after": seq_after,
        },
        message=(
            f"Art. 7/18: device {device}'s file numbers skip from {seq_before} ({a}) to "
            f"{seq_after} ({b}): expected consecutive numbers, missing {numbers} "
            f"({count} file{'s' if count > 1 else ''}). Find the missing files on the device "
            "or record why they do not exist."
        ),
        message_zh=(
            f"第七条、第十八条：设备 {device} 的文件序号从 {seq_before}（{a}）跳到 "
            f"{seq_after}（{b}），缺少序号 {numbers}（共 {count} 个文件）。"
            "请在设备上查找缺失文件，或书面说明缺失原因。"
        ),
    )


@dataclass(frozen=True, slots=True)
class Incident:
    """Recordings of two or more devices that overlap in corrected time (multi-angle, art. 7)."""

    start: datetime  # earliest corrected start among its recordings
    end: datetime  # latest corrected end
    devices: tuple[str, ...]  # sorted
    recordings: tuple[str, ...]  # in time order


def incidents(
    segments: Iterable[CorrectedSegment],
    *,
    split_tolerance: timedelta = DEFAULT_SPLIT_TOLERANCE,
) -> list[Incident]:
    """Groups of recordings that several devices made at the same time, in time order.

    Each device's consecutive files within ``split_tolerance`` first join into
    one take (a continuous recording split into files). Takes that overlap in
    time (by any positive amount) join, transitively; a group becomes an
    incident when it holds two or more devices. Its span is the union of its
    recordings. Recordings of one device alone are not an incident.
    """
    takes: list[tuple[datetime, datetime, str, list[CorrectedSegment]]] = []
    for device, items in _by_device(segments).items():
        current: list[CorrectedSegment] = []
        current_end: datetime | None = None
        for segment in items:
            if current_end is not None and segment.start - current_end > split_tolerance:
                takes.append((current[0].start, current_end, device, current))
                current, current_end = [], None
            current.append(segment)
            current_end = segment.end if current_end is None else max(current_end, segment.end)
        if current and current_end is not None:
            takes.append((current[0].start, current_end, device, current))
    takes.sort(key=lambda t: (t[0], t[1], t[2]))

    groups: list[list[tuple[datetime, datetime, str, list[CorrectedSegment]]]] = []
    group_end: datetime | None = None
    for take in takes:
        if groups and group_end is not None and take[0] < group_end:
            groups[-1].append(take)
            group_end = max(group_end, take[1])
        else:
            groups.append([take])
            group_end = take[1]

    found: list[Incident] = []
    for group in groups:
        devices = sorted({take[2] for take in group})
        if len(devices) < 2:
            continue
        members = _in_time_order([s for take in group for s in take[3]])
        found.append(
            Incident(
                start=min(s.start for s in members),
                end=max(s.end for s in members),
                devices=tuple(devices),
                recordings=tuple(s.recording for s in members),
            )
        )
    return found


def _in_time_order(segments: Sequence[CorrectedSegment]) -> list[CorrectedSegment]:
    return sorted(segments, key=lambda s: (s.start, s.device, s.recording))
