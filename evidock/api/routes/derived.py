"""Derived files and redactions (art. 28, 29): the same functions as `evidock derived` and `evidock redact`.

Reading derived files or redactions is a query on the record (a QUERY entry
before the answer); each redaction step is its REDACTION entry; a preview
reads the original through the gate (an ACCESS entry) and answers a PNG.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from access.people import REASON_LENGTH
from evidock.api.deps import Caller, EntryIndex, Evi, Reason, RowId
from evidock.audit_queries import query_values
from evidock.recording_reads import NO_REASON
from storage import recordings as recordings_db
from storage.derived import DerivedKind, all_derived, get_derived
from storage.proxy_jobs import jobs

router = APIRouter(tags=["derived"])


@router.get("/derived", summary="Derived files (playback proxies, redacted copies) and proxies still to be made")
def derived_list(
    evi: Evi,
    person: Caller,
    recording: str | None = None,
    kind: DerivedKind | None = None,
    reason: Reason = NO_REASON,
) -> dict[str, Any]:
    query = query_values({"recording": recording, "kind": kind.value if kind else None})
    evi.gate().record_query(person, command="GET /api/v1/derived", query=query, reason=reason)
    with evi.catalog.read() as conn:
        rid = recordings_db.resolve(conn, recording).id if recording else None
        found = all_derived(conn, kind=kind, recording=rid)
        unmade = ("waiting", "running", "failed")
        pending = [j for j in jobs(conn, [rid] if rid else None).values() if j.state.value in unmade]
    return {"derived": [d.as_json() for d in found], "proxies_pending": [j.as_json() for j in pending]}


@router.get("/derived/{entry}", summary="One derived file by its DERIVED entry: hashes, ffmpeg version and arguments")
def derived_show(evi: Evi, person: Caller, entry: EntryIndex, reason: Reason = NO_REASON) -> dict[str, Any]:
    evi.gate().record_query(person, command="GET /api/v1/derived", query=query_values({"entry": entry}), reason=reason)
    with evi.catalog.read() as conn:
        return get_derived(conn, entry).as_json()


class RedactionBody(BaseModel):
    recording: str = Field(description="Recording id or a unique prefix.")
    spec: dict[str, Any] = Field(description="What to mute, bleep and blur (docs/derived.md): audio and video regions.")
    reason: str = Field(max_length=REASON_LENGTH, description="Why (事由).")
    request: int | None = Field(None, ge=1, description="The party's access request (art. 29) it serves.")


class StepBody(BaseModel):
    reason: str = Field(max_length=REASON_LENGTH, description="Why approved or rejected.")


class PreviewBody(BaseModel):
    at_ms: int = Field(ge=0, description="Milliseconds into the recording.")


class StatementBody(BaseModel):
    statement: str = Field(max_length=REASON_LENGTH, description="What the approver saw and heard.")
    recordings: list[str] = Field(default_factory=list, description="Only these of its recordings (default: all).")


@router.get("/redactions", summary="Redactions and no-third-parties statements")
def redactions_list(evi: Evi, person: Caller, recording: str | None = None, reason: Reason = NO_REASON) -> list[Any]:
    query = query_values({"recording": recording})
    evi.gate().record_query(person, command="GET /api/v1/redactions", query=query, reason=reason)
    return [r.as_json() for r in evi.redaction_desk().listing(person, recording)]


@router.post("/redactions", summary="Draft a redaction (checked against the recording): a REDACTION entry")
def redactions_new(evi: Evi, person: Caller, body: RedactionBody) -> dict[str, Any]:
    desk = evi.redaction_desk()
    return desk.new(person, body.recording, body.spec, reason=body.reason, request=body.request).as_json()


@router.get("/redactions/{number}", summary="One redaction: spec, state, people")
def redactions_show(evi: Evi, person: Caller, number: RowId, reason: Reason = NO_REASON) -> dict[str, Any]:
    query = query_values({"redaction": number})
    evi.gate().record_query(person, command="GET /api/v1/redactions", query=query, reason=reason)
    return evi.redaction_desk().get(person, number).as_json()


@router.post(
    "/redactions/{number}/preview",
    summary="One frame with the blurs applied (PNG); the original is read through the gate (an ACCESS entry)",
    responses={200: {"content": {"image/png": {}}}},
)
def redactions_preview(evi: Evi, person: Caller, number: RowId, body: PreviewBody) -> Response:
    with tempfile.TemporaryDirectory(prefix="evidock-preview-") as folder:
        shown = evi.redaction_desk().preview(person, number, at_ms=body.at_ms, out=Path(folder) / "frame.png")
        picture = shown.path.read_bytes()
    return Response(picture, media_type="image/png", headers={"X-Evidock-Access-Entry": str(shown.access_entry)})


@router.post("/redactions/{number}/submit", summary="Submit a draft for approval by another custodian")
def redactions_submit(evi: Evi, person: Caller, number: RowId) -> dict[str, Any]:
    return evi.redaction_desk().submit(person, number).as_json()


@router.post("/redactions/{number}/approve", summary="Approve (a custodian who neither drafted nor submitted it)")
def redactions_approve(evi: Evi, person: Caller, number: RowId, body: StepBody) -> dict[str, Any]:
    return evi.redaction_desk().decide(person, number, approve=True, reason=body.reason).as_json()


@router.post("/redactions/{number}/reject", summary="Reject (a custodian who neither drafted nor submitted it)")
def redactions_reject(evi: Evi, person: Caller, number: RowId, body: StepBody) -> dict[str, Any]:
    return evi.redaction_desk().decide(person, number, approve=False, reason=body.reason).as_json()


@router.post("/redactions/{number}/render", summary="Render an approved redaction: the copy and its DERIVED entry")
def redactions_render(evi: Evi, person: Caller, number: RowId) -> dict[str, Any]:
    return evi.redaction_desk().render(person, number).as_json()


@router.post(
    "/access-requests/{request}/no-third-parties",
    summary="The approver of a party's request states no third party is in its recordings (REDACTION entries)",
)
def no_third_parties(evi: Evi, person: Caller, request: RowId, body: StatementBody) -> list[dict[str, Any]]:
    asked = evi.gate().get_request(person, request)
    wanted = body.recordings or [g.recording for g in asked.grants]
    desk = evi.redaction_desk()
    return [desk.no_third_parties(person, request, r, statement=body.statement).as_json() for r in wanted]
