"""Custody (art. 26, 27): labels, evidence designation and release, as the authenticated custodian."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from access.people import REASON_LENGTH
from evidock import custody
from evidock.api.deps import Caller, Evi
from evidock.moments import utc

router = APIRouter(tags=["custody"])


class ShiftBody(BaseModel):
    device: str
    start: datetime = Field(description="Recordings that started at or after this (local time unless offset) ...")
    end: datetime = Field(description="... and before this.")


class LabelBody(BaseModel):
    recordings: list[str] = Field(default_factory=list, description="Recording ids or unique prefixes.")
    shift: ShiftBody | None = Field(None, description="Or: a device's recordings of a shift.")
    case_number: str = Field(description="Case number (案号).")
    parties: list[str] = Field(default_factory=list, description="Party names (当事人).")
    handler: str = Field(description="Handler's name (承办人).")


@router.post("/labels", summary="Label recordings (案号, 当事人, 承办人): one LABEL entry each, by the caller")
def labels_set(evi: Evi, person: Caller, body: LabelBody) -> list[dict[str, Any]]:
    shift = None
    if body.shift is not None:
        zone = evi.settings.timezone
        shift = custody.Shift(body.shift.device, utc(body.shift.start, zone), utc(body.shift.end, zone))
    outcomes = custody.label(
        evi,
        person,
        recordings=body.recordings,
        shift=shift,
        case_number=body.case_number,
        parties=body.parties,
        handler=body.handler,
    )
    return [o.as_json() for o in outcomes]


class EvidenceBody(BaseModel):
    recordings: list[str] = Field(min_length=1, description="Recording ids or unique prefixes.")
    case_number: str = Field(description="Case number (案号).")
    period: str | None = Field(None, description='Whole years, or "permanent" (永久); default from config.')


@router.post("/evidence", summary="Designate evidence: legal hold on, retention extended (HOLD, RETENTION entries)")
def evidence_designate(evi: Evi, person: Caller, body: EvidenceBody) -> list[dict[str, Any]]:
    outcomes = custody.designate(evi, person, body.recordings, case_number=body.case_number, period=body.period)
    return [o.as_json() for o in outcomes]


class ReleaseBody(BaseModel):
    reason: str = Field(max_length=REASON_LENGTH, description="Why the hold is lifted.")
    approved_by: str = Field(description="Another active custodian who approved (not the caller).")
    case_number: str | None = Field(None, description="Release only this case's designation (案号).")


@router.post("/evidence/{recording}/release", summary="Lift a legal hold, with a second custodian's approval")
def evidence_release(evi: Evi, person: Caller, recording: str, body: ReleaseBody) -> dict[str, Any]:
    outcome = custody.release(
        evi, person, recording, reason=body.reason, approved_by=body.approved_by, case_number=body.case_number
    )
    return outcome.as_json()
