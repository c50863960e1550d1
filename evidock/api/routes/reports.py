"""Integrity and compliance reports: `verify` (custodians, auditors, admins) and art. 26 compliance."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.exceptions import HTTPException

from access.people import Permission
from evidock.api.deps import Caller, Evi, Reason
from evidock.app import retention_context
from evidock.audit_queries import query_values
from evidock.keys import load_vkey
from evidock.recording_reads import NO_REASON
from evidock.verify import verify
from retention import compliance as compliance_mod

router = APIRouter(tags=["reports"])

_VERIFYING = threading.Lock()  # one verify at a time: it reads the whole log and every object


@router.get("/verify", summary="Run verify now: checkpoints, log, catalog, objects, retention (as `evidock verify`)")
def verify_status(
    evi: Evi,
    person: Caller,
    deep: Annotated[bool, Query(description="Also re-read and re-hash every stored object (slow).")] = False,
) -> dict[str, Any]:
    person.require(Permission.VERIFY)
    if not _VERIFYING.acquire(blocking=False):
        raise HTTPException(409, "a verify is running; ask again when it has finished")
    try:
        report = verify(evi, load_vkey(evi.settings), deep=deep)
    finally:
        _VERIFYING.release()
    return report.as_json()


@router.get("/compliance", summary="Art. 26 compliance per device, officer and case, and cases due")
def compliance(
    evi: Evi,
    person: Caller,
    month: Annotated[str | None, Query(description="Recordings that ended in this month (local), YYYY-MM.")] = None,
    reason: Reason = NO_REASON,
) -> dict[str, Any]:
    parsed = compliance_mod.parse_month(month) if month else None
    # The report names recordings, officers and case numbers: a query on the record, as in the CLI.
    entry = evi.gate().record_query(
        person,
        command="GET /api/v1/compliance",
        query=query_values({"month": month}),
        reason=reason,
        permission=Permission.REPORTS,
    )
    rctx = retention_context(evi)
    return {"access_entry": entry, **compliance_mod.report(rctx, now=evi.now(), month=parsed).as_json(rctx)}
