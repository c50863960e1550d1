"""The dock station's endpoints: a clock report at docking (art. 7), health, Prometheus metrics.

The station posts the same JSON document as the ``*.clock.json`` sidecar,
authenticated as a user of role ``station`` (or a custodian). ``/metrics`` holds
counts and states only, never a recording's metadata, and needs no login (the
server listens on 127.0.0.1 unless told otherwise); ``/health`` tells anyone its
status and only a logged-in caller why (its reasons name folders and the bucket).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from access.people import Permission, Person
from evidock import clock_reports
from evidock import health as station_health
from evidock.api.deps import Caller, Evi
from evidock.api.security import bearer, current_person, user_header
from ingest.checking import FindingError
from ingest.clock_sidecar import parse_clock_sidecar
from storage.errors import StorageError

router = APIRouter(tags=["station"])


class ClockBody(BaseModel):
    """The ``*.clock.json`` sidecar document: both times read at the same moment, RFC 3339 with offset."""

    device: str = Field(examples=["CAM01"])
    device_time: str = Field(examples=["2026-11-20T08:06:19+08:00"], description="The device's clock.")
    station_time: str = Field(examples=["2026-11-20T08:06:16+08:00"], description="The NTP-synced station's clock.")


@router.post("/api/v1/station/clock", summary="A device clock report at docking; re-checks the device's recordings")
def station_clock(evi: Evi, person: Caller, body: ClockBody) -> dict[str, Any]:
    person.require(Permission.CLOCK)
    try:  # the sidecar's own parser: the same rules for both ways in
        report = parse_clock_sidecar(json.dumps(body.model_dump()).encode("utf-8"))
    except ValueError as exc:
        raise FindingError(str(exc)) from exc
    return clock_reports.enter(evi, report, source="api", by=person.name).as_json()


def _caller_if_any(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    user: Annotated[str | None, Depends(user_header)],
) -> Person | None:
    """The authenticated caller when credentials are sent (wrong ones are a 401, as anywhere); else None.

    With the catalog broken nobody can be authenticated: the caller gets the status alone.
    """
    if credentials is None and not user:
        return None
    try:
        return current_person(request, credentials, user)
    except StorageError:
        return None


@router.get(
    "/health",
    summary="ok, or degraded (503) with the reasons: catalog, object store, a file waiting too long, low disk space",
)
def health(evi: Evi, caller: Annotated[Person | None, Depends(_caller_if_any)]) -> JSONResponse:
    """Without login only the status; with any valid user and token also the reasons and the checks."""
    report = station_health.check(evi, now=evi.now())
    code = 200 if report.status == "ok" else 503
    if caller is None:
        return JSONResponse({"status": report.status}, code)
    return JSONResponse({"status": report.status, "reasons": report.reasons, "checks": report.checks}, code)


@router.get("/metrics", summary="Prometheus metrics, read from the catalog", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
