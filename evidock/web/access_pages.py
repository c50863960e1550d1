"""Access requests and approvals, and the audit trail (art. 27, 29).

The same functions as `evidock access …` (``access.gate.Gate``) and
`evidock audit …` (``evidock.audit_queries``): a request, a decision by another
custodian, the trail read back from the log.
Every audit query (page or CSV) is itself an ACCESS entry of action ``audit``
and shows only older entries, as on the command line.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from access.errors import InvalidAccessInput
from access.people import Person
from evidock import audit_queries, spreadsheet
from evidock.app import App
from evidock.web.site import Web
from storage.access_terms import APPROVED_ACTIONS, Action, Category
from storage.status import latest_checkpoint

AUDIT_FILTERS = ("recording", "user", "case", "since", "until")
AUDIT_PAGE_ROWS = 1000  # newest rows shown on the page; the CSV has them all


def _audit_filters(
    recording: str = "", user: str = "", case: str = "", since: str = "", until: str = ""
) -> dict[str, str]:
    """The audit pages' filters from the query string: only those filled in."""
    values = (recording, user, case, since, until)
    return {k: v.strip() for k, v in zip(AUDIT_FILTERS, values, strict=True) if v.strip()}


AuditFilters = Annotated[dict[str, str], Depends(_audit_filters)]


def _audit_trail(evi: App, person: Person, given: dict[str, str]) -> audit_queries.AccessTrail:
    """`evidock audit access` with the page's filters (only those filled in)."""
    return audit_queries.access_trail(evi, person, **given)


def add_access_pages(router: APIRouter, web: Web) -> None:
    evi = web.evi

    @router.get("/access")
    def requests_page(request: Request, recording: str = "", done: str = "") -> Response:
        person, session = web.person(request)
        found = evi.gate().list_requests(person)
        return web.render(
            request,
            "access.html",
            person=person,
            session=session,
            requests=list(reversed(found)),
            now=evi.now(),
            prefill=recording,
            actions=sorted(a.value for a in APPROVED_ACTIONS),
            categories=[c.value for c in Category],
            done=done,
        )

    @router.post("/access/request")
    def make_request(
        request: Request,
        recordings: Annotated[str, Form()] = "",
        action: Annotated[str, Form()] = "copy",
        category: Annotated[str, Form()] = "internal",
        document: Annotated[str, Form()] = "",
        requester: Annotated[str, Form()] = "",
        party: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        if action not in {a.value for a in APPROVED_ACTIONS}:
            raise InvalidAccessInput(f"action {action[:20]!r} is not one of copy, download, export")
        if category not in {c.value for c in Category}:
            raise InvalidAccessInput(f"category {category[:20]!r} is unknown")
        made = evi.gate().request(
            person,
            recordings.replace(",", " ").split(),
            action=Action(action),
            reason=reason,
            category=Category(category),
            document_ref=document or None,
            requester=requester or None,
            party=party or None,
        )
        return RedirectResponse(f"/access?done=request#r{made.id}", status_code=303)

    @router.post("/access/{number}/decide")
    def decide(
        request: Request,
        number: int,
        decision: Annotated[str, Form()] = "",
        reason: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        if decision not in ("approve", "deny"):
            raise InvalidAccessInput("decision must be approve or deny")
        evi.gate().decide(person, number, approve=decision == "approve", reason=reason)
        return RedirectResponse(f"/access?done={decision}#r{number}", status_code=303)

    @router.get("/audit")
    def audit_page(request: Request, given: AuditFilters) -> Response:
        person, session = web.person(request)
        trail = _audit_trail(evi, person, given)
        with evi.catalog.read() as conn:
            checkpoint = latest_checkpoint(conn)
        return web.render(
            request,
            "audit.html",
            person=person,
            session=session,
            rows=trail.rows,
            own=trail.entry,
            given=given,
            filters=AUDIT_FILTERS,
            proven_below=checkpoint[0] if checkpoint else 0,
            shown_rows=AUDIT_PAGE_ROWS,
        )

    @router.get("/audit.csv")
    def audit_csv(request: Request, given: AuditFilters) -> Response:
        person, _ = web.person(request)
        trail = _audit_trail(evi, person, given)
        text = spreadsheet.csv_text([r.as_json() for r in trail.rows], audit_queries.ACCESS_COLUMNS)
        return Response(
            "\ufeff" + text,  # a BOM: spreadsheet programs then read the Chinese as UTF-8
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="evidock-audit-before-{trail.entry}.csv"'},
        )

    @router.get("/audit/anomalies")
    def anomalies_page(request: Request) -> Response:
        person, session = web.person(request)
        found = audit_queries.anomalies(evi, person)
        return web.render(request, "anomalies.html", person=person, session=session, found=found.found, own=found.entry)
