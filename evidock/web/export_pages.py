"""The 光盘刻录 page (art. 27): a form that runs `evidock export disc`'s function in a background thread.

The form (CSRF-protected) names one of the person's own approved export
requests, the case number (案号), maker (制作人), extractor (提取人) and the
medium. ``evidock.disc_export.export_disc`` — the function the command runs —
then works in a thread; its status page refreshes itself (a meta refresh, no
script) until the images are sealed or the export failed. The images go to
config.toml's ``[export] out_dir``. A refusal (no approved request, a bad
case number) writes nothing, as on the command line; the page says whether
anything was logged before a failure.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from chain.errors import EvidockError
from evidock.app import App
from evidock.disc_export import configured_out_dir, export_disc
from evidock.text import one_line
from evidock.web.site import Web
from retention.export import burn as burning
from retention.export.job import DiscOrder, ExportOutcome, Progress
from retention.export.layout import MEDIA
from storage import journal
from storage.access import AccessRequest, Action, InvalidAccessInput, Person, RequestStatus
from storage.errors import NotFound

log = logging.getLogger(__name__)

KEPT_JOBS = 100  # finished exports whose status page stays available (the log keeps every export anyway)
REFRESH_SECONDS = 2


@dataclass
class ExportJob:
    """One export started from the page; written by its thread, read by the status page."""

    id: str
    owner: str
    order: DiscOrder
    started: datetime
    log_size: int  # the log's size when it started: a failure with the same size wrote nothing
    steps: list[str] = field(default_factory=list)
    total: int = 0  # bytes to write into images, once known
    written: int = 0
    outcome: ExportOutcome | None = None
    error: str | None = None
    logged_before_failure: int = 0  # log entries written before a failure (the reads that happened)
    finished: bool = False

    @property
    def percent(self) -> int:
        return min(100, self.written * 100 // self.total) if self.total else 0


class ExportJobs:
    """The running and recent exports of this process, bounded in number."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, ExportJob] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, job: ExportJob) -> None:
        with self._lock:
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if j.finished]
            for key in finished[: max(0, len(self._jobs) - KEPT_JOBS)]:
                del self._jobs[key]

    def of(self, person: Person, job_id: str) -> ExportJob:
        """A job of ``person``'s: another person's export is not shown (its page names evidence)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.owner != person.name:
            raise NotFound(f"no export {job_id[:40]!r} of yours on this station (the log keeps every export)")
        return job


def _log_size(evi: App) -> int:
    with evi.catalog.read() as conn:
        return journal.size(conn)


def _run(evi: App, person: Person, job: ExportJob) -> None:
    progress = Progress(
        say=job.steps.append,
        start=lambda total: setattr(job, "total", total),
        advance=lambda n: setattr(job, "written", job.written + n),
    )
    try:
        job.outcome = export_disc(evi, person, job.order, progress=progress)
    except EvidockError as exc:
        job.error = one_line(str(exc))
    except Exception:  # the thread must end with a shown state; the cause goes to the station's log
        log.exception("export %s by %s failed", job.id, job.owner)
        job.error = "the station failed; its log has the cause"
    finally:
        if job.error is not None:
            job.logged_before_failure = _log_size(evi) - job.log_size
        job.finished = True


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
        if media not in MEDIA:
            raise InvalidAccessInput(f"media {media[:20]!r} is not one of {', '.join(MEDIA)}")
        order = DiscOrder(
            case_number=case_number,
            recordings=(),
            maker=maker,
            extractor=extractor,
            request=number,
            out_dir=configured_out_dir(evi),
            media=media,
        )
        job = ExportJob(secrets.token_urlsafe(12), person.name, order, evi.now(), _log_size(evi))
        jobs.add(job)
        threading.Thread(target=_run, args=(evi, person, job), name=f"evidock-export-{job.id}", daemon=True).start()
        return RedirectResponse(f"/export/jobs/{job.id}", status_code=303)

    @router.get("/export/jobs/{job_id}")
    def export_status(request: Request, job_id: str) -> Response:
        person, session = web.person(request)
        job = jobs.of(person, job_id)
        return web.render(
            request,
            "export_job.html",
            person=person,
            session=session,
            job=job,
            refresh=REFRESH_SECONDS,
            how_to_burn=[burning.instructions(d.image.path) for d in job.outcome.discs] if job.outcome else [],
        )
