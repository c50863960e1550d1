"""Integrity and compliance reports: `verify` (custodians, auditors, admins) and art. 26 compliance."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.exceptions import HTTPException

from evidock.api.deps import Caller, Evi
from evidock.app import retention_context
from evidock.keys import load_vkey
from evidock.verify import verify
from retention import compliance as compliance_mod
from storage.access import Permission

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
) -> dict[str, Any]:
    person.require(Permission.REPORTS)
    rctx = retention_context(evi)
    result = compliance_mod.report(rctx, now=evi.now(), month=compliance_mod.parse_month(month) if month else None)
    return result.as_json(rctx)
