"""Access requests and approvals (art. 29): copies, downloads and exports need a second person."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from access.people import REASON_LENGTH
from evidock.api.deps import Caller, Evi, RowId
from storage.access_terms import Action, Category
from storage.schema import DOCUMENT_LENGTH, PERSON_LENGTH

router = APIRouter(prefix="/access-requests", tags=["access"])


class RequestBody(BaseModel):
    recordings: list[str] = Field(min_length=1, description="Recording ids or unique prefixes.")
    action: Action = Field(description="copy, download or export.")
    reason: str = Field(max_length=REASON_LENGTH, description="Why (事由).")
    category: Category = Field(Category.INTERNAL, description="Who it is for (art. 29).")
    document_ref: str | None = Field(
        None, max_length=DOCUMENT_LENGTH, description="Document reference (文号); needed unless internal."
    )
    requester: str | None = Field(None, max_length=PERSON_LENGTH, description="Who outside asks (court, lawyer).")
    party: str | None = Field(None, max_length=PERSON_LENGTH, description="With category party: 当事人.")


class DecisionBody(BaseModel):
    reason: str = Field(max_length=REASON_LENGTH, description="Why approved or denied.")


class ApprovalBody(DecisionBody):
    no_third_parties: str | None = Field(
        None,
        max_length=REASON_LENGTH,
        description="A party's request (art. 29): the approver's statement that no third party is seen or heard "
        "in its recordings, so the party may have the originals; without it they get approved redacted copies.",
    )


@router.post("", summary="Ask for a copy, download or export; another custodian decides")
def requests_create(evi: Evi, person: Caller, body: RequestBody) -> dict[str, Any]:
    made = evi.gate().request(
        person,
        body.recordings,
        action=body.action,
        reason=body.reason,
        category=body.category,
        document_ref=body.document_ref,
        requester=body.requester,
        party=body.party,
    )
    return made.as_json(evi.now())


@router.get("", summary="Requests: the caller's own, or all of them for custodians and auditors")
def requests_list(evi: Evi, person: Caller, pending: bool = False) -> list[dict[str, Any]]:
    now = evi.now()
    return [r.as_json(now) for r in evi.gate().list_requests(person, pending_only=pending)]


@router.get("/{request}", summary="One request: recordings, decision, expiry, copies taken")
def requests_show(evi: Evi, person: Caller, request: RowId) -> dict[str, Any]:
    return evi.gate().get_request(person, request).as_json(evi.now())


@router.post("/{request}/approve", summary="Approve (a custodian, not the requester): APPROVAL entries")
def requests_approve(evi: Evi, person: Caller, request: RowId, body: ApprovalBody) -> dict[str, Any]:
    if body.no_third_parties is None:
        decided = evi.gate().decide(person, request, approve=True, reason=body.reason)
    else:
        desk = evi.redaction_desk()
        decided = desk.approve_stating(person, request, reason=body.reason, statement=body.no_third_parties)
    return decided.as_json(evi.now())


@router.post("/{request}/deny", summary="Deny (a custodian, not the requester): APPROVAL entries of decision denied")
def requests_deny(evi: Evi, person: Caller, request: RowId, body: DecisionBody) -> dict[str, Any]:
    return evi.gate().decide(person, request, approve=False, reason=body.reason).as_json(evi.now())
