"""Decisions, their legal review and publication (法制审核办法, 公示办法): the list, one case, and the forms.

The same functions as `evidock case decision|review|publish` (``evidock.decisions``,
``evidock.legal_review``, ``evidock.publishing``), acting as the logged-in person.
A case's page names its party: it is shown after its read is an ACCESS entry
(``decisions.show``); the list shows case numbers and dates only, after a query
entry. The legal role checks submissions and gives opinions here; the handling
unit publishes and withdraws. Terms of the rules are shown by their Chinese
name in Chinese and their code in English.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from access.people import Permission
from cases import publication as publication_db
from cases import review_rows as review_db
from cases.decisions import CaseDecision, all_decisions
from cases.major import yuan
from cases.publication import ExclusionRecord, Publication
from cases.review_rows import Review, ReviewOpinion
from cases.terms import Opinion, PointFinding, PublicationMode, ReviewPoint, ReviewState
from evidock import decisions, legal_review, publishing
from evidock.reports import documents as reports
from evidock.web.site import NO_REASON, Web


@dataclass(frozen=True)
class CaseRow:
    """One line of the list: the decision, its latest review, its publication or exclusion."""

    decision: CaseDecision
    review: Review | None
    publication: Publication | None
    excluded: bool


@dataclass(frozen=True)
class ReviewView:
    review: Review
    opinions: list[ReviewOpinion]


def _case_link(case_number: str, done: str = "") -> str:
    return f"/decisions/case?case={quote(case_number, safe='')}" + (f"&done={done}" if done else "")


def _term(lang: str) -> Any:
    def shown(term: StrEnum) -> str:
        zh = getattr(term, "zh", None)
        return str(zh) if lang == "zh" and zh else term.value

    return shown


def add_decision_pages(router: APIRouter, web: Web) -> None:
    evi = web.evi

    @router.get("/decisions")
    def decisions_page(request: Request) -> Response:
        person, session = web.person(request)
        entry = evi.gate().record_query(person, command="web decisions", query={}, reason=NO_REASON)
        with evi.catalog.read() as conn:
            rows = []
            for decision in all_decisions(conn):
                reviews = review_db.reviews_of_case(conn, decision.case_number)
                published = publication_db.publications_of_case(conn, decision.case_number)
                excluded = bool(publication_db.exclusions_of_case(conn, decision.case_number))
                rows.append(
                    CaseRow(decision, reviews[-1] if reviews else None, published[-1] if published else None, excluded)
                )
        return web.render(
            request,
            "decisions.html",
            person=person,
            session=session,
            rows=rows,
            entry=entry,
            term=_term(web.lang(request)),
            yuan=yuan,
        )

    @router.get("/decisions/case")
    def case_page(request: Request, case: str, done: str = "") -> Response:
        person, session = web.person(request)
        view = decisions.show(evi, person, case, command="web decisions/case")
        with evi.catalog.read() as conn:
            reviews = [
                ReviewView(r, review_db.opinions_of(conn, r.id))
                for r in review_db.reviews_of_case(conn, view.decision.case_number)
            ]
            published: list[Publication] = publication_db.publications_of_case(conn, view.decision.case_number)
            excluded: list[ExclusionRecord] = publication_db.exclusions_of_case(conn, view.decision.case_number)
        return web.render(
            request,
            "decision.html",
            person=person,
            session=session,
            view=view,
            d=view.decision,
            reviews=reviews,
            published=published,
            excluded=excluded,
            points=list(ReviewPoint),
            findings=list(PointFinding),
            opinions=list(Opinion),
            checkable=ReviewState.SUBMITTED,
            reviewable=(ReviewState.IN_REVIEW, ReviewState.REREVIEW),
            publishable=view.decision.final and not excluded and not any(p.active for p in published),
            term=_term(web.lang(request)),
            yuan=yuan,
            done=done,
        )

    @router.post("/decisions/review/{review}/check")
    def check(
        request: Request,
        review: int,
        complete: Annotated[str, Form()] = "1",
        missing: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        found = legal_review.check(evi, person, review, complete=complete == "1", missing=missing or None)
        return RedirectResponse(_case_link(found.case_number, "check"), status_code=303)

    @router.post("/decisions/review/{review}/opinion")
    def opinion(
        request: Request,
        review: int,
        point_complete: Annotated[str, Form()] = "",
        point_competence: Annotated[str, Form()] = "",
        point_jurisdiction: Annotated[str, Form()] = "",
        point_facts: Annotated[str, Form()] = "",
        point_procedure: Annotated[str, Form()] = "",
        point_law: Annotated[str, Form()] = "",
        point_documents: Annotated[str, Form()] = "",
        point_crime: Annotated[str, Form()] = "",
        point_other: Annotated[str, Form()] = "",
        opinion: Annotated[str, Form()] = "",
        reasons: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        given = {
            ReviewPoint.COMPLETE: point_complete,
            ReviewPoint.COMPETENCE: point_competence,
            ReviewPoint.JURISDICTION: point_jurisdiction,
            ReviewPoint.FACTS: point_facts,
            ReviewPoint.PROCEDURE: point_procedure,
            ReviewPoint.LAW: point_law,
            ReviewPoint.DOCUMENTS: point_documents,
            ReviewPoint.CRIME: point_crime,
            ReviewPoint.OTHER: point_other,
        }
        points = {p: PointFinding.parse(v) for p, v in given.items() if v}
        made = legal_review.give_opinion(
            evi, person, review, points=points, opinion=Opinion.parse(opinion), reasons=reasons
        )
        return RedirectResponse(_case_link(made.case_number, "opinion"), status_code=303)

    @router.get("/decisions/opinion/{entry}.pdf")
    def opinion_pdf(request: Request, entry: int) -> Response:
        person, _ = web.person(request)
        legal_review.record_print(evi, person, entry)
        with tempfile.TemporaryDirectory(prefix="evidock-opinion-") as folder:
            target = Path(folder) / "opinion.pdf"
            reports.review_opinion_pdf(evi, entry, target=target, lang=web.lang(request))
            data = target.read_bytes()
        return Response(
            data,
            media_type="application/pdf",
            headers={"Content-Disposition": f"attachment; filename=opinion-{entry}.pdf"},
        )

    @router.post("/decisions/publish")
    def publish(
        request: Request,
        case: Annotated[str, Form()] = "",
        mode: Annotated[str, Form()] = "summary",
        summary: Annotated[str, Form()] = "",
        remove: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        made = publishing.publish(
            evi,
            person,
            case,
            mode=PublicationMode.parse(mode),
            summary=summary or None,
            remove=[line for line in remove.splitlines() if line.strip()],
        )
        return RedirectResponse(_case_link(made.case_number, "publish"), status_code=303)

    @router.post("/decisions/publication/{publication}/withdraw")
    def withdraw(
        request: Request,
        publication: int,
        document: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        person.require(Permission.PUBLISH)
        done = publishing.withdraw(evi, person, publication, document=document, reason=reason)
        return RedirectResponse(_case_link(done.case_number, "withdraw"), status_code=303)
