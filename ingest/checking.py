"""Running the checks on stored recordings and keeping their findings (art. 7, 18).

The pure checks (``clock``, ``continuity``, ``internal``, ``filenames``) take
values; this module feeds them from the catalog and records what they find:
each new finding gets a FINDING entry in the log, in the caller's transaction;
a finding found again is left as it is (its explanation stays attached); a
device-level finding that no longer holds (the "missing" file was docked after
all, a new clock report moved the timeline) is withdrawn with a FINDING entry.

Checks never block storage: the pipeline calls them after the recording is
stored and verified, and a failing check is logged, not raised.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone, tzinfo
from fractions import Fraction

from sqlalchemy import Connection, select

from chain.entries import EntryType
from chain.errors import EvidockError
from ingest.clock import (
    ClockModel,
    ClockReport,
    Segment,
    clock_findings,
    time_mismatch_finding,
)
from ingest.continuity import find_gaps
from ingest.filenames import NameFacts, NamePattern, unmatched_name_finding
from ingest.findings import Finding, FindingKind, rfc3339
from ingest.internal import MediaTiming, StreamTiming, corrupt_finding, internal_findings, not_media_finding
from ingest.probe import MediaFacts
from storage import findings as findings_db
from storage.journal import Journal, NewEntry
from storage.schema import recordings

log = logging.getLogger(__name__)

MAX_EXPLANATION = 4000  # characters


class FindingError(EvidockError):
    """A finding cannot be explained as asked (unknown id, bad text, bad voice reference)."""


DEVICE_KINDS = (
    FindingKind.GAP,
    FindingKind.OVERLAP,
    FindingKind.MISSING_SEGMENT,
    FindingKind.CLOCK_DRIFT,
    FindingKind.CLOCK_UNVERIFIED,
)
WINDOW = timedelta(days=2)  # a device's findings are recomputed over this much time around a change


@dataclass(frozen=True)
class CheckOptions:
    clock_tolerance: timedelta = timedelta(seconds=3)
    unverified_after: timedelta = timedelta(days=1)
    name_time_tolerance: timedelta = timedelta(seconds=2)
    split_tolerance: timedelta = timedelta(seconds=2)
    overlap_tolerance: timedelta = timedelta(milliseconds=1500)
    jump_threshold: timedelta = timedelta(seconds=1)
    deep_scan: bool = True
    # The zone of embedded times that carry none (ID3, RIFF, BWF, AVI IDIT, EXIF without an offset).
    # None: the zone the file names are read in (station.timezone); set it for devices kept in another zone.
    device_timezone: tzinfo | None = None


def file_findings(
    recording: str,
    *,
    name: str,
    named: NameFacts | None,
    media: MediaFacts,
    packets: dict[int, list[int]] | None,
    mtime: datetime,
    patterns: Sequence[NamePattern],
    options: CheckOptions,
) -> list[Finding]:
    """What one file says about itself: unreadable, unnamed, times disagreeing, gaps inside."""
    device = named.device if named else None
    found: list[Finding] = []
    if media.problem:
        if media.kind == "other" and not _looks_like_media(name):
            found.append(not_media_finding(recording, media.problem, device=device))
        else:
            found.append(corrupt_finding(recording, media.problem, device=device))
    if named is None:
        if media.kind != "document":  # documents are named by people, not by a device's pattern
            found.append(unmatched_name_finding(recording, name, patterns))
    elif media.embedded is not None:
        embedded = media.embedded
        zone = options.device_timezone or _zone_of(named)
        mismatch = time_mismatch_finding(
            recording,
            device=device,
            name_start=named.start,
            embedded_start=embedded.at(zone),
            # A tag without seconds (ID3v2.3 TIME) agrees anywhere in its minute.
            tolerance=options.name_time_tolerance + embedded.resolution - timedelta(seconds=1),
        )
        if mismatch is not None:
            # The third time: the file's modification time as the dock saw it; and how the embedded one was read.
            found.append(
                replace(
                    mismatch,
                    detail={
                        **mismatch.detail,
                        "file_mtime": mtime.isoformat(),
                        "embedded_tag": embedded.tag,
                        "embedded_zone": str(zone) if embedded.device_local else "stated in the file",
                    },
                )
            )
    if media.kind in ("video", "audio") and media.streams:
        timing = MediaTiming(
            recording=recording,
            streams=tuple(
                StreamTiming(
                    index=s.index,
                    kind="video" if s.kind == "video" else "audio",
                    pts_ms=tuple((packets or {}).get(s.index, ())),
                    duration_ms=s.duration_ms,
                    frame_count=s.frames,
                    frame_rate=Fraction(s.frame_rate) if s.frame_rate else None,
                )
                for s in media.streams
            ),
            container_duration_ms=media.duration_ms,
            device=device,
        )
        found += internal_findings(
            timing,
            jump_threshold=options.jump_threshold,
            expect_audio=media.kind == "video",
        )
    return found


def _zone_of(named: NameFacts) -> tzinfo:
    """The fixed offset the file name was read in: a device writes its name and its tags on one clock."""
    return timezone(named.local_start - named.start.replace(tzinfo=None))


def _looks_like_media(name: str) -> bool:
    return name.lower().rsplit(".", 1)[-1] in {
        "mp4",
        "mov",
        "avi",
        "mkv",
        "ts",
        "wav",
        "mp3",
        "m4a",
        "aac",
        "amr",
        "jpg",
        "jpeg",
        "png",
        "3gp",
    }


def device_findings(conn: Connection, device: str, around: datetime, options: CheckOptions) -> list[Finding]:
    """Continuity and clock findings of one device over the window around ``around``."""
    rows = conn.execute(
        select(recordings.c.id, recordings.c.seq, recordings.c.start_raw, recordings.c.duration_ms).where(
            recordings.c.device == device,
            recordings.c.start_raw >= around - WINDOW,
            recordings.c.start_raw <= around + WINDOW,
            recordings.c.kind.in_(("video", "audio")),
        )
    ).all()
    segments = [
        Segment(recording=r.id, device=device, seq=r.seq, raw_start=r.start_raw, duration_ms=r.duration_ms or 0)
        for r in rows
        if r.start_raw is not None
    ]
    reports = [
        ClockReport(device=device, device_time=r["device_time"], station_time=r["station_time"])
        for r in findings_db.clock_reports_of(conn, device)
    ]
    model = ClockModel(reports)
    found = find_gaps(
        model.correct_segments(segments),
        split_tolerance=options.split_tolerance,
        overlap_tolerance=options.overlap_tolerance,
    )
    found += clock_findings(
        segments, reports, tolerance=options.clock_tolerance, unverified_after=options.unverified_after
    )
    return found


def record(
    conn: Connection,
    journal: Journal,
    found: Iterable[Finding],
    *,
    now: datetime,
    withdraw_scope: tuple[str, datetime] | None = None,
) -> list[int]:
    """Store new findings (one FINDING entry each); withdraw device findings that no longer hold.

    ``withdraw_scope`` is (device, around): open findings of the device-level
    kinds in that window that were not found again are withdrawn.
    """
    found = list({f.key: f for f in found}.values())
    existing = findings_db.by_key(conn, [f.key for f in found])
    fresh = [f for f in found if f.key not in existing or existing[f.key].status == "withdrawn"]
    facts = [f.as_json() for f in fresh]
    indexes = journal.append_many(  # one batch: the entries are those of appending them one by one
        conn,
        [
            NewEntry(
                EntryType.FINDING,
                finding.recordings[0] if finding.recordings else None,
                {"finding_id": finding.key, "status": "open"} | {k: v for k, v in fact.items() if k != "key"},
                now,
            )
            for finding, fact in zip(fresh, facts, strict=True)
        ],
    )
    added = []
    for finding, fact, index in zip(fresh, facts, indexes, strict=True):
        if finding.key in existing:
            findings_db.change(conn, existing[finding.key].id, status="open", entry=index, facts=fact)
            added.append(existing[finding.key].id)
            continue
        added.append(
            findings_db.add(
                conn,
                {
                    "key": finding.key,
                    "kind": finding.kind.value,
                    "device": finding.device,
                    "recordings": list(finding.recordings),
                    "start": finding.start,
                    "end": finding.end,
                    "length_ms": finding.length_ms,
                    "facts": json.loads(json.dumps(fact)),
                    "status": "open",
                    "found_at": now,
                    "entry": index,
                },
            )
        )
    if withdraw_scope is not None:
        device, around = withdraw_scope
        keys = {f.key for f in found}
        # Only well inside the recomputed window: near its edges a neighbour may lie outside it.
        stale = [
            old
            for old in findings_db.about_device(conn, device, [k.value for k in DEVICE_KINDS])
            if old.key not in keys
            and old.status == "open"
            and (old.start is None or abs(old.start - around) <= WINDOW / 2)
        ]
        journal.append_many(
            conn,
            [
                NewEntry(
                    EntryType.FINDING,
                    old.recordings[0] if old.recordings else None,
                    {"finding_id": old.key, "kind": old.kind, "status": "withdrawn"},
                    now,
                )
                for old in stale
            ],
        )
        for old in stale:
            findings_db.change(conn, old.id, status="withdrawn")
    return added


def explain(
    conn: Connection,
    journal: Journal,
    finding_id: int,
    *,
    text: str,
    author: str,
    now: datetime,
    voice_in: str | None = None,
    voice_at_ms: int | None = None,
) -> int:
    """Attach an explanation (art. 7: the reason for an interruption) as an EXPLANATION entry.

    The statement may be spoken inside a later recording (``voice_in`` at
    ``voice_at_ms``). A second explanation is a new entry, never an edit.
    Returns the entry's index.
    """
    finding = findings_db.get(conn, finding_id)
    if finding is None:
        raise FindingError(f"no finding {finding_id}; see `evidock findings list`")
    if finding.status == "withdrawn":
        raise FindingError(f"finding {finding_id} was withdrawn (a later fact made it untrue); nothing to explain")
    clean = text.strip()
    if not clean:
        raise FindingError("the explanation is empty: say why the recording was interrupted")
    if len(clean) > MAX_EXPLANATION:
        raise FindingError(f"the explanation has {len(clean)} characters; keep it under {MAX_EXPLANATION}")
    if any(not c.isprintable() and c != "\n" for c in clean):
        raise FindingError("the explanation contains control characters; use plain text")
    if not author.strip() or len(author) > 128 or not author.isprintable():
        raise FindingError(f"author {author[:40]!r} is not a valid name")
    if voice_in is not None:
        row = conn.execute(
            select(recordings.c.id, recordings.c.duration_ms, recordings.c.kind).where(recordings.c.id == voice_in)
        ).first()
        if row is None:
            raise FindingError(f"no recording {voice_in} to hold the spoken explanation")
        if row.kind not in ("video", "audio"):
            raise FindingError(f"recording {voice_in} is a {row.kind}, not audio or video")
        if voice_at_ms is None or voice_at_ms < 0 or (row.duration_ms is not None and voice_at_ms > row.duration_ms):
            raise FindingError(
                f"--at must point inside recording {voice_in} (0 to {(row.duration_ms or 0) / 1000:.1f} s)"
            )
    index = journal.append(
        conn,
        EntryType.EXPLANATION,
        recording=finding.recordings[0] if finding.recordings else voice_in,
        body={
            "finding_id": finding.key,
            "author": author.strip(),
            "explanation": clean,
            "voice_in": voice_in,
            "voice_at_ms": voice_at_ms,
        },
        time=now,
    )
    findings_db.change(
        conn,
        finding_id,
        status="explained",
        explained_at=now,
        explained_by=author.strip(),
        explanation=clean,
        voice_in=voice_in,
        voice_at_ms=voice_at_ms,
        explanation_entry=index,
    )
    return index


def add_clock_report(
    conn: Connection,
    journal: Journal,
    report: ClockReport,
    *,
    station: str,
    source: str,
    by: str,
    now: datetime,
    options: CheckOptions,
) -> int:
    """Log and store a clock report, then re-check the device's recordings around it."""
    report_id = log_clock_report(conn, journal, report, station=station, source=source, by=by, recording=None, now=now)
    recheck_device(conn, journal, report.device, report.station_time, now=now, options=options)
    return report_id


def log_clock_report(
    conn: Connection,
    journal: Journal,
    report: ClockReport,
    *,
    station: str,
    source: str,
    by: str,
    recording: str | None,
    now: datetime,
) -> int:
    """A CLOCK entry and its catalog row (one transaction): the corrected timeline rests on proven reports.

    ``recording``: the docked sidecar file the report came in, if any. Returns the row's id.
    """
    device_time, station_time = _to_ms(report.device_time), _to_ms(report.station_time)
    offset_ms = (device_time - station_time) // timedelta(milliseconds=1)
    index = journal.append(
        conn,
        EntryType.CLOCK,
        recording=recording,
        body={
            "device": report.device,
            "device_time": rfc3339(device_time),
            "station_time": rfc3339(station_time),
            "offset_ms": offset_ms,
            "source": source,
            "by": by,
        },
        time=now,
    )
    return findings_db.add_clock_report(
        conn,
        device=report.device,
        device_time=device_time,
        station_time=station_time,
        offset_ms=offset_ms,
        source=source,
        station=station,
        recording=recording,
        received_at=now,
        entry=index,
    )


def _to_ms(moment: datetime) -> datetime:
    """Clock reports are kept to the millisecond: the precision their CLOCK entry holds."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def recheck_device(
    conn: Connection, journal: Journal, device: str, around: datetime, *, now: datetime, options: CheckOptions
) -> None:
    found = device_findings(conn, device, around, options)
    record(conn, journal, found, now=now, withdraw_scope=(device, around))
