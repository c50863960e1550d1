"""The 光盘刻录 page (art. 27): a form that runs `evidock export disc`'s function in a background thread.

The form (CSRF-protected) names one of the person's own approved export
requests, the case number (案号), maker (制作人), extractor (提取人) and the
medium. ``evidock.disc_export.export_disc`` — the function the command runs —
then works in a thread; its status page refreshes itself (a meta refresh, no
script) until the images are sealed or the export failed. The images go to
config.toml's ``[export] out_dir``. A refusal (no approved request, a bad
case number) writes nothing, as on the command line; the page says whether
anything was logged before a failure. A finished export's page links its label
sheets as one A4 PDF (read back from the images, as `export disc --pdf`).
"""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from access.people import Person
from access.requests import AccessRequest
from evidock.app import App
from evidock.disc_export import ExportJobs, checked_media, configured_out_dir
from evidock.keys import load_vkey
from evidock.recording_reads import NO_REASON
from evidock.reports.label_sheet import label_sheets
from evidock.web.site import Web
from retention.export import burn as burning
from retention.export.job import DiscOrder
from retention.export.layout import MEDIA
from storage.access_terms import Action, RequestStatus
from storage.errors import NotFound

REFRESH_SECONDS = 2


def own_export_requests(evi: App, person: Person, now: datetime) -> list[AccessRequest]:
    """The person's approved, unexpired export requests with a recording not yet exported."""
    return [
        r
        for r in evi.gate().list_requests(person)
        if r.requested_by == person.name
        and r.action is Action.EXPORT
        and r.status is RequestStatus.APPROVED
        and not r.expired(now)
        and any(g.used_at is None for g in r.grants)
    ]


def add_export_pages(router: APIRouter, web: Web) -> None:
    evi = web.evi
    jobs = ExportJobs()

    @router.get("/export")
    def export_page(request: Request) -> Response:
        person, session = web.person(request)
        now = evi.now()
        approved = [
            r
            for r in evi.gate().list_requests(person)
            if r.action is Action.EXPORT and r.status is RequestStatus.APPROVED and not r.expired(now)
        ]
        return web.render(
            request,
            "export.html",
            person=person,
            session=session,
            requests=approved,
            own=own_export_requests(evi, person, now),
            media=list(MEDIA),
            out_dir=evi.settings.export.out_dir,
            now=now,
        )

    @router.post("/export")
    def start_export(
        request: Request,
        number: Annotated[int, Form()],
        case_number: Annotated[str, Form()] = "",
        maker: Annotated[str, Form()] = "",
        extractor: Annotated[str, Form()] = "",
        media: Annotated[str, Form()] = "dvd",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        order = DiscOrder(
            case_number=case_number,
            recordings=(),
            maker=maker,
            extractor=extractor,
            request=number,
            out_dir=configured_out_dir(evi),
            media=checked_media(media),
        )
        job = jobs.start(evi, person, order)
        return RedirectResponse(f"/export/jobs/{job.id}", status_code=303)

    @router.get("/export/jobs/{job_id}")
    def export_status(request: Request, job_id: str) -> Response:
        person, session = web.person(request)
        job = jobs.of(person, job_id)
        discs = job.outcome.discs if job.outcome else []
        return web.render(
            request,
            "export_job.html",
            person=person,
            session=session,
            job=job,
            refresh=REFRESH_SECONDS,
            how_to_burn=[(d.image.path, shlex.join(burning.burn_command(d.image.path))) for d in discs],
        )

    @router.get("/export/jobs/{job_id}/labels.pdf")
    def export_labels(request: Request, job_id: str) -> Response:
        person, _ = web.person(request)
        job = jobs.of(person, job_id)
        if job.outcome is None:
            raise NotFound(f"export {job_id[:40]!r} has no images (yet): its label sheets come with them")
        # The sheets name the case, parties and handler: a query on the record, registered first.
        evi.gate().record_query(
            person, command="web export labels.pdf", query={"export": job.outcome.export_id}, reason=NO_REASON
        )
        sheets = label_sheets(
            [d.image.path for d in job.outcome.discs], load_vkey(evi.settings), lang=web.lang(request)
        )
        disposition = f'attachment; filename="labels-{job.outcome.export_id}.pdf"'
        return Response(sheets.pdf(), media_type="application/pdf", headers={"Content-Disposition": disposition})
