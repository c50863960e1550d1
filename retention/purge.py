"""Purge: delete recordings whose retention has passed (art. 27 第二十七条, art. 28 第二十八条).

A recording is purged only when all of these hold at ``now``:

* ``retention.policy.purge_eligible``: its retain-until (the ingest value and
  any longer one it got as evidence) **and** the art. 27 floor recomputed from
  its end have passed, it has no legal hold, it is not evidence, and its case
  (current label or evidence designation) is not open;
* the object store agrees: the stored version has no legal hold and its
  COMPLIANCE retain-until is not after ``now``.

Then, in this order:

1. one transaction writes the **PURGE entry** and the **tombstone** row
   (``storage.tombstones``: hash, object key and version, end, retention,
   every label, the reason). The log keeps the fact that the file existed
   before any byte is gone; the tombstone's primary key makes sure two
   processes never write two PURGE entries for one recording;
2. every version of the object key is deleted. The server refuses while a
   lock holds; a refusal is reported and recorded (``state = 'refused'``),
   never forced (no governance bypass exists in COMPLIANCE mode anyway), and
   the next purge retries it;
3. once no version is left the tombstone is ``purged`` with ``purged_at``.

Derived files of the recording (playback proxies, redacted copies, under
``derived/<recording>/``) go with it: the PURGE entry names them, and step 2
deletes their versions too (they are never locked longer than the original).

The ``recordings`` row stays (its INGEST entry still describes it); the
tombstone is what says the object is gone. ``evidock purge`` runs ``purge``
as a dry run unless ``--apply``; the daily job runs it with
``purge.apply`` (default true).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from cases.evidence import designations, evidence_retain_until, held_recordings
from cases.labels import label_history, latest_labels
from cases.register import all_cases
from chain.entries import EntryType
from retention.context import RetentionContext, retention_basis, version_of
from retention.policy import PurgeFacts, purge_eligible
from storage.derived import derived_of, derived_prefix
from storage.errors import StorageError
from storage.recording_facts import RecordingFacts, recording_facts
from storage.tombstones import PurgeState, Tombstone, add_tombstone, finish_tombstone, tombstones

__all__ = ["PurgeItem", "PurgeReport", "purge"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PurgeItem:
    recording: str
    action: str  # "would purge", "purged", "skipped", "refused", "error"
    reasons: tuple[str, ...]  # why it was skipped or refused; empty when purged
    entry: int | None = None  # the PURGE entry's log index
    versions_deleted: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "action": self.action,
            "reasons": list(self.reasons),
            "entry": self.entry,
            "versions_deleted": self.versions_deleted,
        }


@dataclass(frozen=True)
class PurgeReport:
    applied: bool  # False: a dry run; nothing was written or deleted
    checked_at: dt.datetime
    items: list[PurgeItem]

    def count(self, action: str) -> int:
        return sum(item.action == action for item in self.items)

    def summary(self) -> str:
        actions = ("purged", "would purge", "refused", "skipped", "error")
        parts = [f"{self.count(a)} {a}" for a in actions if self.count(a)]
        return ("purge: " if self.applied else "purge (dry run): ") + (", ".join(parts) or "nothing to purge")

    def as_json(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "checked_at": self.checked_at.isoformat(),
            "summary": self.summary(),
            "items": [i.as_json() for i in self.items],
        }


def purge(ctx: RetentionContext, *, now: dt.datetime, apply: bool) -> PurgeReport:
    """Decide (and with ``apply``, carry out) the purge of every expired recording at ``now``."""
    items: list[PurgeItem] = []
    with ctx.catalog.read() as conn:
        unfinished = tombstones(conn, states=(PurgeState.DELETING, PurgeState.REFUSED))
        started = {t.recording for t in tombstones(conn)}
        candidates = [f for f in recording_facts(conn, retained_before=now) if f.id not in started]
        held = held_recordings(conn)
        evidence_until = evidence_retain_until(conn)
        labels = latest_labels(conn, [f.id for f in candidates])
        case_rows = {c.case_number: c for c in all_cases(conn)}
        active = designations(conn, active_only=True)
    open_cases = {n for n, c in case_rows.items() if c.open}
    evidence_cases: dict[str, set[str]] = {}
    for d in active:
        evidence_cases.setdefault(d.recording, set()).add(d.case_number)

    for tomb in unfinished:
        if apply:
            items.append(_delete(ctx, tomb, now=now))
        else:
            items.append(PurgeItem(tomb.recording, "would purge", _unfinished_reason(tomb), tomb.purge_entry))

    for facts in candidates:
        linked = set(evidence_cases.get(facts.id, ()))
        label = labels.get(facts.id)
        if label is not None:
            linked.add(label.case_number)
        decision = purge_eligible(
            PurgeFacts(
                ended_at=retention_basis(facts),
                retain_until=max(facts.retain_until, evidence_until.get(facts.id, facts.retain_until)),
                legal_hold=facts.id in held,
                evidence=facts.id in held,
                open_case=any(c in open_cases or c not in case_rows for c in linked),
            ),
            ctx.policy,
            now=now,
            tz=ctx.tz,
        )
        if not decision:
            items.append(PurgeItem(facts.id, "skipped", decision.reasons))
            continue
        try:
            refusal = _server_refusal(ctx, facts, now=now)
        except StorageError as exc:
            items.append(PurgeItem(facts.id, "error", (str(exc),)))
            continue
        if refusal:
            items.append(PurgeItem(facts.id, "skipped", (refusal,)))
            continue
        if not apply:
            items.append(PurgeItem(facts.id, "would purge", ()))
            continue
        items.append(_start(ctx, facts, now=now, linked=sorted(linked)))
    report = PurgeReport(apply, now, items)
    log.info("%s", report.summary())
    return report


def _unfinished_reason(tomb: Tombstone) -> tuple[str, ...]:
    why = f": {tomb.error}" if tomb.error else ""
    return (f"PURGE entry {tomb.purge_entry} written; deletion {tomb.state.value}{why}",)


def _server_refusal(ctx: RetentionContext, facts: RecordingFacts, *, now: dt.datetime) -> str | None:
    """Why the object store would refuse the deletion at ``now``, if it would."""
    lock = ctx.store.read_lock(version_of(facts))
    if lock.legal_hold:
        return "the object store has a legal hold on it (not recorded in the catalog: check the HOLD entries)"
    if lock.retain_until is not None and lock.retain_until > now:
        return f"the object store retains it ({lock.mode}) until {lock.retain_until.astimezone(ctx.tz).isoformat()}"
    return None


def _start(ctx: RetentionContext, facts: RecordingFacts, *, now: dt.datetime, linked: list[str]) -> PurgeItem:
    """PURGE entry and tombstone first (one transaction), then the deletion."""
    reason = (
        f"retention passed (retained until {facts.retain_until.astimezone(ctx.tz).isoformat()}), no legal hold, "
        f"not evidence, no open case (art. 27 第二十七条)"
    )
    try:
        with ctx.catalog.begin() as conn:
            history = [label.as_json() for label in label_history(conn, facts.id)]
            derived = [
                {"entry": d.entry, "kind": d.kind.value, "object_key": d.object_key, "version_id": d.version_id}
                for d in derived_of(conn, facts.id)
            ]
            entry = ctx.journal.append(
                conn,
                EntryType.PURGE,
                recording=facts.id,
                body={
                    "object_key": facts.object_key,
                    "version_id": facts.version_id,
                    "reason": reason,
                    "sha256": facts.id,
                    "size": facts.size,
                    "retain_until": facts.retain_until,
                    "ended_at": retention_basis(facts),
                    "cases": linked,
                    "derived": derived,
                },
                time=now,
            )
            tomb = Tombstone(
                recording=facts.id,
                object_key=facts.object_key,
                version_id=facts.version_id,
                size=facts.size,
                ended_at=retention_basis(facts),
                retain_until=facts.retain_until,
                labels=history,
                reason=reason,
                purge_entry=entry,
                decided_at=now,
                state=PurgeState.DELETING,
                purged_at=None,
                error=None,
            )
            add_tombstone(conn, tomb)
    except StorageError as exc:
        # Most likely another process started this purge first (the tombstone's key).
        return PurgeItem(facts.id, "error", (f"PURGE entry not written: {exc}",))
    return _delete(ctx, tomb, now=now)


def _delete(ctx: RetentionContext, tomb: Tombstone, *, now: dt.datetime) -> PurgeItem:
    """Delete every version of the object and of its derived files; record purged, or what the server refused."""
    errors: list[str] = []
    deleted = 0
    derived = derived_prefix(tomb.recording)
    try:
        doomed = [*ctx.store.versions(tomb.object_key), *(v.version for v in ctx.store.listing(derived))]
        for version in doomed:
            try:
                ctx.store.delete_version(version)
                deleted += 1
            except StorageError as exc:
                errors.append(str(exc))
        left = [*ctx.store.versions(tomb.object_key), *ctx.store.listing(derived)]
    except StorageError as exc:
        errors.append(str(exc))
        left = []
    if left and not errors:
        errors.append(f"{len(left)} version(s) still there after deleting")
    state = PurgeState.REFUSED if errors else PurgeState.PURGED
    with ctx.catalog.begin() as conn:
        finish_tombstone(
            conn,
            tomb.recording,
            state=state,
            time=now if state is PurgeState.PURGED else None,
            error="; ".join(errors) or None,
        )
    if errors:
        log.error("purge of recording %s refused by the object store (not forced): %s", tomb.recording, errors[0])
        return PurgeItem(tomb.recording, "refused", tuple(errors), tomb.purge_entry, deleted)
    log.info("purged recording %s (%d version(s)), PURGE entry %d", tomb.recording, deleted, tomb.purge_entry)
    return PurgeItem(tomb.recording, "purged", (), tomb.purge_entry, deleted)
