"""A case's decision, its legal review and its publication (法制审核办法, 公示办法), as `evidock case` does them.

Case numbers travel in the body or the query (``?case=``), not in the path: a
case number (案号) may hold any character. Reading a decision, a review's case
file or an opinion names the party: each read is an ACCESS entry first.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from access.people import REASON_LENGTH, Permission
from cases.decisions import MAX_FINE_FEN, MAX_PARTIES, TEXT_LENGTH, Party
from cases.review_rows import Document
from cases.terms import ActionType, Exclusion, Measure, Opinion, PartyKind, PointFinding, PublicationMode, ReviewPoint
from chain.entries import MAX_SAFE_INTEGER
from evidock import decisions, legal_review, publishing
from evidock.api.deps import Caller, EntryIndex, Evi, Reason, RowId
from evidock.app import retention_context
from evidock.audit_queries import query_values
from evidock.recording_reads import NO_REASON
from evidock.reports import documents as reports
from retention.decision_dues import decision_dues
from storage.schema import CASE_NUMBER_LENGTH, DOCUMENT_LENGTH, PERSON_LENGTH

router = APIRouter(tags=["decisions"])

CaseNumber = Annotated[str, Field(max_length=CASE_NUMBER_LENGTH, description="Case number (案号).")]
LongText = Annotated[str, Field(max_length=TEXT_LENGTH)]


# -- the decision ------------------------------------------------------------------------------------


class FactsBody(BaseModel):
    case_number: CaseNumber
    action_type: str = Field(max_length=32, description="permit, penalty, inspection, confirmation, levy, other.")
    party_kind: str = Field("individual", max_length=32, description="individual or organisation.")
    party_name: str = Field(max_length=PERSON_LENGTH, description="The party (当事人).")
    party_minor: bool = False
    party_id_number: str | None = Field(None, max_length=64)
    party_phone: str | None = Field(None, max_length=64)
    party_address: str | None = Field(None, max_length=500)
    parties_count: int = Field(1, ge=1, le=MAX_PARTIES)


@router.post("/decisions/facts", summary="A case's kind and party (DECISION facts entry; party data committed)")
def decision_facts(evi: Evi, person: Caller, body: FactsBody) -> dict[str, Any]:
    party = Party(
        PartyKind.parse(body.party_kind),
        body.party_name,
        body.party_minor,
        body.party_id_number,
        body.party_phone,
        body.party_address,
    )
    found = decisions.set_facts(
        evi,
        person,
        body.case_number,
        action_type=ActionType.parse(body.action_type),
        party=party,
        parties_count=body.parties_count,
    )
    return found.as_json()


class ProposalBody(BaseModel):
    case_number: CaseNumber
    text: LongText = Field(description="The proposed decision (拟作出的决定).")
    fine_fen: int | None = Field(None, ge=0, le=MAX_FINE_FEN, description="The proposed fine in fen (分).")
    measures: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=16)


@router.post("/decisions/proposal", summary="The proposed decision, flagged major by art. 5-7, 14 (DECISION entry)")
def decision_propose(evi: Evi, person: Caller, body: ProposalBody) -> dict[str, Any]:
    found = decisions.propose(
        evi,
        person,
        body.case_number,
        text=body.text,
        fine_fen=body.fine_fen,
        measures=[Measure.parse(m) for m in body.measures],
    )
    return found.as_json()


class MajorBody(BaseModel):
    case_number: CaseNumber
    reason: str = Field(max_length=2000, description="Why the bureau judges it major (本局认为属于重大).")


@router.post("/decisions/major", summary="Mark a case major by a person's judgement (art. 5(3), 6(5))")
def decision_mark_major(evi: Evi, person: Caller, body: MajorBody) -> dict[str, Any]:
    return decisions.mark_major(evi, person, body.case_number, reason=body.reason).as_json()


class FinalBody(BaseModel):
    case_number: CaseNumber
    text: LongText = Field(description="The decision as made (执法决定).")
    document: str = Field(max_length=DOCUMENT_LENGTH, description="The decision document's number (决定书文号).")
    decided_on: date = Field(description="Decision date (local).")


@router.post("/decisions/final", summary="The final decision; refused for a major case without a completed review")
def decision_final(evi: Evi, person: Caller, body: FinalBody) -> dict[str, Any]:
    found = decisions.record_final(
        evi, person, body.case_number, text=body.text, document=body.document, decided_on=body.decided_on
    )
    return found.as_json()


@router.get("/decisions", summary="A case's decision and its steps in the log (an ACCESS entry first)")
def decision_show(
    evi: Evi,
    person: Caller,
    case: Annotated[str, Query(max_length=CASE_NUMBER_LENGTH, description="Case number (案号).")],
    reason: Reason = NO_REASON,
) -> dict[str, Any]:
    person.require(Permission.READ_METADATA)
    return decisions.show(evi, person, case, reason=reason, command="GET /api/v1/decisions").as_json()


@router.get("/decisions/due", summary="Legal review and publication deadlines not met yet (a query on the record)")
def decisions_due(evi: Evi, person: Caller, reason: Reason = NO_REASON) -> dict[str, Any]:
    entry = evi.gate().record_query(
        person, command="GET /api/v1/decisions/due", query={}, reason=reason, permission=Permission.REPORTS
    )
    rctx = retention_context(evi)
    with evi.catalog.read() as conn:
        found = decision_dues(
            conn,
            rctx.calendar,
            tz=rctx.tz,
            today=evi.now().astimezone(rctx.tz).date(),
            due_soon_working_days=rctx.alerts.due_soon_working_days,
        )
    return {"access_entry": entry, "due": [d.as_json() for d in found]}


# -- the legal review -----------------------------------------------------------------------------


class DocumentBody(BaseModel):
    title: str = Field(max_length=256)
    sha256: str = Field(min_length=64, max_length=64, description="SHA-256 of the document's file, lowercase hex.")
    size: int = Field(ge=0, le=MAX_SAFE_INTEGER, description="Bytes.")

    def document(self) -> Document:
        return Document(self.title, self.sha256, self.size)


class SubmitBody(BaseModel):
    case_number: CaseNumber
    proposal: LongText = Field(description="The proposal with its reasons (办理建议及理由).")
    legal_basis: LongText = Field(description="The legal basis (依据).")
    documents: list[DocumentBody] = Field(default_factory=list, max_length=500)
    other_evidence: LongText | None = None


@router.post("/reviews", summary="Submit a major case's proposal for legal review (art. 8; REVIEW entry)")
def review_submit(evi: Evi, person: Caller, body: SubmitBody) -> dict[str, Any]:
    found = legal_review.submit(
        evi,
        person,
        body.case_number,
        proposal=body.proposal,
        legal_basis=body.legal_basis,
        documents=[d.document() for d in body.documents],
        other_evidence=body.other_evidence,
    )
    return found.as_json()


@router.get("/reviews", summary="Legal reviews with their state and deadline (a query on the record)")
def review_list(
    evi: Evi,
    person: Caller,
    open_only: Annotated[bool, Query(alias="open", description="Only reviews not completed.")] = False,
    reason: Reason = NO_REASON,
) -> dict[str, Any]:
    entry = evi.gate().record_query(
        person,
        command="GET /api/v1/reviews",
        query=query_values({"open_only": open_only}),
        reason=reason,
        permission=Permission.REPORTS,
    )
    found = legal_review.reviews(evi, person, open_only=open_only)
    rows = [
        {"id": r.id, "case_number": r.case_number, "state": r.state.value, "due_on": r.due_on and r.due_on.isoformat()}
        for r in found
    ]
    return {"access_entry": entry, "reviews": rows}


@router.get(
    "/reviews/{review}", summary="A submission and its case file, as the reviewer reads it (a LIST entry first)"
)
def review_show(evi: Evi, person: Caller, review: RowId, reason: Reason = NO_REASON) -> dict[str, Any]:
    return legal_review.package(evi, person, review, reason=reason, command="GET /api/v1/reviews/{review}").as_json()


class CheckBody(BaseModel):
    complete: bool
    missing: LongText | None = Field(None, description="What is missing (when not complete).")


@router.post("/reviews/{review}/check", summary="Completeness check: complete starts the 5 working days (art. 12)")
def review_check(evi: Evi, person: Caller, review: RowId, body: CheckBody) -> dict[str, Any]:
    return legal_review.check(evi, person, review, complete=body.complete, missing=body.missing).as_json()


class SupplementBody(BaseModel):
    documents: list[DocumentBody] = Field(default_factory=list, max_length=500)
    other_evidence: LongText | None = None


@router.post("/reviews/{review}/supplement", summary="Add to a submission found incomplete (补正)")
def review_supplement(evi: Evi, person: Caller, review: RowId, body: SupplementBody) -> dict[str, Any]:
    found = legal_review.supplement(
        evi, person, review, documents=[d.document() for d in body.documents], other_evidence=body.other_evidence
    )
    return found.as_json()


class ExtendBody(BaseModel):
    approved_by: str = Field(max_length=PERSON_LENGTH, description="The head (负责人) who approved: an active user.")
    reason: str = Field(max_length=2000)


@router.post("/reviews/{review}/extension", summary="5 more working days, once, with the head's approval (art. 12)")
def review_extend(evi: Evi, person: Caller, review: RowId, body: ExtendBody) -> dict[str, Any]:
    return legal_review.extend(evi, person, review, approved_by=body.approved_by, reason=body.reason).as_json()


class OpinionBody(BaseModel):
    points: dict[Annotated[str, Field(max_length=32)], Annotated[str, Field(max_length=16)]] = Field(
        description="Each of the nine points of art. 9 (complete, competence, ...) -> ok, problem or na.",
        max_length=9,
    )
    opinion: str = Field(max_length=32, description="agree, investigate, change, correct or transfer (art. 10).")
    reasons: LongText


@router.post("/reviews/{review}/opinion", summary="The written opinion: nine points, art. 10 opinion, reasons")
def review_opinion(evi: Evi, person: Caller, review: RowId, body: OpinionBody) -> dict[str, Any]:
    points = {ReviewPoint.parse(k): PointFinding.parse(v) for k, v in body.points.items()}
    given = legal_review.give_opinion(
        evi, person, review, points=points, opinion=Opinion.parse(body.opinion), reasons=body.reasons
    )
    return given.as_json()


class RereviewBody(BaseModel):
    reason: LongText = Field(description="The unit's written request (复审申请).")


@router.post("/reviews/{review}/rereview", summary="The unit's request for the one re-review (art. 11)")
def review_rereview(evi: Evi, person: Caller, review: RowId, body: RereviewBody) -> dict[str, Any]:
    return legal_review.request_rereview(evi, person, review, reason=body.reason).as_json()


@router.post("/reviews/{review}/acceptance", summary="The unit follows the opinion; the review completes")
def review_accept(evi: Evi, person: Caller, review: RowId) -> dict[str, Any]:
    return legal_review.accept(evi, person, review).as_json()


@router.post("/reviews/{review}/escalation", summary="After the re-review, put it to the head (art. 11)")
def review_escalate(evi: Evi, person: Caller, review: RowId) -> dict[str, Any]:
    return legal_review.escalate(evi, person, review).as_json()


class HeadBody(BaseModel):
    head: str = Field(max_length=PERSON_LENGTH, description="The head (行政负责人): an active user, not the caller.")
    decision: LongText


@router.post("/reviews/{review}/head-decision", summary="The head's decision on an escalated review (art. 11)")
def review_head_decides(evi: Evi, person: Caller, review: RowId, body: HeadBody) -> dict[str, Any]:
    return legal_review.head_decides(evi, person, review, head=body.head, decision=body.decision).as_json()


@router.get(
    "/review-opinions/{entry}/pdf",
    summary="The 法制审核意见书 (two copies) as an A4 PDF; the read is an ACCESS entry first",
    response_class=Response,
)
def review_opinion_pdf(
    evi: Evi,
    person: Caller,
    entry: EntryIndex,
    lang: Annotated[str, Query(max_length=2, description="zh (default) or en.")] = "zh",
) -> Response:
    legal_review.record_print(evi, person, entry)
    with tempfile.TemporaryDirectory(prefix="evidock-opinion-") as folder:
        target = Path(folder) / "opinion.pdf"
        reports.review_opinion_pdf(evi, entry, target=target, lang=lang)
        data = target.read_bytes()
    return Response(
        data, media_type="application/pdf", headers={"Content-Disposition": "attachment; filename=opinion.pdf"}
    )


# -- publication ---------------------------------------------------------------------------------


class PublishBody(BaseModel):
    case_number: CaseNumber
    mode: str = Field(max_length=16, description="document or summary (公示办法 art. 9).")
    summary: str | None = Field(None, max_length=2000, description="With mode summary: the decision in brief.")
    remove: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=50)


@router.post("/publications", summary="Publish a final decision (redacted) and rewrite the feed (PUBLICATION entry)")
def publication_publish(evi: Evi, person: Caller, body: PublishBody) -> dict[str, Any]:
    found = publishing.publish(
        evi, person, body.case_number, mode=PublicationMode.parse(body.mode), summary=body.summary, remove=body.remove
    )
    return found.as_json()


class ExcludeBody(BaseModel):
    case_number: CaseNumber
    ground: str = Field(
        max_length=32, description="minor, secret_or_privacy, safety, investigation, police, other_law."
    )
    reason: str = Field(max_length=2000)
    approved_by: str = Field(max_length=PERSON_LENGTH, description="The second person: an active user, not the caller.")


@router.post("/publications/exclusions", summary="Record an art. 10 exclusion, approved by a second person")
def publication_exclude(evi: Evi, person: Caller, body: ExcludeBody) -> dict[str, Any]:
    found = publishing.exclude(
        evi,
        person,
        body.case_number,
        ground=Exclusion.parse(body.ground),
        reason=body.reason,
        approved_by=body.approved_by,
    )
    return found.as_json()


class WithdrawBody(BaseModel):
    document: str = Field(max_length=DOCUMENT_LENGTH, description="The judgment or review decision.")
    reason: str = Field(max_length=REASON_LENGTH)


@router.post("/publications/{publication}/withdrawal", summary="Withdraw a publication (撤下) and rewrite the feed")
def publication_withdraw(evi: Evi, person: Caller, publication: RowId, body: WithdrawBody) -> dict[str, Any]:
    return publishing.withdraw(evi, person, publication, document=body.document, reason=body.reason).as_json()


@router.get("/publications", summary="Every publication (public content, no personal data)")
def publication_list(evi: Evi, person: Caller) -> list[dict[str, Any]]:
    return [p.as_json() for p in publishing.publications(evi, person)]
