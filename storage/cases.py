"""Case data in the catalog: labels, cases, evidence (holds), alert runs and purge tombstones.

Art. 26 (第二十六条) asks for every recording to be labelled with the case
number (案号), the parties (当事人) and the handler (承办人); art. 27 keeps
evidence with its case; art. 28 forbids destruction within retention. The log
is the record of every change (LABEL, HOLD, RETENTION, PURGE entries); these
tables are the catalog's *view* of it, written in the same transaction as the
entry, so the two never disagree.

Tables (all on ``storage.catalog.metadata``, created with the rest)::

    labels       one row per LABEL entry; never updated (the latest one wins)
    cases        one row per case number: when it closed and what is due
    evidence     one row per designation as evidence; released rows stay
    alert_runs   one row per alert check, for `evidock status`
    purges       tombstones: a recording whose objects were (or are being) deleted

The ``recordings`` row of a purged recording is kept: the log's INGEST entry
still describes it, and ``evidock verify`` compares the two. ``purges`` says
which rows no longer have an object (``state = 'purged'``, ``purged_at`` set).

Portable SQL only (SQLAlchemy Core): SQLite on a dock PC, PostgreSQL shared by
many stations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    or_,
    select,
    update,
)

from chain import entries as chain_entries
from chain.entries import EntryType
from storage.catalog import UTCDateTime, checkpoints, log_salts, metadata, receipts, recordings
from storage.errors import StorageError
from storage.findings import findings
from storage.journal import Journal

CASE_NUMBER_LENGTH = 128  # characters; e.g. 京朝公(治)行罚决字[2026]1号
PERSON_LENGTH = 128  # characters; a person's name or staff id

labels = Table(
    "labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=False),
    Column("case_number", String(CASE_NUMBER_LENGTH), nullable=False),  # 案号
    # 当事人, in clear for the custodian; the LABEL entry holds only salted commitments
    Column("parties", JSON, nullable=False),
    Column("handler", String(PERSON_LENGTH), nullable=False),  # 承办人
    Column("labelled_by", String(PERSON_LENGTH), nullable=False),
    Column("labelled_at", UTCDateTime(), nullable=False),  # the LABEL entry's time
    Column("entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False, unique=True),
    Index("ix_labels_recording", "recording", "entry"),
    Index("ix_labels_case", "case_number"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_number", String(CASE_NUMBER_LENGTH), primary_key=True),  # 案号
    Column("opened_at", UTCDateTime(), nullable=False),  # first linked to a recording or closed
    Column("closed_on", Date, nullable=True),  # local date the enforcement ended (执法行为终结之日)
    Column("case_file_due", Date, nullable=True),  # closed_on + 30 days (art. 26)
    Column("archive_due", Date, nullable=True),  # 31 March of the next year (art. 26)
    Column("case_file_done_on", Date, nullable=True),  # the case file (案卷) was formed
    Column("archived_on", Date, nullable=True),  # handed over to the archive
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(PERSON_LENGTH), nullable=False),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=False),
    Column("case_number", String(CASE_NUMBER_LENGTH), nullable=False),
    Column("period", String(16), nullable=False),  # whole years ("30") or "permanent" (永久)
    Column("retain_until", UTCDateTime(), nullable=False),  # read back from the server
    Column("added_at", UTCDateTime(), nullable=False),
    Column("added_by", String(PERSON_LENGTH), nullable=False),
    Column("hold_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False),
    Column("released_at", UTCDateTime(), nullable=True),
    Column("released_by", String(PERSON_LENGTH), nullable=True),
    Column("approved_by", String(PERSON_LENGTH), nullable=True),
    Column("release_reason", Text, nullable=True),
    Column("release_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=True),
    Index("ix_evidence_recording", "recording"),
    Index("ix_evidence_case", "case_number"),
)

alert_runs = Table(
    "alert_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ran_at", UTCDateTime(), nullable=False),
    Column("due_soon", Integer, nullable=False),  # recordings whose label is due soon
    Column("overdue", Integer, nullable=False),  # recordings whose label is overdue
    Column("cases_due", Integer, nullable=False),  # case files or archive handovers due soon or overdue
    Column("summary", Text, nullable=False),
    Column("webhook", Text, nullable=True),  # "sent", "not configured" or the failure
)

purges = Table(
    "purges",
    metadata,
    Column("recording", String(64), ForeignKey("recordings.id"), primary_key=True),  # SHA-256 hex
    Column("object_key", String(256), nullable=False),
    Column("version_id", String(128), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("ended_at", UTCDateTime(), nullable=False),
    Column("retain_until", UTCDateTime(), nullable=False),  # the latest the catalog knew
    Column("labels", JSON, nullable=False),  # every label the recording had, oldest first
    Column("reason", Text, nullable=False),
    Column("purge_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False, unique=True),
    Column("decided_at", UTCDateTime(), nullable=False),  # the PURGE entry's time
    Column("state", String(16), nullable=False),  # see PurgeState
    Column("purged_at", UTCDateTime(), nullable=True),  # every version gone from the object store
    Column("error", Text, nullable=True),  # what the server refused, if it did
)


class PurgeState(StrEnum):
    DELETING = "deleting"  # the PURGE entry is written; deleting the object versions
    REFUSED = "refused"  # the server refused a deletion; retried by the next purge
    PURGED = "purged"  # no version is left


# -- labels -----------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    recording: str
    case_number: str  # 案号
    parties: tuple[str, ...]  # 当事人
    handler: str  # 承办人
    labelled_by: str
    labelled_at: datetime
    entry: int

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "case_number": self.case_number,
            "parties": list(self.parties),
            "handler": self.handler,
            "labelled_by": self.labelled_by,
            "labelled_at": self.labelled_at.isoformat(),
            "entry": self.entry,
        }


def _label(row: Any) -> Label:
    return Label(
        recording=row.recording,
        case_number=row.case_number,
        parties=tuple(row.parties),
        handler=row.handler,
        labelled_by=row.labelled_by,
        labelled_at=row.labelled_at,
        entry=int(row.entry),
    )


def party_field(position: int) -> str:
    """The ``log_salts.field`` of the salt for ``parties[position]`` of a LABEL entry."""
    return f"parties[{position}]"


def add_label(
    conn: Connection,
    journal: Journal,
    *,
    recording: str,
    case_number: str,
    parties: Sequence[str],
    handler: str,
    by: str,
    time: datetime,
) -> Label:
    """Append a LABEL entry and its catalog row (in ``conn``'s transaction).

    Each party name is committed with its own salt (``chain.entries.commit``);
    the entry holds the list of commitments, the salts go to ``log_salts`` as
    fields ``parties[0]``, ``parties[1]``, ... so a disclosure can open any one
    of them. (``Journal.append(personal=...)`` commits one string per body key;
    the LABEL format needs a list, so the list is committed here.)
    """
    salts = [chain_entries.new_salt() for _ in parties]
    commitments = [chain_entries.commit(name, salt) for name, salt in zip(parties, salts, strict=True)]
    index = journal.append(
        conn,
        EntryType.LABEL,
        recording=recording,
        body={"case_number": case_number, "parties": commitments, "handler": handler, "by": by},
        time=time,
    )
    if salts:
        conn.execute(
            insert(log_salts),
            [{"entry": index, "field": party_field(i), "salt": salt} for i, salt in enumerate(salts)],
        )
    stamped = time.replace(microsecond=0)  # the entry's time is whole seconds
    conn.execute(
        insert(labels).values(
            recording=recording,
            case_number=case_number,
            parties=list(parties),
            handler=handler,
            labelled_by=by,
            labelled_at=stamped,
            entry=index,
        )
    )
    ensure_case(conn, case_number, by=by, time=time)
    return Label(recording, case_number, tuple(parties), handler, by, stamped, index)


def label_history(conn: Connection, recording: str) -> list[Label]:
    rows = conn.execute(select(labels).where(labels.c.recording == recording).order_by(labels.c.entry))
    return [_label(r) for r in rows]


def latest_labels(conn: Connection, recording_ids: Iterable[str] | None = None) -> dict[str, Label]:
    """The current label of each recording (the one with the highest log index)."""
    newest = select(labels.c.recording, func.max(labels.c.entry).label("entry")).group_by(labels.c.recording)
    if recording_ids is not None:
        wanted = list(recording_ids)
        found: dict[str, Label] = {}
        for start in range(0, len(wanted), 400):  # SQLite limits bound parameters per statement
            chunk = newest.where(labels.c.recording.in_(wanted[start : start + 400])).subquery()
            rows = conn.execute(select(labels).join(chunk, labels.c.entry == chunk.c.entry))
            found.update({r.recording: _label(r) for r in rows})
        return found
    sub = newest.subquery()
    return {r.recording: _label(r) for r in conn.execute(select(labels).join(sub, labels.c.entry == sub.c.entry))}


def first_labelled_at(conn: Connection, recording_ids: Iterable[str]) -> dict[str, datetime]:
    """When each of these recordings got its first label, if it has one (art. 26: labelled in time)."""
    wanted = list(recording_ids)
    found: dict[str, datetime] = {}
    query = select(labels.c.recording, func.min(labels.c.labelled_at)).group_by(labels.c.recording)
    for start in range(0, len(wanted), 400):  # SQLite limits bound parameters per statement
        rows = conn.execute(query.where(labels.c.recording.in_(wanted[start : start + 400])))
        found.update({row[0]: row[1] for row in rows})
    return found


# -- cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    case_number: str  # 案号
    opened_at: datetime
    closed_on: date | None
    case_file_due: date | None
    archive_due: date | None
    case_file_done_on: date | None
    archived_on: date | None

    @property
    def open(self) -> bool:
        return self.closed_on is None

    def as_json(self) -> dict[str, Any]:
        def day(value: date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "case_number": self.case_number,
            "open": self.open,
            "closed_on": day(self.closed_on),
            "case_file_due": day(self.case_file_due),
            "archive_due": day(self.archive_due),
            "case_file_done_on": day(self.case_file_done_on),
            "archived_on": day(self.archived_on),
        }


def _case(row: Any) -> Case:
    return Case(
        case_number=row.case_number,
        opened_at=row.opened_at,
        closed_on=row.closed_on,
        case_file_due=row.case_file_due,
        archive_due=row.archive_due,
        case_file_done_on=row.case_file_done_on,
        archived_on=row.archived_on,
    )


def ensure_case(conn: Connection, case_number: str, *, by: str, time: datetime) -> Case:
    """The case row, created (open) the first time a case number is used."""
    found = get_case(conn, case_number)
    if found is not None:
        return found
    conn.execute(insert(cases).values(case_number=case_number, opened_at=time, updated_at=time, updated_by=by))
    return Case(case_number, time, None, None, None, None, None)


def get_case(conn: Connection, case_number: str) -> Case | None:
    row = conn.execute(select(cases).where(cases.c.case_number == case_number)).first()
    return _case(row) if row else None


def all_cases(conn: Connection) -> list[Case]:
    return [_case(r) for r in conn.execute(select(cases).order_by(cases.c.case_number))]


def close_case(
    conn: Connection,
    case_number: str,
    *,
    closed_on: date,
    case_file_due: date,
    archive_due: date,
    by: str,
    time: datetime,
) -> Case:
    ensure_case(conn, case_number, by=by, time=time)
    conn.execute(
        update(cases)
        .where(cases.c.case_number == case_number)
        .values(
            closed_on=closed_on,
            case_file_due=case_file_due,
            archive_due=archive_due,
            updated_at=time,
            updated_by=by,
        )
    )
    found = get_case(conn, case_number)
    if found is None:
        raise StorageError(f"case {case_number} vanished while being closed (concurrent delete?)")
    return found


def mark_case_done(
    conn: Connection,
    case_number: str,
    *,
    case_file_done_on: date | None,
    archived_on: date | None,
    by: str,
    time: datetime,
) -> Case:
    values: dict[str, object] = {"updated_at": time, "updated_by": by}
    if case_file_done_on is not None:
        values["case_file_done_on"] = case_file_done_on
    if archived_on is not None:
        values["archived_on"] = archived_on
    conn.execute(update(cases).where(cases.c.case_number == case_number).values(**values))
    found = get_case(conn, case_number)
    if found is None:
        raise StorageError(f"no case {case_number} (案号) in the catalog")
    return found


# -- evidence -----------------------------------------------------------------------


@dataclass(frozen=True)
class Designation:
    id: int
    recording: str
    case_number: str
    period: str  # "30" (years) or "permanent"
    retain_until: datetime
    added_at: datetime
    added_by: str
    hold_entry: int
    released_at: datetime | None
    released_by: str | None
    approved_by: str | None
    release_reason: str | None

    @property
    def active(self) -> bool:
        return self.released_at is None

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "case_number": self.case_number,
            "period": self.period,
            "retain_until": self.retain_until.isoformat(),
            "added_at": self.added_at.isoformat(),
            "added_by": self.added_by,
            "active": self.active,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "released_by": self.released_by,
            "approved_by": self.approved_by,
            "release_reason": self.release_reason,
        }


def _designation(row: Any) -> Designation:
    return Designation(
        id=int(row.id),
        recording=row.recording,
        case_number=row.case_number,
        period=row.period,
        retain_until=row.retain_until,
        added_at=row.added_at,
        added_by=row.added_by,
        hold_entry=int(row.hold_entry),
        released_at=row.released_at,
        released_by=row.released_by,
        approved_by=row.approved_by,
        release_reason=row.release_reason,
    )


def add_designation(
    conn: Connection,
    *,
    recording: str,
    case_number: str,
    period: str,
    retain_until: datetime,
    by: str,
    time: datetime,
    hold_entry: int,
) -> None:
    conn.execute(
        insert(evidence).values(
            recording=recording,
            case_number=case_number,
            period=period,
            retain_until=retain_until,
            added_at=time,
            added_by=by,
            hold_entry=hold_entry,
        )
    )
    ensure_case(conn, case_number, by=by, time=time)


def designations(conn: Connection, recording: str | None = None, *, active_only: bool = False) -> list[Designation]:
    query = select(evidence).order_by(evidence.c.id)
    if recording is not None:
        query = query.where(evidence.c.recording == recording)
    if active_only:
        query = query.where(evidence.c.released_at.is_(None))
    return [_designation(r) for r in conn.execute(query)]


def release_designations(
    conn: Connection,
    ids: Sequence[int],
    *,
    by: str,
    approved_by: str,
    reason: str,
    time: datetime,
    entry: int,
) -> None:
    conn.execute(
        update(evidence)
        .where(evidence.c.id.in_(list(ids)), evidence.c.released_at.is_(None))
        .values(released_at=time, released_by=by, approved_by=approved_by, release_reason=reason, release_entry=entry)
    )


def extend_designations(conn: Connection, recording: str, retain_until: datetime) -> None:
    """Record a longer retain-until on the recording's active designations (never a shorter one)."""
    conn.execute(
        update(evidence)
        .where(
            evidence.c.recording == recording,
            evidence.c.released_at.is_(None),
            evidence.c.retain_until < retain_until,
        )
        .values(retain_until=retain_until)
    )


# -- alert runs ---------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRun:
    ran_at: datetime
    due_soon: int
    overdue: int
    cases_due: int
    summary: str
    webhook: str | None


def record_alert_run(conn: Connection, run: AlertRun) -> None:
    conn.execute(insert(alert_runs).values(**run.__dict__))


def alert_run_history(conn: Connection, limit: int = 100) -> list[AlertRun]:
    rows = conn.execute(select(alert_runs).order_by(alert_runs.c.id.desc()).limit(limit))
    return [AlertRun(r.ran_at, int(r.due_soon), int(r.overdue), int(r.cases_due), r.summary, r.webhook) for r in rows]


# -- purge tombstones ---------------------------------------------------------------


@dataclass(frozen=True)
class Tombstone:
    recording: str
    object_key: str
    version_id: str
    size: int
    ended_at: datetime
    retain_until: datetime
    labels: list[dict[str, Any]]
    reason: str
    purge_entry: int
    decided_at: datetime
    state: PurgeState
    purged_at: datetime | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "object_key": self.object_key,
            "version_id": self.version_id,
            "size": self.size,
            "ended_at": self.ended_at.isoformat(),
            "retain_until": self.retain_until.isoformat(),
            "labels": self.labels,
            "reason": self.reason,
            "purge_entry": self.purge_entry,
            "decided_at": self.decided_at.isoformat(),
            "state": self.state.value,
            "purged_at": self.purged_at.isoformat() if self.purged_at else None,
            "error": self.error,
        }


def _tombstone(row: Any) -> Tombstone:
    m = dict(row._mapping)
    m["state"] = PurgeState(m["state"])
    m["purge_entry"] = int(m["purge_entry"])
    return Tombstone(**m)


def add_tombstone(conn: Connection, tombstone: Tombstone) -> None:
    values = tombstone.__dict__ | {"state": tombstone.state.value}
    conn.execute(insert(purges).values(**values))


def tombstones(conn: Connection, *, states: Iterable[PurgeState] | None = None) -> list[Tombstone]:
    query = select(purges).order_by(purges.c.decided_at, purges.c.recording)
    if states is not None:
        query = query.where(purges.c.state.in_([s.value for s in states]))
    return [_tombstone(r) for r in conn.execute(query)]


def tombstone(conn: Connection, recording: str) -> Tombstone | None:
    row = conn.execute(select(purges).where(purges.c.recording == recording)).first()
    return _tombstone(row) if row else None


def finish_tombstone(
    conn: Connection, recording: str, *, state: PurgeState, time: datetime | None, error: str | None
) -> None:
    conn.execute(
        update(purges).where(purges.c.recording == recording).values(state=state.value, purged_at=time, error=error)
    )


# -- facts for deadlines, compliance and purge ---------------------------------------------


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


def _facts(row: Any) -> RecordingFacts:
    return RecordingFacts(**dict(row._mapping))


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
        return [_facts(row) for row in conn.execute(query)]
    wanted = list(dict.fromkeys(ids))
    found: dict[str, RecordingFacts] = {}
    for start in range(0, len(wanted), 400):
        rows = conn.execute(query.where(recordings.c.id.in_(wanted[start : start + 400])))
        found.update({row.id: _facts(row) for row in rows})
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


def counts_by_receipt_state(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(receipts.c.state, func.count()).group_by(receipts.c.state))
    return {state: int(n) for state, n in rows}


def count_recordings(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(recordings)).scalar_one())


def count_purged(conn: Connection) -> int:
    query = select(func.count()).select_from(purges).where(purges.c.state == PurgeState.PURGED.value)
    return int(conn.execute(query).scalar_one())


def latest_checkpoint(conn: Connection) -> tuple[int, datetime] | None:
    row = conn.execute(select(checkpoints.c.size, checkpoints.c.created_at).order_by(checkpoints.c.size.desc())).first()
    return (int(row.size), row.created_at) if row else None


def held_recordings(conn: Connection) -> set[str]:
    """Recordings with an active evidence designation (a legal hold is on)."""
    rows = conn.execute(select(evidence.c.recording).where(evidence.c.released_at.is_(None)).distinct())
    return {r for (r,) in rows}


def evidence_retain_until(conn: Connection) -> Mapping[str, datetime]:
    """The longest retain-until each recording got as evidence (released designations included)."""
    rows = conn.execute(select(evidence.c.recording, func.max(evidence.c.retain_until)).group_by(evidence.c.recording))
    return {row[0]: row[1] for row in rows}
