"""Custody acts of an authenticated person (art. 26, 27): labels, evidence designation and release.

`evidock label`, `evidock evidence add|release` and the API call these, so both
check the same permission and write the same LABEL and HOLD entries naming that person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from access import people
from access.people import Permission, Person
from evidock.app import App, retention_context
from retention import evidence as evidence_mod
from retention import labelling
from retention.context import CustodyError


@dataclass(frozen=True)
class Shift:
    """A device's recordings that started in [start, end): what one officer's shift produced."""

    device: str
    start: datetime
    end: datetime


def label(
    evi: App,
    person: Person,
    *,
    recordings: Sequence[str] = (),
    shift: Shift | None = None,
    case_number: str,
    parties: Sequence[str],
    handler: str,
) -> list[labelling.LabelOutcome]:
    """Label recordings (ids or prefixes) or a shift with 案号, 当事人 and 承办人: one LABEL entry each."""
    person.require(Permission.CUSTODY)
    if recordings and shift is not None:
        raise CustodyError("give recording ids, or --device with --from and --to, not both")
    rctx = retention_context(evi)
    if shift is not None:
        ids = labelling.shift(rctx, device=shift.device, start=shift.start, end=shift.end)
    elif recordings:
        ids = labelling.resolve(rctx, recordings)
    else:
        raise CustodyError("give recording ids, or --device with --from and --to")
    return labelling.label(
        rctx, ids, case_number=case_number, parties=parties, handler=handler, by=person.name, now=evi.now()
    )


def designate(
    evi: App, person: Person, recordings: Sequence[str], *, case_number: str, period: str | None
) -> list[evidence_mod.EvidenceOutcome]:
    """Designate recordings as evidence of a case: legal hold on, retention extended (HOLD, RETENTION entries)."""
    person.require(Permission.CUSTODY)
    rctx = retention_context(evi)
    ids = labelling.resolve(rctx, recordings)
    return evidence_mod.add(
        rctx,
        ids,
        case_number=case_number,
        period=evidence_mod.parse_period(period, evi.settings.retention),
        by=person.name,
        now=evi.now(),
    )


def release(
    evi: App, person: Person, recording: str, *, reason: str, approved_by: str, case_number: str | None
) -> evidence_mod.ReleaseOutcome:
    """Lift a legal hold: a reason and another active custodian's approval (named by ``person``)."""
    person.require(Permission.CUSTODY)
    with evi.catalog.read() as conn:
        approver = people.approver(conn, approved_by, actor=person)
    rctx = retention_context(evi)
    (recording_id,) = labelling.resolve(rctx, [recording])
    return evidence_mod.release(
        rctx,
        recording_id,
        reason=reason,
        by=person.name,
        approved_by=approver,
        case_number=case_number,
        now=evi.now(),
    )
