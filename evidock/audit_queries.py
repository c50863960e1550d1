"""The auditors' queries (art. 27, 29): the access trail and its anomalies, shared by `evidock audit` and the API.

Each query is itself an ACCESS entry (action ``audit``) written first, and it
reports only entries older than that one, so the answer is a fixed prefix of
the log that `log proof` can prove.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from access import audit
from access.audit import anomaly_facts, audit_trail, find_anomalies
from access.errors import InvalidAccessInput
from access.people import Permission, Person
from cases.labels import recordings_of_case
from evidock.app import App, working_time
from evidock.moments import utc
from evidock.text import one_line
from storage import recordings as recordings_db
from storage.access_terms import Action

QUERY_VALUE_LENGTH = 200  # characters of one query value kept in a QUERY entry
ACCESS_COLUMNS = [
    "entry",
    "time",
    "station",
    "recording",
    "actor",
    "role",
    "action",
    "reason",
    "approver",
    "approval",
    "requester_category",
    "document_ref",
    "request",
    "listed",
]  # AccessRow.as_json()
ANOMALY_COLUMNS = ["kind", "entry", "time", "actor", "recording", "detail", "entries"]  # Anomaly.as_json()


def query_values(values: Mapping[str, Any]) -> dict[str, str]:
    """A query's options as a log entry keeps them: only those given, on one line, bounded."""
    kept = {}
    for key, value in values.items():
        if key == "ctx" or value is None or value is False:
            continue
        kept[key] = one_line(str(value))[:QUERY_VALUE_LENGTH]
    return kept


def local_moment(text: str | None, evi: App, option: str) -> datetime | None:
    """A date or date-time as typed; without an offset it is the station's local time."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidAccessInput(
            f"{option} {text[:40]!r} is not a date or time: use 2026-11-20 or 2026-11-20T08:00 (local)"
        ) from None
    return utc(moment, evi.settings.timezone)


@dataclass(frozen=True)
class AccessTrail:
    rows: list[audit.AccessRow]
    entry: int  # this query's own ACCESS entry; every row is older


@dataclass(frozen=True)
class Anomalies:
    found: list[audit.Anomaly]
    entry: int


def _register(evi: App, person: Person, command: str, query: dict[str, str]) -> int:
    return evi.gate().record_query(
        person, command=command, query=query, reason="audit", action=Action.AUDIT, permission=Permission.AUDIT
    )


def access_trail(
    evi: App,
    person: Person,
    *,
    recording: str | None = None,
    user: str | None = None,
    case: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> AccessTrail:
    """Every access (who, role, action, reason, approver, category, document, time), filtered."""
    lo, hi = local_moment(since, evi, "--since"), local_moment(until, evi, "--until")
    person.require(Permission.AUDIT)
    query = query_values({"recording": recording, "user": user, "case": case, "since": since, "until": until})
    with evi.catalog.read() as conn:
        wanted: set[str] | None = None
        if recording is not None:
            wanted = {recordings_db.resolve(conn, recording).id}
        if case is not None:
            of_case = recordings_of_case(conn, case.strip())
            wanted = of_case if wanted is None else wanted & of_case
    own = _register(evi, person, "audit access", query)
    with evi.catalog.read() as conn:
        rows = audit_trail(conn, recordings=wanted, user=user, since=lo, until=hi, before=own)
    return AccessTrail(rows, own)


def anomalies(evi: App, person: Person, *, since: str | None = None, until: str | None = None) -> Anomalies:
    """Accesses to look at: own evidence read by its officer, outside hours, bulk, no approval, exports."""
    lo, hi = local_moment(since, evi, "--since"), local_moment(until, evi, "--until")
    person.require(Permission.AUDIT)
    own = _register(evi, person, "audit anomalies", query_values({"since": since, "until": until}))
    with evi.catalog.read() as conn:
        # Approvals may predate --since; read every access up to this query, then cut.
        everything = audit_trail(conn, before=own)
        facts = anomaly_facts(conn, everything, before=own)
    settings = evi.settings
    found = find_anomalies(
        everything,
        facts,
        is_working_time=working_time(settings),
        bulk_threshold=settings.access.bulk_threshold,
        bulk_window=timedelta(hours=1),
    )
    return Anomalies([a for a in found if (lo is None or a.time >= lo) and (hi is None or a.time < hi)], own)
