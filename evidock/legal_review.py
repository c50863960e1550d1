"""The legal review of a major decision (法制审核) acted on by authenticated people.

The handling unit (``Permission.DECIDE``) submits, supplements, asks for the
re-review, follows the opinion or puts it to the head; the legal role
(``Permission.REVIEW``) checks completeness, extends once with a head's
approval and gives the opinions. The CLI, the API and the web pages call
these, so each step checks the same permission and writes the same REVIEW
entry naming the person (``cases.review`` holds the rules).

The case file a reviewer reads names recordings and people: reading it is a
search on the record (one LIST entry naming its recordings), and viewing a
recording of it goes through the access gate like any other view.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from access import people
from access.people import Permission, Person
from cases import review as review_db
from cases import review_rows
from cases.decisions import CaseDecision, require_decision
from cases.errors import DecisionError
from cases.labels import recordings_of_case
from cases.review_rows import Document, Review, ReviewOpinion
from cases.terms import Opinion, PointFinding, ReviewPoint
from evidock.app import App
from evidock.decisions import working_days
from evidock.recording_reads import NO_REASON
from storage import recordings as recordings_db
from storage.tombstones import tombstone

CHUNK = 1 << 20  # bytes read at a time when hashing a document


def document_of(path: Path, title: str | None = None) -> Document:
    """A case-file document by its title (the file's name unless given) and the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise DecisionError(f"document {path}: cannot read it ({exc.strerror})") from exc
    return Document(title or path.name, digest.hexdigest(), size)


def submit(
    evi: App,
    person: Person,
    case_number: str,
    *,
    proposal: str,
    legal_basis: str,
    documents: Sequence[Document],
    other_evidence: str | None,
    now: datetime | None = None,
) -> Review:
    """The unit's submission (art. 8): its proposal, the case file (its recordings and documents), other evidence."""
    person.require(Permission.DECIDE)
    with evi.catalog.begin() as conn:
        number = require_decision(conn, case_number).case_number
        return review_db.submit(
            conn,
            evi.journal,
            case_number=number,
            proposal=proposal,
            legal_basis=legal_basis,
            documents=documents,
            recordings=sorted(r for r in recordings_of_case(conn, number) if tombstone(conn, r) is None),
            other_evidence=other_evidence,
            by=person.name,
            time=now or evi.now(),
        )


def check(
    evi: App, person: Person, review_id: int, *, complete: bool, missing: str | None, now: datetime | None = None
) -> Review:
    person.require(Permission.REVIEW)
    with evi.catalog.begin() as conn:
        return review_db.check(
            conn,
            evi.journal,
            review_id=review_id,
            complete=complete,
            missing=missing,
            by=person.name,
            time=now or evi.now(),
            tz=evi.settings.timezone,
            working_days=working_days(evi),
        )


def supplement(
    evi: App,
    person: Person,
    review_id: int,
    *,
    documents: Sequence[Document],
    other_evidence: str | None,
    now: datetime | None = None,
) -> Review:
    person.require(Permission.DECIDE)
    with evi.catalog.begin() as conn:
        found = review_rows.get_review(conn, review_id)
        held = sorted(r for r in recordings_of_case(conn, found.case_number) if tombstone(conn, r) is None)
        return review_db.supplement(
            conn,
            evi.journal,
            review_id=review_id,
            documents=documents,
            recordings=held,
            other_evidence=other_evidence,
            by=person.name,
            time=now or evi.now(),
        )


def extend(
    evi: App, person: Person, review_id: int, *, approved_by: str, reason: str, now: datetime | None = None
) -> Review:
    """Five more working days, once, approved by the head (负责人): another active user who may approve."""
    person.require(Permission.REVIEW)
    with evi.catalog.begin() as conn:
        head = people.approver(conn, approved_by, actor=person)
        return review_db.extend(
            conn,
            evi.journal,
            review_id=review_id,
            approved_by=head,
            reason=reason,
            by=person.name,
            time=now or evi.now(),
            working_days=working_days(evi),
        )


def give_opinion(
    evi: App,
    person: Person,
    review_id: int,
    *,
    points: Mapping[ReviewPoint, PointFinding],
    opinion: Opinion,
    reasons: str,
    now: datetime | None = None,
) -> ReviewOpinion:
    person.require(Permission.REVIEW)
    with evi.catalog.begin() as conn:
        return review_db.give_opinion(
            conn,
            evi.journal,
            review_id=review_id,
            points=points,
            opinion=opinion,
            reasons=reasons,
            by=person.name,
            time=now or evi.now(),
        )


def request_rereview(evi: App, person: Person, review_id: int, *, reason: str, now: datetime | None = None) -> Review:
    person.require(Permission.DECIDE)
    with evi.catalog.begin() as conn:
        return review_db.request_rereview(
            conn,
            evi.journal,
            review_id=review_id,
            reason=reason,
            by=person.name,
            time=now or evi.now(),
            tz=evi.settings.timezone,
            working_days=working_days(evi),
        )


def accept(evi: App, person: Person, review_id: int, *, now: datetime | None = None) -> Review:
    person.require(Permission.DECIDE)
    with evi.catalog.begin() as conn:
        return review_db.accept(conn, evi.journal, review_id=review_id, by=person.name, time=now or evi.now())


def escalate(evi: App, person: Person, review_id: int, *, now: datetime | None = None) -> Review:
    person.require(Permission.DECIDE)
    with evi.catalog.begin() as conn:
        return review_db.escalate(conn, evi.journal, review_id=review_id, by=person.name, time=now or evi.now())


def head_decides(
    evi: App, person: Person, review_id: int, *, head: str, decision: str, now: datetime | None = None
) -> Review:
    """The head's decision after escalation (art. 11), recorded by the unit naming the head (another active user)."""
    person.require(Permission.DECIDE)
    with evi.catalog.begin() as conn:
        named = people.approver(conn, head, actor=person)
        return review_db.head_decides(
            conn,
            evi.journal,
            review_id=review_id,
            head=named,
            decision=decision,
            by=person.name,
            time=now or evi.now(),
        )


@dataclass(frozen=True)
class CaseFileRecording:
    """A recording of the submitted case file: what proves it (its INGEST entry), and whether it is still held."""

    id: str
    ingest_entry: int
    size: int
    device: str | None
    start_raw: datetime | None
    purged: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ingest_entry": self.ingest_entry,
            "size": self.size,
            "device": self.device,
            "start_raw": self.start_raw.isoformat() if self.start_raw else None,
            "purged": self.purged,
            "proof": f"evidock log proof --entry {self.ingest_entry}",
        }


@dataclass(frozen=True)
class Package:
    """A submission as the reviewer reads it: the review, the decision, the case file, the opinions so far."""

    review: Review
    decision: CaseDecision
    recordings: list[CaseFileRecording]
    opinions: list[ReviewOpinion]
    entry: int  # the LIST entry that registered this read

    def as_json(self) -> dict[str, Any]:
        return {
            "access_entry": self.entry,
            "review": self.review.as_json(),
            "decision": self.decision.as_json(),
            "recordings": [r.as_json() for r in self.recordings],
            "opinions": [o.as_json() for o in self.opinions],
        }


def package(evi: App, person: Person, review_id: int, *, reason: str = NO_REASON, command: str) -> Package:
    """The submission of ``review_id`` with its case file; the read is one LIST entry naming its recordings."""
    if not (person.may(Permission.REVIEW) or person.may(Permission.DECIDE)):
        person.require(Permission.REVIEW)
    with evi.catalog.read() as conn:
        found = review_rows.get_review(conn, review_id)
    entry = evi.gate().record_listing(
        person, command=command, query={"review": str(review_id)}, recordings=found.recordings, reason=reason
    )
    with evi.catalog.read() as conn:
        decision = require_decision(conn, found.case_number)
        files = []
        for recording in found.recordings:
            held = recordings_db.get(conn, recording)
            if held is None:
                continue
            files.append(
                CaseFileRecording(
                    held.id,
                    held.ingest_entry,
                    held.size,
                    held.device,
                    held.start_raw,
                    tombstone(conn, held.id) is not None,
                )
            )
        opinions = review_rows.opinions_of(conn, review_id)
    return Package(found, decision, files, opinions, entry)


def reviews(evi: App, person: Person, *, open_only: bool) -> list[Review]:
    """The reviews (their case numbers and dates; no party data), for `case review list`."""
    if not (person.may(Permission.REVIEW) or person.may(Permission.DECIDE)):
        person.require(Permission.REVIEW)
    with evi.catalog.read() as conn:
        return review_rows.all_reviews(conn, open_only=open_only)


def record_print(evi: App, person: Person, opinion_entry: int) -> int:
    """Register the read of an opinion about to be printed (it quotes the proposal, which names the party)."""
    if not (person.may(Permission.REVIEW) or person.may(Permission.DECIDE)):
        person.require(Permission.REVIEW)
    with evi.catalog.read() as conn:
        found = review_rows.get_opinion(conn, opinion_entry)
    return evi.gate().record_query(
        person,
        command="case review pdf",
        query={"case": found.case_number, "opinion": str(opinion_entry)},
        reason=NO_REASON,
    )
