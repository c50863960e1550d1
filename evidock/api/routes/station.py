"""The dock station's endpoints: a clock report at docking (art. 7), health, Prometheus metrics.

The station posts the same JSON document as the ``*.clock.json`` sidecar,
authenticated as a user of role ``station`` (or a custodian). ``/health`` and
``/metrics`` hold counts and states only, never a recording's metadata, and
need no login (the server listens on 127.0.0.1 unless told otherwise).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from chain.errors import EvidockError
from evidock import clock_reports
from evidock.api.deps import Caller, Evi
from evidock.text import one_line
from ingest.checking import FindingError
from ingest.clock_sidecar import parse_clock_sidecar
from storage import cases, journal
from storage.access import Permission

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


@router.get("/health", summary="Database, object store and checkpoint; 503 if the station cannot store")
def health(evi: Evi) -> JSONResponse:
    checks: dict[str, Any] = {}
    healthy = True
    now = evi.now()
    try:
        with evi.catalog.read() as conn:
            size = journal.size(conn)
            checkpoint = cases.latest_checkpoint(conn)
        checks["database"] = {"ok": True, "log_size": size}
        checks["checkpoint"] = {
            "size": checkpoint[0] if checkpoint else None,
            "age_seconds": round((now - checkpoint[1]).total_seconds(), 1) if checkpoint else None,
            "entries_since": size - (checkpoint[0] if checkpoint else 0),
        }
    except Exception as exc:
        healthy = False
        checks["database"] = {"ok": False, "error": one_line(type(exc).__name__)}
    try:
        bucket = evi.store.inspect_bucket()
        ok = bucket.exists and bucket.versioning == "Enabled" and bucket.object_lock
        checks["object_store"] = {"ok": ok, "bucket": bucket.bucket, "object_lock": bucket.object_lock}
        healthy = healthy and ok
    except EvidockError as exc:
        healthy = False
        checks["object_store"] = {"ok": False, "error": one_line(str(exc))[:300]}
    return JSONResponse({"status": "ok" if healthy else "failing", "checks": checks}, 200 if healthy else 503)


@router.get("/metrics", summary="Prometheus metrics, read from the catalog", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
