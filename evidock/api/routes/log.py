"""The verifiable log: the latest signed checkpoint, entries, inclusion and consistency proofs (RFC 9162)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from evidock import log_queries
from evidock.api.deps import MAX_ID, Caller, EntryIndex, Evi, Reason
from evidock.audit_queries import query_values
from evidock.recording_reads import NO_REASON

router = APIRouter(prefix="/log", tags=["log"])


@router.get(
    "/checkpoint",
    summary="The latest checkpoint locked in the object store, with its witnesses' cosignatures (C2SP cosigned note)",
    response_class=PlainTextResponse,
)
def log_checkpoint(evi: Evi, _person: Caller) -> PlainTextResponse:
    stored = log_queries.checkpoint(evi)
    return PlainTextResponse(log_queries.outside_trust(evi, stored).cosigned_note(stored.note))


@router.get("/entries/{index}", summary="One entry: canonical bytes, leaf hash, content (one QUERY entry first)")
def log_entry(evi: Evi, person: Caller, index: EntryIndex, reason: Reason = NO_REASON) -> dict[str, Any]:
    query = query_values({"index": index})
    evi.gate().record_query(person, command="GET /api/v1/log/entries", query=query, reason=reason)
    return log_queries.entry(evi, index)


@router.get("/proof", summary="Inclusion proof of an entry, checked before it is returned (one QUERY entry first)")
def log_proof(
    evi: Evi,
    person: Caller,
    entry: Annotated[int, Query(ge=0, le=MAX_ID)],
    size: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Tree size; default the latest checkpoint's.")
    ] = None,
    reason: Reason = NO_REASON,
) -> dict[str, Any]:
    query = query_values({"entry": entry, "size": size})
    evi.gate().record_query(person, command="GET /api/v1/log/proof", query=query, reason=reason)
    return log_queries.inclusion(evi, entry, size)


@router.get("/consistency", summary="Consistency proof that tree `to` extends tree `from`, checked")
def log_consistency(
    evi: Evi,
    _person: Caller,
    old: Annotated[int, Query(alias="from", ge=0, le=MAX_ID)],
    new: Annotated[
        int | None, Query(alias="to", ge=0, le=MAX_ID, description="Default: the latest checkpoint's size.")
    ] = None,
) -> dict[str, Any]:
    return log_queries.consistency(evi, old, new)
