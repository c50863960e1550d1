# ruff: noqa: RUF001 - the Chinese messages use full-width punctuation on purpose
"""Device clocks: calibration reports, the corrected timeline, and clock findings.

At each dock the station (NTP-synced) records ``offset = device_clock - station_clock``
for the device (a ``ClockReport``). ``ClockModel`` turns a device's reports into
a correction for any raw device time:

* **between two reports**, the offset is interpolated linearly in device time:
  a quartz clock drifts at a nearly constant rate, so the error grows in
  proportion to elapsed time (GA/T 947 allows about 3 s/day);
* **before the first / after the last report**, the nearest report's offset
  is used as it is (no extrapolation). A rate taken from two reports is only
  known between them; carried outwards it grows without bound, and outside the
  measured span the clock may have been set by hand, so the nearest measured
  offset is the estimate that assumes least. Times corrected this way are
  marked (``ClockBasis``) and, when far from any report, flagged
  CLOCK_UNVERIFIED; the next dock adds a report and the correction is redone.

The corrected time is ``raw - offset``. Raw and corrected times are kept side by side.

The model assumes the device clock ran without being set between two reports;
a clock set by hand in between shows as a step the model spreads over the
interval (and as an OVERLAP or GAP if the step is large).

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Final, NamedTuple

from ingest.findings import Finding, FindingKind, format_length, format_seconds, rfc3339

__all__ = [
    "DEFAULT_CLOCK_TOLERANCE",
    "DEFAULT_NAME_TIME_TOLERANCE",
    "DEFAULT_UNVERIFIED_AFTER",
    "ClockBasis",
    "ClockModel",
    "ClockReport",
    "CorrectedSegment",
    "Correction",
    "Segment",
    "clock_findings",
    "time_mismatch_finding",
    "to_ms",
]

DEFAULT_CLOCK_TOLERANCE: Final = timedelta(seconds=3)
"""|offset| above this at a calibration flags the recordings before it (DESIGN "Time")."""
DEFAULT_UNVERIFIED_AFTER: Final = timedelta(days=1)
"""A recording with no calibration of its device this close is CLOCK_UNVERIFIED: at the
3 s/day a clock may drift, one day is where the unknown error reaches the 3 s tolerance."""
DEFAULT_NAME_TIME_TOLERANCE: Final = timedelta(seconds=2)
"""File-name and embedded times each have 1 s resolution (truncated): 2 s covers both."""

_US: Final = timedelta(microseconds=1)


def to_ms(span: timedelta) -> int:
    """A timedelta in whole milliseconds, rounded half up (exact integer arithmetic)."""
    return (span // _US + 500) // 1000


def _require_aware(owner: str, name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{owner}.{name} must be an aware datetime, got naive {value}")


class ClockBasis(enum.StrEnum):
    """How a correction was obtained."""

    NO_REPORT = "no_report"  # the device has no report: raw time used, offset 0
    BEFORE_FIRST = "before_first"  # earlier than the first report: its offset used
    INTERPOLATED = "interpolated"  # between two reports (or at one): linear drift
    AFTER_LAST = "after_last"  # later than the last report: its offset used


@dataclass(frozen=True, slots=True)
class ClockReport:
    """One calibration reading taken at a dock: the device's clock and the station's, together."""

    device: str
    device_time: datetime  # what the device clock said, aware
    station_time: datetime  # the station's NTP-synced clock at the same moment, aware

    def __post_init__(self) -> None:
        _require_aware("ClockReport", "device_time", self.device_time)
        _require_aware("ClockReport", "station_time", self.station_time)

    @property
    def offset(self) -> timedelta:
        """``device - station``: positive when the device clock is fast."""
        return self.device_time - self.station_time


class Correction(NamedTuple):
    """A raw device time placed on the true timeline."""

    corrected: datetime  # aware, UTC
    offset_used: timedelta  # subtracted from the raw time
    basis: ClockBasis


@dataclass(frozen=True, slots=True)
class Segment:
    """One recording file's timing as the device saw it: the input of the time checks."""

    recording: str  # recording id
    device: str
    seq: int | None  # file sequence number from the name, if any
    raw_start: datetime  # device clock, aware (e.g. NameFacts.start)
    duration_ms: int

    def __post_init__(self) -> None:
        _require_aware("Segment", "raw_start", self.raw_start)
        if self.duration_ms < 0:
            raise ValueError(f"Segment.duration_ms must be >= 0, got {self.duration_ms}")


@dataclass(frozen=True, slots=True)
class CorrectedSegment:
    """A segment on the corrected timeline; ``segment`` keeps the raw facts."""

    segment: Segment
    start: datetime  # corrected, aware UTC
    offset: timedelta  # offset used: start = segment.raw_start - offset
    basis: ClockBasis

    @property
    def recording(self) -> str:
        return self.segment.recording

    @property
    def device(self) -> str:
        return self.segment.device

    @property
    def seq(self) -> int | None:
        return self.segment.seq

    @property
    def duration_ms(self) -> int:
        return self.segment.duration_ms

    @property
    def end(self) -> datetime:
        """Corrected start plus the media duration (drift within one file is negligible)."""
        return self.start + timedelta(milliseconds=self.segment.duration_ms)


class ClockModel:
    """Per device, the offset at any device time, from that device's reports.

    Reports are sorted by device time; two reports with the same device time
    keep the one with the later station time (a repeated sidecar is the usual cause).
    """

    def __init__(self, reports: Iterable[ClockReport]) -> None:
        by_device: dict[str, dict[datetime, ClockReport]] = {}
        for report in sorted(reports, key=lambda r: (r.device, r.device_time, r.station_time)):
            by_device.setdefault(report.device, {})[report.device_time] = report
        self._reports: dict[str, tuple[ClockReport, ...]] = {
            device: tuple(kept.values()) for device, kept in by_device.items()
        }
        self._times: dict[str, list[datetime]] = {
            device: [r.device_time for r in kept] for device, kept in self._reports.items()
        }

    def reports(self, device: str) -> tuple[ClockReport, ...]:
        """The device's reports in device-time order (duplicates removed)."""
        return self._reports.get(device, ())

    def correct(self, device: str, raw_time: datetime) -> Correction:
        """The corrected time of a raw device clock reading, the offset used, and how."""
        _require_aware("ClockModel.correct", "raw_time", raw_time)
        reports = self._reports.get(device)
        if not reports:
            return Correction(raw_time.astimezone(UTC), timedelta(0), ClockBasis.NO_REPORT)
        times = self._times[device]
        if raw_time < times[0]:
            offset, basis = reports[0].offset, ClockBasis.BEFORE_FIRST
        elif raw_time > times[-1]:
            offset, basis = reports[-1].offset, ClockBasis.AFTER_LAST
        else:
            after = bisect.bisect_left(times, raw_time)
            if times[after] == raw_time:
                offset = reports[after].offset
            else:
                offset = _interpolate(reports[after - 1], reports[after], raw_time)
            basis = ClockBasis.INTERPOLATED
        return Correction((raw_time - offset).astimezone(UTC), offset, basis)

    def correct_segment(self, segment: Segment) -> CorrectedSegment:
        corrected, offset, basis = self.correct(segment.device, segment.raw_start)
        return CorrectedSegment(segment=segment, start=corrected, offset=offset, basis=basis)

    def correct_segments(self, segments: Iterable[Segment]) -> list[CorrectedSegment]:
        return [self.correct_segment(s) for s in segments]


def _interpolate(before: ClockReport, after: ClockReport, raw_time: datetime) -> timedelta:
    """Offset at ``raw_time`` on the straight line between two reports, to the microsecond."""
    elapsed = (raw_time - before.device_time) // _US
    span = (after.device_time - before.device_time) // _US
    change = (after.offset - before.offset) // _US
    return before.offset + timedelta(microseconds=round(Fraction(change * elapsed, span)))


def clock_findings(
    recordings: Iterable[Segment],
    reports: Iterable[ClockReport],
    *,
    tolerance: timedelta = DEFAULT_CLOCK_TOLERANCE,
    unverified_after: timedelta = DEFAULT_UNVERIFIED_AFTER,
) -> list[Finding]:
    """CLOCK_DRIFT and CLOCK_UNVERIFIED findings, one per recording at most of each kind.

    * CLOCK_DRIFT: the device's first report at or after the recording's raw start
      has ``|offset| > tolerance``; i.e. the recording was made since the last good
      calibration, up to that bad one (DESIGN "Time").
    * CLOCK_UNVERIFIED: no report of the device within ``unverified_after`` of the
      recording's corrected span (before or after it), or none at all.

    Findings come in device, raw start, recording order. A recording id given twice
    counts once.
    """
    all_reports = tuple(reports)
    model = ClockModel(all_reports)
    unique: dict[str, Segment] = {}
    for segment in recordings:
        unique.setdefault(segment.recording, segment)
    ordered = sorted(unique.values(), key=lambda s: (s.device, s.raw_start, s.recording))
    findings: list[Finding] = []
    for segment in ordered:
        corrected = model.correct_segment(segment)
        device_reports = model.reports(segment.device)
        drift = _drift_finding(corrected, device_reports, tolerance)
        if drift is not None:
            findings.append(drift)
        unverified = _unverified_finding(corrected, device_reports, unverified_after)
        if unverified is not None:
            findings.append(unverified)
    return findings


def _direction(offset_ms: int) -> tuple[str, str]:
    if offset_ms >= 0:
        return f"{format_seconds(offset_ms)} s fast", f"快 {format_seconds(offset_ms)} 秒"
    return f"{format_seconds(-offset_ms)} s slow", f"慢 {format_seconds(-offset_ms)} 秒"


def _drift_finding(corrected: CorrectedSegment, reports: Sequence[ClockReport], tolerance: timedelta) -> Finding | None:
    raw_start = corrected.segment.raw_start
    index = bisect.bisect_left([r.device_time for r in reports], raw_start)
    if index == len(reports):
        return None  # no calibration since: not known yet (the next dock will tell)
    report = reports[index]
    if abs(report.offset) <= tolerance:
        return None
    offset_ms, tolerance_ms, used_ms = (
        to_ms(report.offset),
        to_ms(tolerance),
        to_ms(corrected.offset),
    )
    off_en, off_zh = _direction(offset_ms)
    rec, device = corrected.recording, corrected.device
    return Finding(
        kind=FindingKind.CLOCK_DRIFT,
        recordings=(rec,),
        device=device,
        start=corrected.start,
        end=corrected.end,
        detail={
            "offset_ms": offset_ms,
            "tolerance_ms": tolerance_ms,
            "report_station_time": rfc3339(report.station_time),
            "report_device_time": rfc3339(report.device_time),
            "correction_ms": used_ms,
            "basis": corrected.basis.value,
            "raw_start": rfc3339(raw_start),
        },
        message=(
            f"Art. 7: device {device}'s clock was {off_en} at the first calibration after "
            f"recording {rec} (tolerance ±{format_seconds(tolerance_ms)} s); the recording's "
            f"times are corrected by {format_seconds(used_ms)} s. Calibrate the device clock "
            "before use and confirm the corrected times."
        ),
        message_zh=(
            f"第七条：录像 {rec} 之后的首次时钟校准显示设备 {device} 的时钟{off_zh}，"
            f"超过允许的 ±{format_seconds(tolerance_ms)} 秒；该录像的时间已按校准记录修正 "
            f"{format_seconds(used_ms)} 秒。请在使用前校准设备时间，并核对修正后的时间。"
        ),
    )


def _span_text(span: timedelta) -> tuple[str, str]:
    if span >= timedelta(days=1) and span % timedelta(days=1) == timedelta(0):
        days = span // timedelta(days=1)
        return (f"{days} day" + ("s" if days > 1 else "")), f"{days} 天"
    hours = f"{span / timedelta(hours=1):.1f}".removesuffix(".0")
    return f"{hours} h", f"{hours} 小时"


def _unverified_finding(
    corrected: CorrectedSegment, reports: Sequence[ClockReport], unverified_after: timedelta
) -> Finding | None:
    start, end = corrected.start, corrected.end
    distances = [max(start - r.station_time, r.station_time - end, timedelta(0)) for r in reports]
    nearest = min(distances, default=None)
    if nearest is not None and nearest <= unverified_after:
        return None
    rec, device = corrected.recording, corrected.device
    window_en, window_zh = _span_text(unverified_after)
    detail: dict[str, str | int] = {
        "reports": len(reports),
        "unverified_after_ms": to_ms(unverified_after),
        "raw_start": rfc3339(corrected.segment.raw_start),
    }
    if nearest is None:
        found_en = f"device {device} has no clock calibration on record"
        found_zh = f"设备 {device} 没有任何时钟校准记录"
    else:
        detail["nearest_report_ms"] = to_ms(nearest)
        near_en, near_zh = _span_text(nearest)
        found_en = f"the nearest calibration of device {device} is {near_en} away"
        found_zh = f"设备 {device} 最近一次时钟校准相距 {near_zh}"
    return Finding(
        kind=FindingKind.CLOCK_UNVERIFIED,
        recordings=(rec,),
        device=device,
        start=start,
        end=end,
        detail=detail,
        message=(
            f"Art. 7: expected a clock calibration within {window_en} of recording {rec}, "
            f"but {found_en}; its time is not verified. Dock the device so the station records "
            "its clock, and calibrate it before use."
        ),
        message_zh=(
            f"第七条：录像 {rec} 前后 {window_zh}内应有时钟校准记录，"
            f"但{found_zh}，录像时间未经核实。"
            "请将设备接入采集站记录时钟偏差，并在使用前校准设备时间。"
        ),
    )


def time_mismatch_finding(
    recording: str,
    *,
    device: str | None,
    name_start: datetime,
    embedded_start: datetime,
    tolerance: timedelta = DEFAULT_NAME_TIME_TOLERANCE,
) -> Finding | None:
    """TIME_MISMATCH when the file name's start and the embedded creation time disagree.

    Both are raw device readings as aware datetimes (the name's converted from
    local time, the embedded one as the file states it, usually UTC). A
    difference of whole hours usually means the camera wrote local time where
    the format wants UTC, or has the wrong time zone set; the message says so.
    """
    _require_aware("time_mismatch_finding", "name_start", name_start)
    _require_aware("time_mismatch_finding", "embedded_start", embedded_start)
    difference = embedded_start - name_start
    if abs(difference) <= tolerance:
        return None
    difference_ms, tolerance_ms = to_ms(difference), to_ms(tolerance)
    differ_en, differ_zh = format_length(difference_ms)
    hour = timedelta(hours=1)
    hours = round(difference / hour)
    zone_like = hours != 0 and abs(difference - hours * hour) <= tolerance
    hint_en = hint_zh = ""
    if zone_like:
        hint_en = (
            f" The difference is {hours:+d} h: the camera probably wrote local time as UTC "
            "or has the wrong time zone set."
        )
        hint_zh = f"差值约为 {hours:+d} 小时整，多为设备把本地时间当作 UTC 写入或时区设置错误。"
    return Finding(
        kind=FindingKind.TIME_MISMATCH,
        recordings=(recording,),
        device=device,
        detail={
            "name_start": rfc3339(name_start),
            "embedded_start": rfc3339(embedded_start),
            "difference_ms": difference_ms,
            "tolerance_ms": tolerance_ms,
            "whole_hours": hours if zone_like else 0,
        },
        message=(
            f"Art. 7: the start time in the file name and the time embedded in recording "
            f"{recording} should agree within {format_seconds(tolerance_ms)} s, but differ by "
            f"{differ_en}.{hint_en} Check the device's clock and time zone "
            "settings."
        ),
        message_zh=(
            f"第七条：录像 {recording} 文件名中的开始时间与文件内嵌时间应相差不超过 "
            f"{format_seconds(tolerance_ms)} 秒，实际相差 {differ_zh}。"
            f"{hint_zh}请检查设备的时间和时区设置。"
        ),
    )
