"""The rows of legal reviews (法制审核): a submission with its case file and state, and its opinions, read back.

Written by ``cases.review`` (one REVIEW entry per step); read here by the
reviews' pages, reports and deadlines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from cases.errors import DecisionError
from cases.terms import Opinion, PointFinding, ReviewPoint, ReviewState
from chain.entries import JsonValue
from storage.rows import from_row
from storage.schema import legal_reviews, review_opinions

OPEN_STATES = frozenset(ReviewState) - {ReviewState.DONE}
CLOCK_STATES = frozenset({ReviewState.IN_REVIEW, ReviewState.REREVIEW})  # a deadline runs


@dataclass(frozen=True)
class Document:
    """A document of the case file (询问笔录, 现场检查笔录, ...): its title and the SHA-256 of its file."""

    title: str
    sha256: str
    size: int

    def as_json(self) -> dict[str, JsonValue]:
        return {"title": self.title, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class ReviewOpinion:
    entry: int
    review: int
    case_number: str
    round: int
    reviewer: str
    points: Mapping[ReviewPoint, PointFinding]
    opinion: Opinion
    reasons: str
    given_at: datetime
    due_on: date

    def as_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "round": self.round,
            "reviewer": self.reviewer,
            "points": {p.value: f.value for p, f in self.points.items()},
            "opinion": self.opinion.value,
            "opinion_zh": self.opinion.zh,
            "reasons": self.reasons,
            "given_at": self.given_at.isoformat(),
            "due_on": self.due_on.isoformat(),
        }


@dataclass(frozen=True)
class Review:
    id: int
    case_number: str
    proposal_entry: int
    submitted_at: datetime
    submitted_by: str
    proposal: str
    legal_basis: str
    documents: tuple[Document, ...]
    recordings: tuple[str, ...]
    other_evidence: str | None
    received_at: datetime
    state: ReviewState
    missing: str | None
    checked_by: str | None
    checked_at: datetime | None
    started_on: date | None
    due_on: date | None
    extended_by: str | None
    extension_reason: str | None
    rereview_reason: str | None
    rereview_at: datetime | None
    escalated_at: datetime | None
    head: str | None
    head_decision: str | None
    done_at: datetime | None
    updated_at: datetime
    updated_by: str

    @property
    def clock_running(self) -> bool:
        return self.state in CLOCK_STATES

    def as_json(self) -> dict[str, Any]:
        def day(value: date | None) -> str | None:
            return value.isoformat() if value else None

        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "case_number": self.case_number,
            "proposal_entry": self.proposal_entry,
            "state": self.state.value,
            "state_zh": self.state.zh,
            "submitted_at": moment(self.submitted_at),
            "submitted_by": self.submitted_by,
            "proposal": self.proposal,
            "legal_basis": self.legal_basis,
            "documents": [d.as_json() for d in self.documents],
            "recordings": list(self.recordings),
            "other_evidence": self.other_evidence,
            "received_at": moment(self.received_at),
            "missing": self.missing,
            "checked_by": self.checked_by,
            "checked_at": moment(self.checked_at),
            "started_on": day(self.started_on),
            "due_on": day(self.due_on),
            "extended_by": self.extended_by,
            "extension_reason": self.extension_reason,
            "rereview_reason": self.rereview_reason,
            "rereview_at": moment(self.rereview_at),
            "escalated_at": moment(self.escalated_at),
            "head": self.head,
            "head_decision": self.head_decision,
            "done_at": moment(self.done_at),
        }


def _review(row: Any) -> Review:
    return from_row(
        Review,
        row,
        documents=tuple(Document(d["title"], d["sha256"], int(d["size"])) for d in row.documents),
        recordings=tuple(row.recordings),
        state=ReviewState(row.state),
    )


def _opinion(row: Any) -> ReviewOpinion:
    return from_row(
        ReviewOpinion,
        row,
        points={ReviewPoint(p): PointFinding(f) for p, f in row.points.items()},
        opinion=Opinion(row.opinion),
    )


def get_review(conn: Connection, review_id: int) -> Review:
    row = conn.execute(select(legal_reviews).where(legal_reviews.c.id == review_id)).first()
    if row is None:
        raise DecisionError(f"no legal review {review_id}: `evidock case review list` shows them")
    return _review(row)


def reviews_of_case(conn: Connection, case_number: str) -> list[Review]:
    rows = conn.execute(
        select(legal_reviews).where(legal_reviews.c.case_number == case_number).order_by(legal_reviews.c.id)
    )
    return [_review(r) for r in rows]


def all_reviews(conn: Connection, *, open_only: bool = False) -> list[Review]:
    query = select(legal_reviews).order_by(legal_reviews.c.id)
    if open_only:
        query = query.where(legal_reviews.c.state != ReviewState.DONE.value)
    return [_review(r) for r in conn.execute(query)]


def opinions_of(conn: Connection, review_id: int) -> list[ReviewOpinion]:
    rows = conn.execute(
        select(review_opinions).where(review_opinions.c.review == review_id).order_by(review_opinions.c.entry)
    )
    return [_opinion(r) for r in rows]


def get_opinion(conn: Connection, entry: int) -> ReviewOpinion:
    row = conn.execute(select(review_opinions).where(review_opinions.c.entry == entry)).first()
    if row is None:
        raise DecisionError(f"no review opinion with entry {entry}")
    return _opinion(row)
