"""What the retention rules (deadlines, compliance, evidence, purge) need to know about catalogued recordings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, or_, select

from storage.rows import from_row
from storage.schema import findings, labels, purges, recordings
from storage.tombstones import PurgeState


@dataclass(frozen=True)
class RecordingFacts:
    """What the retention rules need to know about one catalogued recording."""

    id: str
    device: str | None
    officer: str | None
    object_key: str
    version_id: str
    size: int
    start_raw: datetime | None
    end_raw: datetime | None
    ingested_at: datetime
    retain_until: datetime  # as logged at ingest (the INGEST entry's value)


_FACT_COLUMNS = (
    recordings.c.id,
    recordings.c.device,
    recordings.c.officer,
    recordings.c.object_key,
    recordings.c.version_id,
    recordings.c.size,
    recordings.c.start_raw,
    recordings.c.end_raw,
    recordings.c.ingested_at,
    recordings.c.retain_until,
)


def recording_facts(
    conn: Connection,
    *,
    ids: Iterable[str] | None = None,
    device: str | None = None,
    officer: str | None = None,
    ended_from: datetime | None = None,
    ended_before: datetime | None = None,
    started_from: datetime | None = None,
    started_before: datetime | None = None,
    retained_before: datetime | None = None,
    unlabelled_only: bool = False,
    include_purged: bool = True,
) -> list[RecordingFacts]:
    """Recordings matching every filter given.

    ``ended_*`` bound the time the art. 26 deadline runs from: the end (else the
    start) the device recorded, but never later than the ingest time.
    """
    query = select(*_FACT_COLUMNS)
    claimed = func.coalesce(recordings.c.end_raw, recordings.c.start_raw, recordings.c.ingested_at)
    if device is not None:
        query = query.where(recordings.c.device == device)
    if officer is not None:
        query = query.where(recordings.c.officer == officer)
    # The deadline runs from min(claimed end, ingest time) (retention.tracking.recording_end).
    if ended_from is not None:
        query = query.where(claimed >= ended_from, recordings.c.ingested_at >= ended_from)
    if ended_before is not None:
        query = query.where(or_(claimed < ended_before, recordings.c.ingested_at < ended_before))
    if started_from is not None:
        query = query.where(recordings.c.start_raw >= started_from)
    if started_before is not None:
        query = query.where(recordings.c.start_raw < started_before)
    if retained_before is not None:
        query = query.where(recordings.c.retain_until < retained_before)
    if unlabelled_only:
        query = query.where(~select(labels.c.id).where(labels.c.recording == recordings.c.id).exists())
    if not include_purged:
        query = query.where(
            ~select(purges.c.recording)
            .where(purges.c.recording == recordings.c.id, purges.c.state == PurgeState.PURGED.value)
            .exists()
        )
    query = query.order_by(recordings.c.device.nulls_last(), recordings.c.start_raw.nulls_last(), recordings.c.id)
    if ids is None:
        return [from_row(RecordingFacts, row) for row in conn.execute(query)]
    wanted = list(dict.fromkeys(ids))
    found: dict[str, RecordingFacts] = {}
    for start in range(0, len(wanted), 400):
        rows = conn.execute(query.where(recordings.c.id.in_(wanted[start : start + 400])))
        found.update({row.id: from_row(RecordingFacts, row) for row in rows})
    return [found[i] for i in wanted if i in found]


def open_findings_by_recording(conn: Connection) -> dict[str, set[int]]:
    """The ids of the open findings (art. 7, 18) about each recording.

    A finding may be about several recordings (a gap between two segments);
    it is listed under each of them, so a group's count should be of distinct ids.
    """
    found: dict[str, set[int]] = {}
    rows = conn.execute(select(findings.c.id, findings.c.recordings).where(findings.c.status == "open"))
    for finding_id, about in rows:
        for recording in about or ():
            found.setdefault(str(recording), set()).add(int(finding_id))
    return found
