"""Disc exports (art. 27): the function `evidock export disc` runs, started over HTTP and followed by polling.

An export of many gigabytes outlasts an HTTP request, so ``POST`` starts it in
a thread and answers 202 with the job's URL; ``GET`` that URL until
``finished``. Only the person who started an export sees its job. The images
go to config.toml's ``[export] out_dir`` on the station.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from access.people import Permission
from evidock.api.deps import MAX_ID, Caller, Evi
from evidock.disc_export import ExportJobs, checked_media, configured_out_dir
from retention.export.job import DiscOrder
from retention.export.layout import MEDIA

router = APIRouter(prefix="/exports", tags=["export"])


class ExportBody(BaseModel):
    request: int = Field(ge=1, le=MAX_ID, description="Your approved export request (POST /api/v1/access-requests).")
    case_number: str = Field(max_length=200, description="Case number (案号) the recordings are labelled with.")
    maker: str = Field(max_length=200, description="Who makes the disc (制作人).")
    extractor: str = Field(max_length=200, description="Who extracted the recordings (提取人).")
    media: str = Field("dvd", description=f"Disc size: {', '.join(MEDIA)}.")
    recordings: list[str] = Field(
        default_factory=list, description="Recording ids or prefixes; empty: every recording of the case."
    )


def _jobs(request: Request) -> ExportJobs:
    jobs = request.app.state.export_jobs
    assert isinstance(jobs, ExportJobs)  # noqa: S101 - set by create_app
    return jobs


@router.post(
    "",
    status_code=202,
    summary="Start a disc export (as `evidock export disc`); follow it at the returned URL",
    responses={
        202: {"description": "Started; a refusal (no approved export request) shows in the job, writing nothing."},
        403: {"description": "The caller's role may not export (auditors, admins, stations)."},
    },
)
def exports_start(evi: Evi, person: Caller, body: ExportBody, request: Request) -> JSONResponse:
    person.require(Permission.REQUEST_COPY)  # a role that may never export is refused now, not in the job
    order = DiscOrder(
        case_number=body.case_number,
        recordings=tuple(body.recordings),
        maker=body.maker,
        extractor=body.extractor,
        request=body.request,
        out_dir=configured_out_dir(evi),
        media=checked_media(body.media),
    )
    job = _jobs(request).start(evi, person, order)
    url = f"/api/v1/exports/{job.id}"
    return JSONResponse({"id": job.id, "status_url": url}, status_code=202, headers={"Location": url})


@router.get("/{job_id}", summary="An export's progress, then its images, SHA-256s, log entries and burn advice")
def exports_status(person: Caller, job_id: str, request: Request) -> dict[str, Any]:
    return _jobs(request).of(person, job_id).as_json()
