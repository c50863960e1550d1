"""The legal review of a major decision (法制审核, 法制审核办法 art. 8-13), one REVIEW entry per step.

A ``legal_reviews`` row per submission (its id is the index of the submit
entry) and a ``review_opinions`` row per opinion, each written in the
transaction of its entry. The steps, by ``action``:

* ``submit`` (the handling unit, art. 8): its proposal with reasons (办理建议及理由)
  and legal basis (依据), the case file (the case's recordings, whose INGEST
  entries prove them, and its documents by title and SHA-256), other evidence.
  Only a major decision is submitted, and only its current proposal.
* ``check`` (the reviewer): complete or not, and what is missing. A complete
  submission starts the clock: the review is due 5 working days after the day
  the complete materials arrived (art. 12); an incomplete one does not.
* ``supplement`` (the unit): more documents or evidence; checked again.
* ``extend`` (the reviewer, naming the head who approved): once, 5 more working days.
* ``opinion`` (the reviewer): the nine points of art. 9 each found ok, a problem
  or not applicable, and one opinion of art. 10 with its reasons. Agreeing
  completes the review; any other opinion waits for the unit.
* ``accept`` (the unit): it follows the opinion, with a corrected proposal when
  the opinion asked for a change (the review completes on that proposal).
* ``rereview`` (the unit): its written request for the one re-review (art. 11);
  the reviewer has 5 working days again and gives a second opinion.
* ``escalate`` (the unit, after the re-review still disagreeing, art. 11) and
  ``decide``: the head's decision, named by the unit, completes the review.

A completed review counts for the proposal it completed on
(``proposal_entry``); a later proposal needs a review of its own before the
final decision (``cases.decisions.record_final``). Texts that may name a
person (the proposal, other evidence, an opinion's reasons, a re-review
request, the head's decision) are in the entries only as commitments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, insert, update

from cases.deadlines import WorkingDays, extended_due, review_due
from cases.decisions import TEXT_LENGTH, completed_review, one_line, require_decision, text
from cases.errors import DecisionError
from cases.review_rows import (
    CLOCK_STATES,
    OPEN_STATES,
    Document,
    Review,
    ReviewOpinion,
    get_opinion,
    get_review,
    opinions_of,
    reviews_of_case,
)
from cases.terms import Opinion, PointFinding, ReviewPoint, ReviewState
from chain.entries import EntryType, JsonValue
from storage.journal import Journal
from storage.schema import legal_reviews, review_opinions

# -- the steps ----------------------------------------------------------------------------------------


def _append(
    conn: Connection,
    journal: Journal,
    review: Review | None,
    case_number: str,
    action: str,
    *,
    by: str,
    time: datetime,
    body: Mapping[str, JsonValue],
    personal: Mapping[str, str] | None = None,
) -> int:
    full: dict[str, JsonValue] = {"case_number": case_number, "action": action, "by": by, **body}
    if review is not None:
        full["review"] = review.id
    return journal.append(conn, EntryType.REVIEW, recording=None, body=full, time=time, personal=personal)


def _set(conn: Connection, review: Review, *, by: str, time: datetime, **values: Any) -> Review:
    conn.execute(
        update(legal_reviews)
        .where(legal_reviews.c.id == review.id)
        .values(updated_at=time.replace(microsecond=0), updated_by=by, **values)
    )
    return get_review(conn, review.id)


def _require_state(review: Review, *allowed: ReviewState, doing: str) -> None:
    if review.state not in allowed:
        order = list(ReviewState)
        wanted = " or ".join(f"{s.value} ({s.zh})" for s in sorted(allowed, key=order.index))
        raise DecisionError(
            f"legal review {review.id} of case {review.case_number} is {review.state.value} ({review.state.zh}); "
            f"{doing} needs it {wanted}"
        )


def _documents(given: Sequence[Document]) -> list[dict[str, JsonValue]]:
    seen: dict[str, Document] = {}
    for document in given:
        title = one_line("a document's title", document.title, limit=256)
        if len(document.sha256) != 64 or any(c not in "0123456789abcdef" for c in document.sha256):
            raise DecisionError(f"document {title!r}: its SHA-256 must be 64 lowercase hex digits")
        seen.setdefault(document.sha256, Document(title or "", document.sha256, document.size))
    return [d.as_json() for d in seen.values()]


def submit(
    conn: Connection,
    journal: Journal,
    *,
    case_number: str,
    proposal: str,
    legal_basis: str,
    documents: Sequence[Document],
    recordings: Sequence[str],
    other_evidence: str | None,
    by: str,
    time: datetime,
) -> Review:
    """The unit submits its current proposal of a major case for review (art. 8); the clock waits for the check."""
    decision = require_decision(conn, case_number)
    case_number = decision.case_number
    if not decision.major:
        raise DecisionError(
            f"case {case_number} is not a major decision (art. 5-7, 14): legal review (法制审核) is for major "
            "decisions; if the bureau judges it major, `evidock case decision mark-major` first"
        )
    if decision.final:
        raise DecisionError(f"case {case_number} has its final decision ({decision.final_document})")
    if decision.proposed_entry is None:
        raise DecisionError(f"case {case_number} has no proposed decision to review: propose it first")
    if completed_review(conn, case_number, decision.proposed_entry) is not None:
        raise DecisionError(f"the current proposal of case {case_number} was reviewed already; record the decision")
    busy = [r for r in reviews_of_case(conn, case_number) if r.state in OPEN_STATES]
    if busy:
        raise DecisionError(
            f"case {case_number} has legal review {busy[0].id} open ({busy[0].state.zh}); supplement that one"
        )
    reasons = text("the proposal with reasons (办理建议及理由)", proposal, limit=TEXT_LENGTH)
    basis = text("the legal basis (依据)", legal_basis, limit=TEXT_LENGTH)
    other = text("other evidence (其他证据)", other_evidence, limit=TEXT_LENGTH, required=False)
    listed = _documents(documents)
    held = sorted(set(recordings))
    personal = {"proposal": reasons or ""} | ({"other_evidence": other} if other else {})
    body: dict[str, JsonValue] = {
        "proposal_entry": decision.proposed_entry,
        "legal_basis": basis,
        "documents": listed,  # type: ignore[dict-item]  # a list of JSON objects
        "recordings": list(held),
    }
    index = _append(conn, journal, None, case_number, "submit", by=by, time=time, body=body, personal=personal)
    stamped = time.replace(microsecond=0)
    conn.execute(
        insert(legal_reviews).values(
            id=index,
            case_number=case_number,
            proposal_entry=decision.proposed_entry,
            submitted_at=stamped,
            submitted_by=by,
            proposal=reasons,
            legal_basis=basis,
            documents=listed,
            recordings=held,
            other_evidence=other,
            received_at=stamped,
            state=ReviewState.SUBMITTED.value,
            updated_at=stamped,
            updated_by=by,
        )
    )
    return get_review(conn, index)


def check(
    conn: Connection,
    journal: Journal,
    *,
    review_id: int,
    complete: bool,
    missing: str | None,
    by: str,
    time: datetime,
    tz: tzinfo,
    working_days: WorkingDays,
) -> Review:
    """The reviewer's completeness check (art. 9(1)): a complete submission starts the 5 working days."""
    review = get_review(conn, review_id)
    _require_state(review, ReviewState.SUBMITTED, doing="a completeness check")
    lacking = text("what is missing (缺少的材料)", missing, limit=TEXT_LENGTH, required=not complete)
    if complete and lacking:
        raise DecisionError("a complete submission lacks nothing: give --missing only with --incomplete")
    stamped = time.replace(microsecond=0)
    body: dict[str, JsonValue] = {"complete": complete, "missing": lacking}
    if not complete:
        _append(conn, journal, review, review.case_number, "check", by=by, time=time, body=body)
        return _set(
            conn,
            review,
            by=by,
            time=time,
            state=ReviewState.INCOMPLETE.value,
            missing=lacking,
            checked_by=by,
            checked_at=stamped,
        )
    started = review.received_at.astimezone(tz).date()
    due = review_due(started, working_days)
    body |= {"started_on": started.isoformat(), "due_on": due.isoformat()}
    _append(conn, journal, review, review.case_number, "check", by=by, time=time, body=body)
    return _set(
        conn,
        review,
        by=by,
        time=time,
        state=ReviewState.IN_REVIEW.value,
        missing=None,
        checked_by=by,
        checked_at=stamped,
        started_on=started,
        due_on=due,
    )


def supplement(
    conn: Connection,
    journal: Journal,
    *,
    review_id: int,
    documents: Sequence[Document],
    recordings: Sequence[str],
    other_evidence: str | None,
    by: str,
    time: datetime,
) -> Review:
    """The unit adds to an incomplete (or not yet checked) submission; it waits for a new check."""
    review = get_review(conn, review_id)
    _require_state(review, ReviewState.INCOMPLETE, ReviewState.SUBMITTED, doing="a supplement")
    added = _documents([*review.documents, *documents])
    held = sorted(set(review.recordings) | set(recordings))
    other = text("other evidence (其他证据)", other_evidence, limit=TEXT_LENGTH, required=False)
    if len(added) == len(review.documents) and held == list(review.recordings) and other is None:
        raise DecisionError("the supplement adds nothing: give --document, --other-evidence or label more recordings")
    body: dict[str, JsonValue] = {"documents": added, "recordings": list(held)}  # type: ignore[dict-item]
    personal = {"other_evidence": other} if other else None
    _append(conn, journal, review, review.case_number, "supplement", by=by, time=time, body=body, personal=personal)
    values: dict[str, Any] = {
        "documents": added,
        "recordings": held,
        "received_at": time.replace(microsecond=0),
        "state": ReviewState.SUBMITTED.value,
    }
    if other:
        values["other_evidence"] = other
    return _set(conn, review, by=by, time=time, **values)


def extend(
    conn: Connection,
    journal: Journal,
    *,
    review_id: int,
    approved_by: str,
    reason: str,
    by: str,
    time: datetime,
    working_days: WorkingDays,
) -> Review:
    """Five more working days for a complex case, once, approved by the head (art. 12)."""
    review = get_review(conn, review_id)
    _require_state(review, *CLOCK_STATES, doing="an extension")
    if review.extended_by is not None:
        raise DecisionError(
            f"legal review {review.id} was extended already (approved by {review.extended_by}); art. 12 allows one"
        )
    assert review.due_on is not None  # noqa: S101 - a running clock has a due date
    why = one_line("the reason (案件复杂的理由)", reason, limit=2000)
    due = extended_due(review.due_on, working_days)
    body: dict[str, JsonValue] = {"approved_by": approved_by, "reason": why, "due_on": due.isoformat()}
    _append(conn, journal, review, review.case_number, "extend", by=by, time=time, body=body)
    return _set(conn, review, by=by, time=time, extended_by=approved_by, extension_reason=why, due_on=due)


def _checked_points(points: Mapping[ReviewPoint, PointFinding], opinion: Opinion) -> dict[str, str]:
    missing = [p for p in ReviewPoint if p not in points]
    if missing:
        names = ", ".join(f"{p.value} ({p.zh})" for p in missing)
        raise DecisionError(f"art. 9 has nine points; these are not worked through: {names}")
    problems = [p for p in ReviewPoint if points[p] is PointFinding.PROBLEM]
    if opinion is Opinion.AGREE and problems:
        raise DecisionError(
            f"an opinion to agree (同意, art. 10(1)) finds no problem, but {problems[0].value} ({problems[0].zh}) "
            "has one: choose the opinion that fits it"
        )
    if opinion is not Opinion.AGREE and not problems:
        raise DecisionError(
            f"an opinion to {opinion.value} ({opinion.zh}) answers a problem: mark the point(s) found wanting"
        )
    return {p.value: points[p].value for p in ReviewPoint}


def give_opinion(
    conn: Connection,
    journal: Journal,
    *,
    review_id: int,
    points: Mapping[ReviewPoint, PointFinding],
    opinion: Opinion,
    reasons: str,
    by: str,
    time: datetime,
) -> ReviewOpinion:
    """The reviewer's written opinion (art. 10, 13): nine points, one opinion, its reasons."""
    review = get_review(conn, review_id)
    _require_state(review, *CLOCK_STATES, doing="an opinion")
    assert review.due_on is not None  # noqa: S101 - a running clock has a due date
    findings = _checked_points(points, opinion)
    why = text("the reasons (理由)", reasons, limit=TEXT_LENGTH)
    round_ = 2 if review.state is ReviewState.REREVIEW else 1
    body: dict[str, JsonValue] = {
        "round": round_,
        "points": findings,  # type: ignore[dict-item]  # str -> str
        "opinion": opinion.value,
        "due_on": review.due_on.isoformat(),
    }
    index = _append(
        conn,
        journal,
        review,
        review.case_number,
        "opinion",
        by=by,
        time=time,
        body=body,
        personal={"reasons": why or ""},
    )
    stamped = time.replace(microsecond=0)
    conn.execute(
        insert(review_opinions).values(
            entry=index,
            review=review.id,
            case_number=review.case_number,
            round=round_,
            reviewer=by,
            points=findings,
            opinion=opinion.value,
            reasons=why,
            given_at=stamped,
            due_on=review.due_on,
        )
    )
    done = opinion is Opinion.AGREE
    _set(
        conn,
        review,
        by=by,
        time=time,
        state=(ReviewState.DONE if done else ReviewState.OPINION).value,
        done_at=stamped if done else None,
    )
    return get_opinion(conn, index)


def request_rereview(
    conn: Connection,
    journal: Journal,
    *,
    review_id: int,
    reason: str,
    by: str,
    time: datetime,
    tz: tzinfo,
    working_days: WorkingDays,
) -> Review:
    """The unit's written request for the one re-review (复审, art. 11); 5 working days from the request."""
    review = get_review(conn, review_id)
    _require_state(review, ReviewState.OPINION, doing="a re-review request")
    if review.rereview_at is not None:
        raise DecisionError(
            f"legal review {review.id} was re-reviewed already; art. 11 allows one: "
            "`evidock case review escalate` puts it to the head"
        )
    why = text("the written request (复审申请理由)", reason, limit=TEXT_LENGTH)
    due = review_due(time.astimezone(tz).date(), working_days)
    body: dict[str, JsonValue] = {"due_on": due.isoformat()}
    _append(
        conn,
        journal,
        review,
        review.case_number,
        "rereview",
        by=by,
        time=time,
        body=body,
        personal={"reason": why or ""},
    )
    return _set(
        conn,
        review,
        by=by,
        time=time,
        state=ReviewState.REREVIEW.value,
        rereview_reason=why,
        rereview_at=time.replace(microsecond=0),
        due_on=due,
    )


def accept(conn: Connection, journal: Journal, *, review_id: int, by: str, time: datetime) -> Review:
    """The unit follows the opinion; the review completes on its current proposal.

    An opinion to change or correct (art. 10(3), (4)) is followed by a
    corrected proposal: the proposal must be newer than the opinion.
    """
    review = get_review(conn, review_id)
    _require_state(review, ReviewState.OPINION, doing="following the opinion")
    last = opinions_of(conn, review.id)[-1]
    decision = require_decision(conn, review.case_number)
    assert decision.proposed_entry is not None  # noqa: S101 - reviews are of a proposal
    if last.opinion in (Opinion.CHANGE, Opinion.CORRECT) and decision.proposed_entry < last.entry:
        raise DecisionError(
            f"the opinion asks to {last.opinion.value} ({last.opinion.zh}): record the corrected proposal "
            "(`evidock case decision propose`) before following it"
        )
    body: dict[str, JsonValue] = {"proposal_entry": decision.proposed_entry}
    _append(conn, journal, review, review.case_number, "accept", by=by, time=time, body=body)
    return _set(
        conn,
        review,
        by=by,
        time=time,
        state=ReviewState.DONE.value,
        proposal_entry=decision.proposed_entry,
        done_at=time.replace(microsecond=0),
    )


def escalate(conn: Connection, journal: Journal, *, review_id: int, by: str, time: datetime) -> Review:
    """After the re-review the unit still disagrees: the head decides (art. 11)."""
    review = get_review(conn, review_id)
    _require_state(review, ReviewState.OPINION, doing="putting it to the head")
    if review.rereview_at is None:
        raise DecisionError(
            f"legal review {review.id} has had no re-review: art. 11 asks for the written re-review request first "
            "(`evidock case review rereview`)"
        )
    _append(conn, journal, review, review.case_number, "escalate", by=by, time=time, body={})
    return _set(
        conn, review, by=by, time=time, state=ReviewState.ESCALATED.value, escalated_at=time.replace(microsecond=0)
    )


def head_decides(
    conn: Connection, journal: Journal, *, review_id: int, head: str, decision: str, by: str, time: datetime
) -> Review:
    """The head's decision on an escalated review (art. 11, para. 2); the review completes on the current proposal."""
    review = get_review(conn, review_id)
    _require_state(review, ReviewState.ESCALATED, doing="the head's decision")
    wording = text("the head's decision (行政负责人决定)", decision, limit=TEXT_LENGTH)
    current = require_decision(conn, review.case_number).proposed_entry
    body: dict[str, JsonValue] = {"head": head, "proposal_entry": current}
    _append(
        conn,
        journal,
        review,
        review.case_number,
        "decide",
        by=by,
        time=time,
        body=body,
        personal={"decision": wording or ""},
    )
    return _set(
        conn,
        review,
        by=by,
        time=time,
        state=ReviewState.DONE.value,
        head=head,
        head_decision=wording,
        proposal_entry=current,
        done_at=time.replace(microsecond=0),
    )
