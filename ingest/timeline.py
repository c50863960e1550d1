# ruff: noqa: RUF001 - Chinese labels use full-width punctuation; times use an en dash for ranges
"""One device's day as data and as an SVG picture a custodian reads at a glance.

Segments are drawn on the *corrected* timeline (device clock offset removed),
in local time; gaps are red, overlaps orange, clock reports are ticks with
their offsets. Pure: values in, a string out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from html import escape

from ingest.clock import ClockModel, ClockReport, Segment
from ingest.findings import FindingKind


@dataclass(frozen=True)
class Bar:
    recording: str
    seq: int | None
    raw_start: datetime
    start: datetime  # corrected
    end: datetime
    offset_ms: int


@dataclass(frozen=True)
class Mark:
    kind: str  # gap, overlap, missing_segment
    start: datetime
    end: datetime
    length_ms: int | None
    finding: int  # finding id
    status: str
    recordings: tuple[str, ...] = ()  # the two recordings a gap or overlap lies between, in order


@dataclass(frozen=True)
class Timeline:
    device: str
    day_start: datetime  # local midnight, aware
    bars: tuple[Bar, ...]
    marks: tuple[Mark, ...]
    reports: tuple[ClockReport, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "device": self.device,
            "date": self.day_start.date().isoformat(),
            "segments": [
                {
                    "recording": b.recording,
                    "seq": b.seq,
                    "raw_start": b.raw_start.isoformat(),
                    "start": b.start.isoformat(),
                    "end": b.end.isoformat(),
                    "clock_offset_ms": b.offset_ms,
                }
                for b in self.bars
            ],
            "findings": [
                {
                    "id": m.finding,
                    "kind": m.kind,
                    "start": m.start.isoformat(),
                    "end": m.end.isoformat(),
                    "length_ms": m.length_ms,
                    "status": m.status,
                }
                for m in self.marks
            ],
            "clock_reports": [
                {
                    "device_time": r.device_time.isoformat(),
                    "station_time": r.station_time.isoformat(),
                    "offset_ms": round(r.offset.total_seconds() * 1000),
                }
                for r in self.reports
            ],
        }


def build(
    device: str,
    day_start: datetime,
    *,
    segments: list[Segment],
    reports: list[ClockReport],
    marks: list[Mark],
    tz: tzinfo,
) -> Timeline:
    model = ClockModel(reports)
    bars = []
    for corrected in sorted(model.correct_segments(segments), key=lambda c: c.start):
        bars.append(
            Bar(
                recording=corrected.recording,
                seq=corrected.seq,
                raw_start=corrected.segment.raw_start.astimezone(tz),
                start=corrected.start.astimezone(tz),
                end=corrected.end.astimezone(tz),
                offset_ms=round(corrected.offset.total_seconds() * 1000),
            )
        )
    placed = {b.recording: b for b in bars}
    return Timeline(device, day_start, tuple(bars), tuple(_placed(m, placed) for m in marks), tuple(reports))


def _placed(mark: Mark, bars: dict[str, Bar]) -> Mark:
    """A gap or overlap drawn between the bars of the two recordings it names.

    A finding keeps the times of the corrected timeline *when it was found*; a clock
    report that arrives later moves the bars, and the mark must move with them or the
    picture shows a gap beside the place where the recording stopped.
    """
    if len(mark.recordings) != 2 or not all(r in bars for r in mark.recordings):
        return mark
    before, after = (bars[r] for r in mark.recordings)
    if mark.kind == FindingKind.GAP.value:
        return replace(mark, start=before.end, end=after.start)
    if mark.kind == FindingKind.OVERLAP.value:
        return replace(mark, start=after.start, end=min(before.end, after.end))
    return mark


COLORS = {FindingKind.GAP.value: "#d62728", FindingKind.OVERLAP.value: "#ff7f0e"}
WIDTH, LEFT, RIGHT = 1000, 70, 20
TITLES = {
    "zh": "设备 {device} · {date} 时间线（已校正时间）",
    "en": "Device {device} · {date} timeline (corrected time)",
}
LEGEND = {
    "zh": ("录像", "中断（缺口）", "重叠", "时钟校准"),
    "en": ("recording", "gap", "overlap", "clock report"),
}


def svg(timeline: Timeline, *, lang: str = "zh") -> str:
    """The day as SVG. The axis spans the recordings (and findings) with a margin, in local time."""
    moments = [b.start for b in timeline.bars] + [b.end for b in timeline.bars]
    moments += [m.start for m in timeline.marks] + [m.end for m in timeline.marks]
    if moments:
        lo, hi = min(moments) - timedelta(minutes=5), max(moments) + timedelta(minutes=5)
    else:
        lo, hi = timeline.day_start, timeline.day_start + timedelta(days=1)
    span = max((hi - lo).total_seconds(), 1.0)

    def x(moment: datetime) -> float:
        return LEFT + (moment - lo).total_seconds() / span * (WIDTH - LEFT - RIGHT)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="220" viewBox="0 0 {WIDTH} 220" '
        'font-family="WenQuanYi Zen Hei, Noto Sans CJK SC, sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="16">'
        + escape(TITLES[lang].format(device=timeline.device, date=timeline.day_start.date().isoformat()))
        + "</text>",
        f'<line x1="{LEFT}" y1="140" x2="{WIDTH - RIGHT}" y2="140" stroke="#444"/>',
    ]
    step = _tick_step(span)
    tick = lo.replace(minute=0, second=0, microsecond=0)
    while tick <= hi:
        if tick >= lo:
            parts.append(f'<line x1="{x(tick):.1f}" y1="140" x2="{x(tick):.1f}" y2="146" stroke="#444"/>')
            parts.append(f'<text x="{x(tick):.1f}" y="160" text-anchor="middle">{tick:%H:%M}</text>')
        tick += step
    for bar in timeline.bars:
        w = max(x(bar.end) - x(bar.start), 1.5)
        label = escape(f"#{bar.seq}" if bar.seq is not None else bar.recording[:6])
        parts.append(
            f'<rect x="{x(bar.start):.1f}" y="70" width="{w:.1f}" height="40" fill="#1f77b4">'
            f"<title>{escape(bar.recording)} {bar.start:%H:%M:%S}–{bar.end:%H:%M:%S}</title></rect>"
        )
        if w > 18:
            parts.append(f'<text x="{x(bar.start) + 3:.1f}" y="94" fill="white">{label}</text>')
    for mark in timeline.marks:
        color = COLORS.get(mark.kind, "#9467bd")
        w = max(x(mark.end) - x(mark.start), 2.0)
        seconds = f"{mark.length_ms / 1000:.1f} s" if mark.length_ms is not None else ""
        parts.append(
            f'<rect x="{x(mark.start):.1f}" y="62" width="{w:.1f}" height="56" fill="{color}" opacity="0.75">'
            f"<title>{escape(mark.kind)} {seconds} ({escape(mark.status)})</title></rect>"
        )
        parts.append(f'<text x="{x(mark.start):.1f}" y="56" fill="{color}">{escape(seconds)}</text>')
    for report in timeline.reports:
        at = report.station_time
        if lo <= at <= hi:
            offset = report.offset.total_seconds()
            parts.append(
                f'<line x1="{x(at):.1f}" y1="120" x2="{x(at):.1f}" y2="136" stroke="#2ca02c" stroke-width="2"/>'
            )
            parts.append(f'<text x="{x(at):.1f}" y="132" fill="#2ca02c">{offset:+.1f} s</text>')
    legend = LEGEND[lang]
    for n, (text, color) in enumerate(zip(legend, ("#1f77b4", "#d62728", "#ff7f0e", "#2ca02c"), strict=True)):
        lx = LEFT + n * 170
        parts.append(f'<rect x="{lx}" y="190" width="14" height="14" fill="{color}"/>')
        parts.append(f'<text x="{lx + 20}" y="202">{escape(text)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _tick_step(span_seconds: float) -> timedelta:
    for minutes in (1, 5, 10, 15, 30, 60, 120, 180):
        if span_seconds / (minutes * 60) <= 12:
            return timedelta(minutes=minutes)
    return timedelta(hours=4)
