"""Findings of the checks (art. 7, 18): the list (one QUERY entry) and explanations (EXPLANATION entries)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from evidock import findings_reads
from evidock.api.deps import Caller, Evi, Reason, RowId
from evidock.audit_queries import query_values
from evidock.recording_reads import NO_REASON
from ingest.checking import MAX_EXPLANATION

router = APIRouter(prefix="/findings", tags=["findings"])


@router.get("", summary="Findings, open until explained (one ACCESS entry of action query, first)")
def findings_list(
    evi: Evi,
    person: Caller,
    open_only: Annotated[bool, Query(alias="open", description="Only findings not yet explained.")] = False,
    device: str | None = None,
    since: Annotated[datetime | None, Query(description="From this time on; local unless offset.")] = None,
    recording: Annotated[str | None, Query(description="Recording id or a unique prefix (6+ hex digits).")] = None,
    reason: Reason = NO_REASON,
) -> dict[str, Any]:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=evi.settings.timezone)
    query = query_values({"open_only": open_only, "device": device, "since": since, "recording": recording})
    entry = evi.gate().record_query(person, command="GET /api/v1/findings", query=query, reason=reason)
    rows = findings_reads.list_findings(evi, open_only=open_only, device=device, since=since, recording=recording)
    return {"access_entry": entry, "count": len(rows), "findings": [r.as_json() for r in rows]}


class Explanation(BaseModel):
    text: str = Field(max_length=MAX_EXPLANATION, description="Why the recording was interrupted (情况说明).")
    voice_in: str | None = Field(None, description="The recording holding the spoken statement (the CLI's --voice-in).")
    voice_at_seconds: float | None = Field(
        None, ge=0, description="Seconds into voice_in where the statement starts (the CLI's --at)."
    )


@router.post("/{finding}/explanation", summary="Explain a finding: an EXPLANATION entry naming the caller")
def findings_explain(evi: Evi, person: Caller, finding: RowId, body: Explanation) -> dict[str, Any]:
    at_ms = round(body.voice_at_seconds * 1000) if body.voice_at_seconds is not None else None
    index = findings_reads.explain(evi, person, finding, text=body.text, voice_in=body.voice_in, voice_at_ms=at_ms)
    return {"finding": finding, "status": "explained", "entry": index}
