"""A device's day on the corrected timeline, read from the catalog: `evidock timeline` and the web page share it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from evidock.app import App
from ingest.checking import FindingError
from ingest.clock import ClockReport, Segment
from ingest.timeline import Mark, Timeline, build
from storage import findings as findings_db
from storage.schema import recordings

MARKED = ("gap", "overlap")  # finding kinds drawn on the picture


def local_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise FindingError(f"--date {text[:40]!r} is not YYYY-MM-DD") from exc


def device_day(evi: App, device: str, day: date) -> Timeline:
    """Segments of ``device`` that started on local ``day`` (an hour either side), its clock reports and gaps."""
    tz = evi.settings.timezone
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    lo, hi = day_start.astimezone(UTC), (day_start + timedelta(days=1)).astimezone(UTC)
    with evi.catalog.read() as conn:
        rows = conn.execute(
            select(recordings).where(
                recordings.c.device == device,
                recordings.c.start_raw >= lo - timedelta(hours=1),
                recordings.c.start_raw < hi + timedelta(hours=1),
            )
        ).all()
        reports = [
            ClockReport(device=device, device_time=r["device_time"], station_time=r["station_time"])
            for r in findings_db.clock_reports_of(conn, device)
        ]
        marks = [
            Mark(f.kind, f.start, f.end or f.start, f.length_ms, f.id, f.status, tuple(f.recordings))
            for f in findings_db.listing(conn, device=device, since=lo - timedelta(hours=1))
            if f.start is not None and f.start < hi and f.kind in MARKED
        ]
    segments = [
        Segment(recording=r.id, device=device, seq=r.seq, raw_start=r.start_raw, duration_ms=r.duration_ms or 0)
        for r in rows
        if r.start_raw is not None
    ]
    return build(device, day_start, segments=segments, reports=reports, marks=marks, tz=tz)


def devices(evi: App) -> list[str]:
    """Every device id the catalog knows, for a choice list."""
    with evi.catalog.read() as conn:
        rows = conn.execute(select(recordings.c.device).where(recordings.c.device.is_not(None)).distinct())
        return sorted(str(d) for (d,) in rows)
