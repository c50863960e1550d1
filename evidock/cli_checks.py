"""Commands of the timestamp and continuity checks (art. 7, 18): findings, explanations, clock, timeline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from evidock import clock_reports, findings_reads, timelines
from evidock.app import open_app
from evidock.cli_common import JsonOption, err, local_time, out, person_of, print_json, settings_of
from evidock.moments import utc
from evidock.settings import Settings
from ingest.checking import FindingError
from ingest.clock import ClockModel, ClockReport, Segment
from ingest.continuity import incidents
from ingest.timeline import svg
from storage import findings as findings_db
from storage.schema import recordings

findings_app = typer.Typer(
    help="Findings of the checks: gaps, overlaps, clock drift, damaged files.\n\n"
    "Example: evidock findings list --open --device CAM01",
    no_args_is_help=True,
)
clock_app = typer.Typer(
    help="Device clock calibration (art. 7).\n\nExample: evidock clock report --device CAM01 --device-time 08:06:19",
    no_args_is_help=True,
)


def _local_moment(text: str, settings: Settings, *, default_day: date | None = None) -> datetime:
    """A time as typed: RFC 3339 with offset, or local (station timezone) date-time or time of today."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            clock = datetime.strptime(text, "%H:%M:%S").time()
        except ValueError as exc:
            raise FindingError(
                f"{text!r} is not a time: use 2026-11-20T08:06:19+08:00, 2026-11-20 08:06:19 or 08:06:19"
            ) from exc
        moment = datetime.combine(default_day or datetime.now(settings.timezone).date(), clock)
    return utc(moment, settings.timezone)


@findings_app.command("list")
def findings_list(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only findings not yet explained.")] = False,
    device: Annotated[str | None, typer.Option(help="Only this device.")] = None,
    since: Annotated[str | None, typer.Option(help="Only from this local time on, e.g. 2026-11-20.")] = None,
    recording: Annotated[str | None, typer.Option(help="Only findings about this recording (id or prefix).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List findings (open until explained), filtered.

    Example: evidock findings list --open --device CAM01 --since 2026-11-20 --json
    """
    settings = settings_of(ctx)
    since_at = (
        _local_moment(since if "T" in (since or "") or " " in (since or "") else f"{since} 00:00:00", settings)
        if since
        else None
    )
    with open_app(settings, ensure_bucket=False) as evi:
        rows = findings_reads.list_findings(
            evi, open_only=open_only, device=device, since=since_at, recording=recording
        )
    if as_json:
        print_json([r.as_json() for r in rows])
        return
    table = Table("id", "kind", "status", "device", f"start ({settings.timezone})", "length", "recordings", "what")
    for r in rows:
        length = f"{r.length_ms / 1000:.1f} s" if r.length_ms is not None else "—"
        table.add_row(
            str(r.id),
            r.kind,
            r.status,
            r.device or "—",
            local_time(r.start, settings),
            length,
            ", ".join(x[:8] for x in r.recordings),
            str(r.facts.get("message", "")),
        )
    out.print(table)
    out.print(f"{len(rows)} finding(s)")


@findings_app.command("explain")
def findings_explain(
    ctx: typer.Context,
    finding: Annotated[int, typer.Argument(help="Finding id (see `findings list`).")],
    text: Annotated[str, typer.Option("--text", help="Why the recording was interrupted (情况说明).")],
    voice_in: Annotated[str | None, typer.Option(help="Recording that holds the spoken explanation.")] = None,
    at: Annotated[float | None, typer.Option(help="Seconds into --voice-in where the statement starts.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Attach an explanation to a finding: an EXPLANATION entry in the log; the finding is then explained.

    Example: evidock findings explain 12 --text "battery replaced" --voice-in 3fa4c1 --at 4.5
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        index = findings_reads.explain(
            evi,
            person_of(ctx),
            finding,
            text=text,
            voice_in=voice_in,
            voice_at_ms=round(at * 1000) if at is not None else None,
        )
    if as_json:
        print_json({"finding": finding, "status": "explained", "entry": index})
    else:
        out.print(f"finding {finding} explained (log entry {index})")


@clock_app.command("report")
def clock_report(
    ctx: typer.Context,
    device: Annotated[str, typer.Option(help="Device id.")],
    device_time: Annotated[str, typer.Option(help="The device clock's reading now (local unless it has an offset).")],
    as_json: JsonOption = False,
) -> None:
    """Record the device clock at docking; the station's own (NTP) time is taken at this moment.

    Example: evidock clock report --device CAM01 --device-time "2026-11-20 08:06:19"
    """
    settings = settings_of(ctx)
    station_time = datetime.now(UTC)
    reading = _local_moment(device_time, settings, default_day=station_time.astimezone(settings.timezone).date())
    report = ClockReport(device=device, device_time=reading, station_time=station_time)
    with open_app(settings, ensure_bucket=False) as evi:
        outcome = clock_reports.enter(evi, report, source="cli", by=person_of(ctx).name)
    if as_json:
        print_json(outcome.as_json())
    else:
        within = "within" if outcome.within_tolerance else "OUTSIDE"
        out.print(
            f"clock report {outcome.id}: {device} is {outcome.offset_ms / 1000:+.1f} s off the station clock "
            f"({within} the {outcome.tolerance_ms / 1000:g} s tolerance)"
        )


def incidents_command(
    ctx: typer.Context,
    day: Annotated[str, typer.Option("--date", help="Local date, YYYY-MM-DD.")],
    as_json: JsonOption = False,
) -> None:
    """Incidents of a day: recordings of several devices overlapping in corrected time (multi-angle, art. 7).

    Example: evidock incidents --date 2026-11-20 --json
    """
    settings = settings_of(ctx)
    lo, hi = _day_bounds(day, settings)
    with open_app(settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        rows = conn.execute(
            select(recordings).where(
                recordings.c.device.is_not(None),
                recordings.c.start_raw >= lo - timedelta(hours=1),
                recordings.c.start_raw < hi + timedelta(hours=1),
                recordings.c.kind.in_(("video", "audio")),
            )
        ).all()
        devices = {r.device for r in rows}
        reports = [
            ClockReport(device=d, device_time=x["device_time"], station_time=x["station_time"])
            for d in devices
            for x in findings_db.clock_reports_of(conn, d)
        ]
    segments = [
        Segment(recording=r.id, device=r.device, seq=r.seq, raw_start=r.start_raw, duration_ms=r.duration_ms or 0)
        for r in rows
        if r.start_raw is not None
    ]
    found = [
        i
        for i in incidents(
            ClockModel(reports).correct_segments(segments), split_tolerance=settings.checks.split_tolerance
        )
        if lo <= i.start < hi
    ]
    if as_json:
        print_json(
            [
                {
                    "start": i.start.isoformat(),
                    "end": i.end.isoformat(),
                    "devices": list(i.devices),
                    "recordings": list(i.recordings),
                }
                for i in found
            ]
        )
        return
    for i in found:
        out.print(
            f"{local_time(i.start, settings)} - {local_time(i.end, settings)}  devices {', '.join(i.devices)}: "
            f"{len(i.recordings)} recordings"
        )
    out.print(f"{len(found)} incident(s)")


def _day_bounds(day: str, settings: Settings) -> tuple[datetime, datetime]:
    try:
        local_day = date.fromisoformat(day)
    except ValueError as exc:
        raise FindingError(f"--date {day!r} is not YYYY-MM-DD") from exc
    start = datetime.combine(local_day, datetime.min.time(), tzinfo=settings.timezone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def timeline(
    ctx: typer.Context,
    device: Annotated[str, typer.Option(help="Device id.")],
    day: Annotated[str, typer.Option("--date", help="Local date, YYYY-MM-DD.")],
    svg_file: Annotated[Path | None, typer.Option("--svg", help="Also write the picture to this SVG file.")] = None,
    lang: Annotated[str, typer.Option(help="Language of the picture: zh or en.")] = "zh",
    as_json: JsonOption = False,
) -> None:
    """One device's day: segments on the corrected timeline, gaps, overlaps, clock offsets.

    Example: evidock timeline --device CAM01 --date 2026-11-20 --svg cam01.svg
    """
    settings = settings_of(ctx)
    wanted = timelines.local_day(day)
    if lang not in ("zh", "en"):
        raise FindingError(f"--lang {lang!r}: use zh or en")
    with open_app(settings, ensure_bucket=False) as evi:
        picture = timelines.device_day(evi, device, wanted)
    if svg_file is not None:
        svg_file.write_text(svg(picture, lang=lang), encoding="utf-8")
        err.print(f"wrote {svg_file}")
    if as_json:
        print_json(picture.as_json())
        return
    for bar in picture.bars:
        out.print(
            f"{bar.start:%H:%M:%S}-{bar.end:%H:%M:%S}  #{bar.seq}  {bar.recording[:12]}  "
            f"(device clock {bar.raw_start:%H:%M:%S}, offset {bar.offset_ms / 1000:+.1f} s)"
        )
    for mark in picture.marks:
        length = f"{mark.length_ms / 1000:.1f} s" if mark.length_ms is not None else ""
        out.print(f"{mark.kind.upper()} {mark.start:%H:%M:%S}-{mark.end:%H:%M:%S} {length} [{mark.status}]")
