"""Small builders for check scenarios: a shift of segments, clock reports, the checks together."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.clock import ClockModel, ClockReport, Segment, clock_findings
from ingest.continuity import find_gaps
from ingest.findings import Finding, FindingKind

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(hour: int, minute: int = 0, second: int = 0, *, day: int = 20) -> datetime:
    """A Shanghai wall-clock time on 2026-11-<day>, as aware UTC."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(UTC)


def take(
    device: str,
    start: datetime,
    durations_s: Sequence[int],
    *,
    pauses_s: Sequence[int] | None = None,
    first_seq: int = 1,
    skip_seqs: Iterable[int] = (),
    clock_fast_s: float = 0,
) -> list[Segment]:
    """Consecutive files of one device starting at true time ``start``.

    ``pauses_s[i]`` is the true time between file i and file i+1 (default: none).
    ``skip_seqs`` are sequence numbers the camera used for files that are not
    here. ``clock_fast_s`` makes the device clock (and so the raw starts) fast.
    """
    pauses = list(pauses_s) if pauses_s is not None else [0] * (len(durations_s) - 1)
    skipped = set(skip_seqs)
    segments: list[Segment] = []
    moment, seq = start, first_seq
    for index, duration in enumerate(durations_s):
        while seq in skipped:
            seq += 1
        segments.append(
            Segment(
                recording=f"{device}-{seq:04d}",
                device=device,
                seq=seq,
                raw_start=moment + timedelta(seconds=clock_fast_s),
                duration_ms=duration * 1000,
            )
        )
        moment += timedelta(seconds=duration + (pauses[index] if index < len(pauses) else 0))
        seq += 1
    return segments


def report(device: str, station_time: datetime, offset_s: float) -> ClockReport:
    """A dock calibration: the device clock read ``offset_s`` ahead of the station's."""
    return ClockReport(device, station_time + timedelta(seconds=offset_s), station_time)


def run_checks(segments: Sequence[Segment], reports: Sequence[ClockReport]) -> list[Finding]:
    """Clock findings, then continuity findings, the way the pipeline runs them."""
    corrected = ClockModel(reports).correct_segments(segments)
    return clock_findings(segments, reports) + find_gaps(corrected)


def summary(findings: Iterable[Finding]) -> list[tuple[FindingKind, tuple[str, ...], int | None]]:
    """What each scenario asserts: kind, recordings, length in ms."""
    return [(f.kind, f.recordings, f.length_ms) for f in findings]
