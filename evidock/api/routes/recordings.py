"""Recordings: search, one recording's facts, and its content (through the gate)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response

from access.errors import InvalidAccessInput
from evidock import content_http
from evidock.api.deps import MAX_ID, Caller, Evi, Reason
from evidock.moments import utc
from evidock.recording_reads import NO_REASON, list_recordings, show_recording
from storage import search
from storage.access_terms import Action
from storage.search import CustodyStatus

log = logging.getLogger(__name__)
router = APIRouter(prefix="/recordings", tags=["recordings"])


@router.get("", summary="Search recordings (one ACCESS entry of action list)")
def recordings_list(
    evi: Evi,
    person: Caller,
    device: str | None = None,
    officer: str | None = None,
    case: Annotated[str | None, Query(description="Current label's case number (案号).")] = None,
    since: Annotated[datetime | None, Query(description="Started at or after; local time unless offset.")] = None,
    until: Annotated[datetime | None, Query(description="Started before; local time unless offset.")] = None,
    status: CustodyStatus | None = None,
    has_findings: bool | None = None,
    open_findings: Annotated[bool | None, Query(description="A finding still to explain (open) is about it.")] = None,
    limit: Annotated[int, Query(ge=1, le=search.MAX_LIMIT)] = 1000,
    reason: Reason = NO_REASON,
) -> dict[str, Any]:
    wanted = search.RecordingFilter(
        device=device,
        officer=officer,
        case_number=case,
        since=None if since is None else utc(since, evi.settings.timezone),
        until=None if until is None else utc(until, evi.settings.timezone),
        status=status,
        has_findings=has_findings,
        open_findings=open_findings,
        limit=limit,
    )
    found = list_recordings(evi, person, wanted, reason=reason, command="GET /api/v1/recordings")
    return {
        "access_entry": found.entry,
        "count": len(found.recordings),
        "recordings": [r.as_json() for r in found.recordings],
    }


@router.get("/{recording}", summary="One recording: facts, current label, receipts (one ACCESS entry)")
def recordings_show(evi: Evi, person: Caller, recording: str, reason: Reason = NO_REASON) -> dict[str, Any]:
    return show_recording(evi, person, recording, reason=reason)


@router.get(
    "/{recording}/content",
    summary="The original bytes, through the gate: view/stream with a reason, or download/copy/export under "
    "an approved request; HTTP Range supported",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The whole original"},
        206: {"description": "One byte range of it"},
        416: {"description": "The range lies outside the file"},
    },
)
def recordings_content(
    evi: Evi,
    person: Caller,
    recording: str,
    action: Annotated[str, Query(description="view or stream (needs reason); ignored with request")] = "stream",
    reason: Reason | None = None,
    request: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="An approved access request (download/copy/export)")
    ] = None,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    gate = evi.gate()
    if request is not None:
        if range_header is not None:
            # An approval is single-use: a range would spend it on a few bytes. Refused before the gate,
            # so nothing is logged as delivered and the approval stays usable for the whole file.
            log.warning("Range refused on approved request %d for %s by %s", request, recording[:12], person.name)
            raise InvalidAccessInput(
                f"request {request} is single-use and delivers the whole file: send no Range header "
                "(the approval was not used)"
            )
        asked = gate.get_request(person, request)
        opened = gate.open_content(person, recording, action=asked.action, request_id=request)
        return content_http.respond(opened, range_header=range_header, attachment=True)
    if action not in (Action.VIEW.value, Action.STREAM.value):
        raise InvalidAccessInput(f"action {action[:20]!r}: use view or stream, or give an approved request")
    opened = gate.open_content(person, recording, action=Action(action), reason=reason)
    return content_http.respond(opened, range_header=range_header, attachment=False)
