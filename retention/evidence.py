"""Evidence (作为证据使用, art. 27 第二十七条): legal hold and case-term retention.

Designating a recording as evidence of a case:

1. sets the **legal hold** on the stored version and reads it back;
2. extends the COMPLIANCE retain-until to the case-file term
   (``retention.policy.retain_until(..., EVIDENCE)``: ``--period`` years after
   the recording, or for permanent evidence a rolling window renewed by the
   daily job) and reads it back. COMPLIANCE retention can only grow, so a
   recording that already has a later date keeps it;
3. writes a HOLD entry (and a RETENTION entry when the date moved) and the
   catalog row, in one transaction, with the values the server returned.

The object store goes first: if the catalog write then fails the object is
protected more than recorded, never less, and running the command again
finishes the job.

Releasing a hold needs a reason and a **second person's approval**: the
approver must differ from the acting user. The command line acts as the
authenticated person and checks that ``--approved-by`` names another active
custodian (``access.people.approver``); both names are recorded in the HOLD
entry. The release is logged *before* the hold comes off, so
the log never misses a release; the legal hold is lifted only when no other
case still holds the recording. Retention is not shortened (it cannot be).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from cases.evidence import add_designation, designations, extend_designations, release_designations
from chain.entries import EntryType
from retention.context import (
    CustodyError,
    RetentionContext,
    checked_case_number,
    checked_text,
    retention_basis,
    version_of,
)
from retention.errors import PolicyError
from retention.policy import PERMANENT, Category, RetentionPolicy, extend, permanent_renewal_due, retain_until
from storage.errors import StorageError
from storage.recording_facts import RecordingFacts, recording_facts
from storage.tombstones import tombstone

__all__ = [
    "EvidenceOutcome",
    "ReleaseOutcome",
    "RenewalOutcome",
    "add",
    "parse_period",
    "release",
    "renew_permanent",
]

log = logging.getLogger(__name__)


def parse_period(text: str | None, policy: RetentionPolicy) -> str:
    """``--period``: whole years or "permanent" (永久); None means ``retention.evidence_years``."""
    if text is None:
        return str(policy.evidence_years)
    value = text.strip().lower()
    if value in (PERMANENT, "永久"):
        return PERMANENT
    if not value.isdigit() or int(value) < 1:
        raise CustodyError(
            f'--period {text!r} is not a retention term: give whole years (e.g. 30) or "{PERMANENT}" (永久)'
        )
    return str(int(value))


def _policy_for(policy: RetentionPolicy, period: str) -> RetentionPolicy:
    try:
        return replace(policy, evidence_years=PERMANENT if period == PERMANENT else int(period))
    except PolicyError as exc:
        raise CustodyError(f"--period {period}: {exc}") from exc


@dataclass(frozen=True)
class EvidenceOutcome:
    recording: str
    case_number: str
    period: str
    legal_hold: bool  # read back from the server
    retain_until: dt.datetime  # read back from the server
    previous_retain_until: dt.datetime | None
    hold_entry: int | None  # None: already evidence of this case with this term; nothing written
    retention_entry: int | None  # None: the server already had this date or a later one

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "case_number": self.case_number,
            "period": self.period,
            "legal_hold": self.legal_hold,
            "retain_until": self.retain_until.isoformat(),
            "previous_retain_until": self.previous_retain_until.isoformat() if self.previous_retain_until else None,
            "hold_entry": self.hold_entry,
            "retention_entry": self.retention_entry,
        }


def _facts(ctx: RetentionContext, recordings: Sequence[str]) -> list[RecordingFacts]:
    with ctx.catalog.read() as conn:
        found = recording_facts(conn, ids=recordings)
        gone = [r for r in recordings if tombstone(conn, r) is not None]
    if gone:
        raise CustodyError(f"recording {gone[0]} was purged; it cannot be evidence")
    missing = set(recordings) - {f.id for f in found}
    if missing:
        raise CustodyError(f"no recording {sorted(missing)[0]}")
    return found


def add(
    ctx: RetentionContext,
    recordings: Sequence[str],
    *,
    case_number: str,
    period: str,
    by: str,
    now: dt.datetime,
) -> list[EvidenceOutcome]:
    """Designate full recording ids as evidence of ``case_number`` (see the module docstring)."""
    case_number = checked_case_number(case_number)
    by = checked_text("acting user", by)
    period = parse_period(period, ctx.policy)
    policy = _policy_for(ctx.policy, period)
    return [
        _add_one(ctx, facts, case_number=case_number, period=period, policy=policy, by=by, now=now)
        for facts in _facts(ctx, recordings)
    ]


def _add_one(
    ctx: RetentionContext,
    facts: RecordingFacts,
    *,
    case_number: str,
    period: str,
    policy: RetentionPolicy,
    by: str,
    now: dt.datetime,
) -> EvidenceOutcome:
    version = version_of(facts)
    wanted = retain_until(retention_basis(facts), policy, Category.EVIDENCE, now=now, tz=ctx.tz)
    before = ctx.store.read_lock(version)
    held = ctx.store.set_legal_hold(version, True) if not before.legal_hold else before
    target = extend(before.retain_until, wanted) if before.retain_until else wanted
    after = ctx.store.lock(version, target)  # a no-op when the server already has this date or later
    if after.retain_until is None:  # lock() raises LockNotApplied first; this keeps mypy honest
        raise StorageError(f"{version.key}: no retain-until after locking")
    extended = before.retain_until is None or after.retain_until > before.retain_until
    with ctx.catalog.begin() as conn:
        same = [
            d
            for d in designations(conn, facts.id, active_only=True)
            if d.case_number == case_number and d.period == period
        ]
        if same and not extended:
            return EvidenceOutcome(
                facts.id, case_number, period, held.legal_hold, after.retain_until, before.retain_until, None, None
            )
        term = "permanent (永久)" if period == PERMANENT else f"{period} years"
        hold_entry = ctx.journal.append(
            conn,
            EntryType.HOLD,
            recording=facts.id,
            body={
                "action": "set",
                "reason": f"evidence of case {case_number} (作为证据使用, art. 27)",
                "case_number": case_number,
                "period": period,
                "retain_until": after.retain_until,
                "by": by,
            },
            time=now,
        )
        retention_entry = None
        if extended:
            retention_entry = ctx.journal.append(
                conn,
                EntryType.RETENTION,
                recording=facts.id,
                body={
                    "retain_until": after.retain_until,
                    "reason": f"evidence of case {case_number}, kept {term}",
                    "case_number": case_number,
                    "period": period,
                    "previous": before.retain_until,
                    "by": by,
                },
                time=now,
            )
        add_designation(
            conn,
            recording=facts.id,
            case_number=case_number,
            period=period,
            retain_until=after.retain_until,
            by=by,
            time=now,
            hold_entry=hold_entry,
        )
        extend_designations(conn, facts.id, after.retain_until)
    return EvidenceOutcome(
        facts.id,
        case_number,
        period,
        held.legal_hold,
        after.retain_until,
        before.retain_until,
        hold_entry,
        retention_entry,
    )


@dataclass(frozen=True)
class ReleaseOutcome:
    recording: str
    released_cases: tuple[str, ...]
    still_held_for: tuple[str, ...]  # cases that keep the legal hold on
    legal_hold: bool  # read back from the server
    hold_entry: int | None  # None: an earlier logged release was only finished on the server

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "released_cases": list(self.released_cases),
            "still_held_for": list(self.still_held_for),
            "legal_hold": self.legal_hold,
            "hold_entry": self.hold_entry,
        }


def release(
    ctx: RetentionContext,
    recording: str,
    *,
    reason: str,
    by: str,
    approved_by: str,
    case_number: str | None = None,
    now: dt.datetime,
) -> ReleaseOutcome:
    """Lift the evidence hold of a full recording id (all its cases, or only ``case_number``)."""
    reason = checked_text("reason", reason, limit=2000)
    by = checked_text("acting user", by)
    approved_by = checked_text("approver (--approved-by)", approved_by)
    if approved_by.casefold() == by.casefold():
        raise CustodyError(
            f"lifting a legal hold needs a second person's approval: --approved-by {approved_by!r} "
            f"is the acting user; ask another person to approve"
        )
    (facts,) = _facts(ctx, [recording])
    version = version_of(facts)
    with ctx.catalog.begin() as conn:
        active = designations(conn, facts.id, active_only=True)
        chosen = [d for d in active if case_number is None or d.case_number == case_number]
        remaining = sorted({d.case_number for d in active if d not in chosen})
        hold_entry = None
        if chosen:
            released = sorted({d.case_number for d in chosen})
            hold_entry = ctx.journal.append(
                conn,
                EntryType.HOLD,
                recording=facts.id,
                body={
                    "action": "release",
                    "reason": reason,
                    "case_number": ", ".join(released),
                    "cases": released,
                    "by": by,
                    "approved_by": approved_by,
                    "hold_remains": bool(remaining),
                },
                time=now,
            )
            release_designations(
                conn, [d.id for d in chosen], by=by, approved_by=approved_by, reason=reason, time=now, entry=hold_entry
            )
    if not chosen:
        lock = ctx.store.read_lock(version)
        if active or not lock.legal_hold:
            which = f" for case {case_number}" if case_number else ""
            raise CustodyError(f"recording {facts.id} is not held as evidence{which}")
        # A release was logged but the server still holds it (the hold came off the catalog,
        # not the store, last time): finish it. Its HOLD entry is already in the log.
        log.warning("finishing an earlier logged release of recording %s on the object store", facts.id)
        released = []
    if remaining:
        return ReleaseOutcome(facts.id, tuple(released), tuple(remaining), True, hold_entry)
    try:
        after = ctx.store.set_legal_hold(version, False)
    except StorageError as exc:
        raise StorageError(
            f"the release of recording {facts.id} is logged but the object store kept the legal hold "
            f"({exc}); run the same release again to finish it"
        ) from exc
    return ReleaseOutcome(facts.id, tuple(released), (), after.legal_hold, hold_entry)


@dataclass(frozen=True)
class RenewalOutcome:
    recording: str
    previous: dt.datetime | None
    retain_until: dt.datetime
    entry: int


def renew_permanent(ctx: RetentionContext, *, now: dt.datetime) -> list[RenewalOutcome]:
    """Push out the rolling retain-until of permanent evidence once it is due (``permanent_renewal_due``)."""
    policy = _policy_for(ctx.policy, PERMANENT)
    with ctx.catalog.read() as conn:
        permanent = {d.recording for d in designations(conn, active_only=True) if d.period == PERMANENT}
        facts = recording_facts(conn, ids=sorted(permanent))
    renewed = []
    for item in facts:
        version = version_of(item)
        current = ctx.store.read_lock(version)
        if current.retain_until is not None and not permanent_renewal_due(current.retain_until, policy, now=now):
            continue
        wanted = retain_until(retention_basis(item), policy, Category.EVIDENCE, now=now, tz=ctx.tz)
        after = ctx.store.lock(version, extend(current.retain_until, wanted) if current.retain_until else wanted)
        if after.retain_until is None:
            raise StorageError(f"{version.key}: no retain-until after locking")
        with ctx.catalog.begin() as conn:
            entry = ctx.journal.append(
                conn,
                EntryType.RETENTION,
                recording=item.id,
                body={
                    "retain_until": after.retain_until,
                    "reason": "permanent evidence (永久): rolling retain-until renewed",
                    "period": PERMANENT,
                    "previous": current.retain_until,
                },
                time=now,
            )
            extend_designations(conn, item.id, after.retain_until)
        log.info("renewed permanent evidence %s until %s", item.id, after.retain_until.isoformat())
        renewed.append(RenewalOutcome(item.id, current.retain_until, after.retain_until, entry))
    return renewed
