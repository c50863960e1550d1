"""Printable reports from the pages: the audit trail and the art. 26 compliance report, on screen and as PDF.

Each PDF is the one `evidock audit access --pdf` / `evidock compliance --pdf`
prints (evidock.reports), in the page's language. Every request is its own
logged query, written before anything is made or sent: the audit trail an
ACCESS entry of action ``audit`` (and only older entries in it), the
compliance report a REPORTS query entry; the footer's checkpoint covers it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from access.people import Permission, Person
from evidock.app import App, retention_context
from evidock.audit_queries import access_trail, query_values
from evidock.recording_reads import NO_REASON
from evidock.reports import documents as reports
from evidock.reports.render import report_text
from evidock.web.access_pages import AuditFilters
from evidock.web.site import Web
from retention import compliance as compliance_mod
from retention.compliance import ComplianceReport


def _pdf(data: bytes, name: str) -> Response:
    disposition = f'attachment; filename="{name}"'
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": disposition})


def _compliance(evi: App, person: Person, month: str, command: str) -> tuple[int, ComplianceReport]:
    """The REPORTS query entry, then the report (as `evidock compliance` and the API)."""
    parsed = compliance_mod.parse_month(month) if month else None
    entry = evi.gate().record_query(
        person,
        command=command,
        query=query_values({"month": month or None}),
        reason=NO_REASON,
        permission=Permission.REPORTS,
    )
    return entry, compliance_mod.report(retention_context(evi), now=evi.now(), month=parsed)


def add_report_pages(router: APIRouter, web: Web) -> None:
    evi = web.evi

    @router.get("/audit.pdf")
    def audit_pdf(request: Request, given: AuditFilters) -> Response:
        person, _ = web.person(request)
        trail = access_trail(evi, person, **given)
        printed = reports.audit_access_report(
            evi, trail.rows, own=trail.entry, filters=given, by=person.name, lang=web.lang(request)
        )
        return _pdf(printed.pdf(), f"evidock-audit-before-{trail.entry}.pdf")

    @router.get("/compliance")
    def compliance_page(request: Request, month: str = "") -> Response:
        person, session = web.person(request)
        month = month.strip()
        entry, result = _compliance(evi, person, month, "web compliance")
        text = report_text(web.lang(request))
        return web.render(
            request,
            "compliance.html",
            person=person,
            session=session,
            month=month,
            own=entry,
            text=text,
            groups=list(zip(text["groups"], (result.by_device, result.by_officer, result.by_case), strict=True)),
            result=result,
        )

    @router.get("/compliance.pdf")
    def compliance_pdf(request: Request, month: str = "") -> Response:
        person, _ = web.person(request)
        month = month.strip()
        entry, result = _compliance(evi, person, month, "web compliance.pdf")
        printed = reports.compliance_report(evi, result, by=person.name, lang=web.lang(request))
        return _pdf(printed.pdf(), f"evidock-compliance-{month or 'all'}-{entry}.pdf")
