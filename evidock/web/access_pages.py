"""Access requests and approvals, the disc-export list, and the audit trail (art. 27, 29).

The same ``storage.access`` calls as `evidock access …` and `evidock audit …`:
a request, a decision by another custodian, the trail read back from the log.
Every audit query (page or CSV) is itself an ACCESS entry of action ``audit``
and shows only older entries, as on the command line.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from evidock.app import App, working_time
from evidock.audit_queries import QUERY_VALUE_LENGTH
from evidock.text import one_line
from evidock.web.site import Web
from storage import access, cases
from storage import recordings as recordings_db
from storage.access import Action, Category, InvalidAccessInput, Permission, Person, RequestStatus

AUDIT_FILTERS = ("recording", "user", "case", "since", "until")
AUDIT_PAGE_ROWS = 1000  # newest rows shown on the page; the CSV has them all


def _moment(text: str, evi: App, what: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidAccessInput(
            f"{what} {text[:40]!r} is not a date or time: use 2026-11-20 or 2026-11-20T08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=evi.settings.timezone)
    return moment.astimezone(UTC)


def audit_rows(evi: App, person: Person, given: dict[str, str]) -> tuple[list[access.AccessRow], int]:
    """The access trail filtered as `evidock audit access` filters it; the query's own entry comes first."""
    person.require(Permission.AUDIT)
    lo, hi = _moment(given.get("since", ""), evi, "since"), _moment(given.get("until", ""), evi, "until")
    with evi.catalog.read() as conn:
        wanted: set[str] | None = None
        if given.get("recording"):
            wanted = {recordings_db.resolve(conn, given["recording"]).id}
        if given.get("case"):
            of_case = access.recordings_of_case(conn, given["case"].strip())
            wanted = of_case if wanted is None else wanted & of_case
    own = evi.gate().record_query(
        person,
        command="audit access",
        query={k: one_line(v)[:QUERY_VALUE_LENGTH] for k, v in given.items()},
        reason="audit",
        action=Action.AUDIT,
        permission=Permission.AUDIT,
    )
    with evi.catalog.read() as conn:
        rows = access.audit_trail(
            conn, recordings=wanted, user=given.get("user") or None, since=lo, until=hi, before=own
        )
    return rows, own


def anomalies(evi: App, person: Person) -> tuple[list[access.Anomaly], int]:
    """What `evidock audit anomalies` reports, over the whole trail."""
    person.require(Permission.AUDIT)
    own = evi.gate().record_query(
        person, command="audit anomalies", query={}, reason="audit", action=Action.AUDIT, permission=Permission.AUDIT
    )
    with evi.catalog.read() as conn:
        everything = access.audit_trail(conn, before=own)
        facts = access.anomaly_facts(conn, everything, before=own)
    found = access.find_anomalies(
        everything,
        facts,
        is_working_time=working_time(evi.settings),
        bulk_threshold=evi.settings.access.bulk_threshold,
        bulk_window=timedelta(hours=1),
    )
    return found, own


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
            actions=sorted(a.value for a in access.APPROVED_ACTIONS),
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
        if action not in {a.value for a in access.APPROVED_ACTIONS}:
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

    @router.get("/export")
    def export_page(request: Request) -> Response:
        person, session = web.person(request)
        now = evi.now()
        approved = [
            r
            for r in evi.gate().list_requests(person)
            if r.action is Action.EXPORT and r.status is RequestStatus.APPROVED and not r.expired(now)
        ]
        return web.render(request, "export.html", person=person, session=session, requests=approved, now=now)

    @router.get("/audit")
    def audit_page(
        request: Request,
        recording: str = "",
        user: str = "",
        case: str = "",
        since: str = "",
        until: str = "",
    ) -> Response:
        person, session = web.person(request)
        given = {
            k: v.strip() for k, v in zip(AUDIT_FILTERS, (recording, user, case, since, until), strict=True) if v.strip()
        }
        rows, own = audit_rows(evi, person, given)
        with evi.catalog.read() as conn:
            checkpoint = cases.latest_checkpoint(conn)
        return web.render(
            request,
            "audit.html",
            person=person,
            session=session,
            rows=rows,
            own=own,
            given=given,
            filters=AUDIT_FILTERS,
            proven_below=checkpoint[0] if checkpoint else 0,
            shown_rows=AUDIT_PAGE_ROWS,
        )

    @router.get("/audit.csv")
    def audit_csv(
        request: Request,
        recording: str = "",
        user: str = "",
        case: str = "",
        since: str = "",
        until: str = "",
    ) -> Response:
        person, _ = web.person(request)
        given = {
            k: v.strip() for k, v in zip(AUDIT_FILTERS, (recording, user, case, since, until), strict=True) if v.strip()
        }
        rows, own = audit_rows(evi, person, given)
        listed = [r.as_json() for r in rows]
        columns = list(listed[0]) if listed else list(access.AccessRow.__dataclass_fields__)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in listed:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        return Response(
            "\ufeff" + text.getvalue(),  # a BOM: spreadsheet programs then read the Chinese as UTF-8
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="evidock-audit-before-{own}.csv"'},
        )

    @router.get("/audit/anomalies")
    def anomalies_page(request: Request) -> Response:
        person, session = web.person(request)
        found, own = anomalies(evi, person)
        return web.render(request, "anomalies.html", person=person, session=session, found=found, own=own)
