"""The audit trail and its anomaly rules: who read what, when, why and on whose approval.

The trail is read back from the log itself (:func:`audit_trail`): each
ACCESS entry, proven by the signed checkpoints, not a table that could be
edited. :func:`find_anomalies` is pure (values in, anomalies out);
:func:`anomaly_facts` reads what it needs besides the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select

from access.people import officers_by_user
from cases.evidence import designations
from chain import entries as chain_entries
from chain.entries import EntryType, JsonValue
from storage.access_terms import APPROVED_ACTIONS, Action, RequestStatus
from storage.schema import access_results, log_entries
from storage.schema import recordings as recordings_table


@dataclass(frozen=True)
class AccessRow:
    """One ACCESS entry as the audit reads it back from the log."""

    entry: int  # log index: `evidock log proof --entry N` proves it
    time: datetime
    station: str
    recording: str | None
    actor: str
    role: str
    action: str
    reason: str
    approver: str | None
    approval: int | None
    category: str | None
    document_ref: str | None
    request: int | None
    listed: int  # recordings a LIST entry showed (0 otherwise)

    def as_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "time": self.time.isoformat(),
            "station": self.station,
            "recording": self.recording,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "reason": self.reason,
            "approver": self.approver,
            "approval": self.approval,
            "requester_category": self.category,
            "document_ref": self.document_ref,
            "request": self.request,
            "listed": self.listed,
        }


def _text_or_none(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: JsonValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _access_row(index: int, data: bytes) -> AccessRow:
    entry = chain_entries.decode(data)
    body = entry.body
    count = _int_or_none(body.get("count"))
    return AccessRow(
        entry=index,
        time=entry.timestamp,
        station=entry.station,
        recording=entry.recording,
        actor=str(body["actor"]),
        role=str(body["role"]),
        action=str(body["action"]),
        reason=str(body["reason"]),
        approver=_text_or_none(body.get("approver")),
        approval=_int_or_none(body.get("approval")),
        category=_text_or_none(body.get("requester_category")),
        document_ref=_text_or_none(body.get("document_ref")),
        request=_int_or_none(body.get("request")),
        listed=count if body.get("action") == Action.LIST.value and count is not None else 0,
    )


def audit_trail(
    conn: Connection,
    *,
    recordings: Collection[str] | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
) -> list[AccessRow]:
    """ACCESS entries from the log, oldest first; ``recordings`` also matches searches that listed them."""
    query = select(log_entries.c.idx, log_entries.c.data).where(log_entries.c.type == EntryType.ACCESS.value)
    if since is not None:
        query = query.where(log_entries.c.time >= since)
    if until is not None:
        query = query.where(log_entries.c.time < until)
    if before is not None:
        query = query.where(log_entries.c.idx < before)
    rows = [_access_row(int(i), bytes(d)) for i, d in conn.execute(query.order_by(log_entries.c.idx))]
    if user is not None:
        rows = [r for r in rows if r.actor == user]
    if recordings is not None:
        wanted = set(recordings)
        listing = {r.entry for r in rows if r.action == Action.LIST.value}
        showed: set[int] = set()
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 400):  # SQLite limits bound parameters per statement
            found = conn.execute(
                select(access_results.c.entry).where(access_results.c.recording.in_(ordered[start : start + 400]))
            )
            showed.update(int(e) for (e,) in found if int(e) in listing)
        rows = [r for r in rows if r.recording in wanted or r.entry in showed]
    return rows


# -- anomalies ---------------------------------------------------------------------------------


class AnomalyKind(StrEnum):
    OWN_EVIDENCE = "own_evidence"  # the recording officer reading their own recording that is evidence
    OUTSIDE_HOURS = "outside_hours"  # outside working hours (working days, config access.working_hours)
    BULK = "bulk"  # more than access.bulk_threshold recordings by one person within an hour
    NO_APPROVAL = "no_approval"  # a copy/download/export without a matching approval: only tampering does that
    EXPORT = "export"  # every export, for review


@dataclass(frozen=True)
class Anomaly:
    kind: AnomalyKind
    entry: int  # the log entry to look at (and prove with `evidock log proof --entry N`)
    time: datetime
    actor: str
    recording: str | None
    detail: str
    entries: tuple[int, ...] = ()  # for bulk: every entry of the burst

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "entry": self.entry,
            "time": self.time.isoformat(),
            "actor": self.actor,
            "recording": self.recording,
            "detail": self.detail,
            "entries": list(self.entries),
        }


@dataclass(frozen=True)
class ApprovalFact:
    """An APPROVAL entry, as an ACCESS entry's ``approval`` must match it."""

    entry: int
    time: datetime
    recording: str | None
    approver: str
    action: str
    decision: str
    request: int | None
    requested_by: str | None
    expires: datetime | None


@dataclass(frozen=True)
class ExportFact:
    """An EXPORT entry (a recording put on a disc export)."""

    entry: int
    time: datetime
    recording: str | None
    by: str


@dataclass(frozen=True)
class AnomalyFacts:
    approvals: Mapping[int, ApprovalFact] = field(default_factory=dict)
    officer_of: Mapping[str, str] = field(default_factory=dict)  # user name -> officer id (警号)
    recording_officer: Mapping[str, str | None] = field(default_factory=dict)
    evidence: Mapping[str, Sequence[tuple[datetime, datetime | None]]] = field(default_factory=dict)  # designations
    exports: Sequence[ExportFact] = ()


def anomaly_facts(conn: Connection, rows: Sequence[AccessRow], *, before: int | None = None) -> AnomalyFacts:
    """What :func:`find_anomalies` needs besides the rows, read from the log and the catalog."""
    wanted = sorted({r.approval for r in rows if r.approval is not None})
    approvals: dict[int, ApprovalFact] = {}
    for start in range(0, len(wanted), 400):
        found = conn.execute(
            select(log_entries.c.idx, log_entries.c.data).where(log_entries.c.idx.in_(wanted[start : start + 400]))
        )
        for idx, data in found:
            entry = chain_entries.decode(bytes(data))
            if entry.type is not EntryType.APPROVAL:
                continue
            body = entry.body
            expires = body.get("expires")
            approvals[int(idx)] = ApprovalFact(
                entry=int(idx),
                time=entry.timestamp,
                recording=entry.recording,
                approver=str(body["approver"]),
                action=str(body["action"]),
                decision=str(body["decision"]),
                request=_int_or_none(body.get("request")),
                requested_by=_text_or_none(body.get("requested_by")),
                expires=chain_entries.parse_time(expires) if isinstance(expires, str) else None,
            )
    about = sorted({r.recording for r in rows if r.recording is not None})
    officers: dict[str, str | None] = {}
    for start in range(0, len(about), 400):
        found_officers = conn.execute(
            select(recordings_table.c.id, recordings_table.c.officer).where(
                recordings_table.c.id.in_(about[start : start + 400])
            )
        )
        officers.update({str(rid): officer for rid, officer in found_officers})
    evidence: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for d in designations(conn):
        evidence.setdefault(d.recording, []).append((d.added_at, d.released_at))
    export_query = select(log_entries.c.idx, log_entries.c.data).where(log_entries.c.type == EntryType.EXPORT.value)
    if before is not None:
        export_query = export_query.where(log_entries.c.idx < before)
    exports = []
    for idx, data in conn.execute(export_query.order_by(log_entries.c.idx)):
        entry = chain_entries.decode(bytes(data))
        by = entry.body.get("extractor") or entry.body.get("maker") or ""
        exports.append(ExportFact(int(idx), entry.timestamp, entry.recording, str(by)))
    return AnomalyFacts(
        approvals=approvals,
        officer_of=officers_by_user(conn),
        recording_officer=officers,
        evidence=evidence,
        exports=exports,
    )


def _was_evidence(periods: Sequence[tuple[datetime, datetime | None]], moment: datetime) -> bool:
    return any(start <= moment and (end is None or moment < end) for start, end in periods)


def _approval_problem(row: AccessRow, facts: AnomalyFacts, used: set[int]) -> str | None:
    if row.approval is None:
        return "no approval named"
    found = facts.approvals.get(row.approval)
    checks = (
        (found is None, f"entry {row.approval} is not an APPROVAL entry"),
        (found is not None and found.entry >= row.entry, "the approval comes after the access"),
        (found is not None and found.decision != RequestStatus.APPROVED.value, "the request was denied"),
        (found is not None and found.recording != row.recording, "the approval is for another recording"),
        (found is not None and found.action != row.action, "the approval is for another action"),
        (found is not None and found.approver != row.approver, "the approver differs from the approval's"),
        (found is not None and found.approver == row.actor, "self-approved"),
        (found is not None and found.requested_by != row.actor, "the approval was asked for by someone else"),
        (found is not None and found.request != row.request, "the request differs from the approval's"),
        (found is not None and (found.expires is None or row.time > found.expires), "the approval had expired"),
        (row.approval in used, "the approval was used before (single-use)"),
    )
    return next((problem for bad, problem in checks if bad), None)


def find_anomalies(
    rows: Sequence[AccessRow],
    facts: AnomalyFacts,
    *,
    is_working_time: Callable[[datetime], bool],
    bulk_threshold: int,
    bulk_window: timedelta = timedelta(hours=1),
) -> list[Anomaly]:
    """The accesses an auditor should look at (pure: values in, anomalies out), ordered by entry."""
    found: list[Anomaly] = []
    used: set[int] = set()
    for row in sorted(rows, key=lambda r: r.entry):
        if row.recording is not None:
            officer = facts.officer_of.get(row.actor)
            mine = officer is not None and facts.recording_officer.get(row.recording) == officer
            if mine and _was_evidence(facts.evidence.get(row.recording, ()), row.time):
                found.append(
                    Anomaly(
                        AnomalyKind.OWN_EVIDENCE,
                        row.entry,
                        row.time,
                        row.actor,
                        row.recording,
                        f"officer {officer} ({row.actor}) read their own recording, which is evidence ({row.action})",
                    )
                )
        if not is_working_time(row.time):
            found.append(
                Anomaly(
                    AnomalyKind.OUTSIDE_HOURS,
                    row.entry,
                    row.time,
                    row.actor,
                    row.recording,
                    f"{row.action} outside working hours",
                )
            )
        if row.action in {a.value for a in APPROVED_ACTIONS}:
            problem = _approval_problem(row, facts, used)
            if problem is not None:
                found.append(
                    Anomaly(
                        AnomalyKind.NO_APPROVAL,
                        row.entry,
                        row.time,
                        row.actor,
                        row.recording,
                        f"{row.action} without a matching approval: {problem}",
                    )
                )
            if row.approval is not None:
                used.add(row.approval)
        if row.action == Action.EXPORT.value:
            found.append(Anomaly(AnomalyKind.EXPORT, row.entry, row.time, row.actor, row.recording, "export (review)"))
    for export in facts.exports:
        found.append(
            Anomaly(AnomalyKind.EXPORT, export.entry, export.time, export.by, export.recording, "disc export (review)")
        )
    found += _bulk(rows, threshold=bulk_threshold, window=bulk_window)
    return sorted(found, key=lambda a: (a.entry, a.kind.value))


def _bulk(rows: Sequence[AccessRow], *, threshold: int, window: timedelta) -> list[Anomaly]:
    """Per person: a burst of more than ``threshold`` distinct recordings within ``window``, reported once."""
    by_actor: dict[str, list[AccessRow]] = {}
    for row in rows:
        if row.recording is not None:
            by_actor.setdefault(row.actor, []).append(row)
    found = []
    for actor, mine in sorted(by_actor.items()):
        mine.sort(key=lambda r: (r.time, r.entry))
        start = 0
        in_burst = False
        for end, row in enumerate(mine):
            while mine[start].time <= row.time - window:
                start += 1
            inside = mine[start : end + 1]
            distinct = {r.recording for r in inside}
            if len(distinct) > threshold and not in_burst:
                in_burst = True
                found.append(
                    Anomaly(
                        AnomalyKind.BULK,
                        row.entry,
                        row.time,
                        actor,
                        None,
                        f"{len(distinct)} recordings within {window.total_seconds() / 60:g} minutes "
                        f"(more than {threshold})",
                        tuple(r.entry for r in inside),
                    )
                )
            elif len(distinct) <= threshold:
                in_burst = False
    return found
