"""The audit trail (art. 27, 29), for auditors: each query is itself an ACCESS entry of action audit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from evidock import audit_queries, spreadsheet
from evidock.api.deps import Caller, Evi

router = APIRouter(prefix="/audit", tags=["audit"])

Output = Annotated[Literal["json", "csv"], Query(alias="format", description="json, or csv for a spreadsheet.")]
Moment = Annotated[str | None, Query(description="Local date or date-time (e.g. 2026-11-20), or with an offset.")]


def _csv(rows: list[dict[str, Any]], columns: list[str], entry: int) -> Response:
    return Response(
        spreadsheet.csv_text(rows, columns),
        media_type="text/csv; charset=utf-8",
        headers={"X-Evidock-Access-Entry": str(entry)},
    )


@router.get("/access", summary="Every access older than this query: who, role, action, reason, approver, time")
def audit_access(
    evi: Evi,
    person: Caller,
    recording: Annotated[str | None, Query(description="This recording (id or prefix), searches included.")] = None,
    user: str | None = None,
    case: Annotated[str | None, Query(description="Recordings ever labelled with this case number (案号).")] = None,
    since: Moment = None,
    until: Moment = None,
    output: Output = "json",
) -> Any:
    trail = audit_queries.access_trail(evi, person, recording=recording, user=user, case=case, since=since, until=until)
    rows = [r.as_json() for r in trail.rows]
    if output == "csv":
        return _csv(rows, audit_queries.ACCESS_COLUMNS, trail.entry)
    return {"access_entry": trail.entry, "count": len(rows), "accesses": rows}


@router.get("/anomalies", summary="Accesses to look at: own evidence, outside hours, bulk, no approval, exports")
def audit_anomalies(
    evi: Evi, person: Caller, since: Moment = None, until: Moment = None, output: Output = "json"
) -> Any:
    found = audit_queries.anomalies(evi, person, since=since, until=until)
    rows = [a.as_json() for a in found.found]
    if output == "csv":
        return _csv(rows, audit_queries.ANOMALY_COLUMNS, found.entry)
    return {"access_entry": found.entry, "count": len(rows), "anomalies": rows}
