"""A person's reads of recordings' metadata, through the access gate: one function each for the CLI and the API.

Each read appends its ACCESS entry (``list`` or ``metadata``) before anything is
returned; a refused or unrecorded read returns nothing (access.gate.Gate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from access.people import Person
from evidock.app import App
from evidock.audit_queries import query_values
from evidock.text import shown
from storage import recordings as recordings_db
from storage import search

NO_REASON = "not given"  # the reason (事由) written when a person gives none


@dataclass(frozen=True)
class Listing:
    recordings: list[recordings_db.Recording]
    entry: int  # the ACCESS entry (action "list") that registered this search


def list_recordings(evi: App, person: Person, wanted: search.RecordingFilter, *, reason: str, command: str) -> Listing:
    """A person's search: the matching recordings and the LIST entry naming every id shown."""
    with evi.catalog.read() as conn:
        rows = search.search(conn, wanted)
    entry = evi.gate().record_listing(
        person, command=command, query=query_values(wanted.as_query()), recordings=[r.id for r in rows], reason=reason
    )
    return Listing(rows, entry)


def show_recording(evi: App, person: Person, recording: str, *, reason: str) -> dict[str, Any]:
    """One recording's facts, current label and receipts (one ``metadata`` ACCESS entry), as JSON."""
    view = evi.gate().read_metadata(person, recording, reason=reason)
    data = view.recording.as_json()
    data["label"] = view.label.as_json() if view.label else None
    data["access_entry"] = view.entry
    data["receipts"] = [
        {
            "id": r.id,
            "path": shown(r.path),
            "state": r.state.value,
            "duplicate": r.duplicate,
            "received_at": r.received_at.isoformat(),
        }
        for r in view.receipts
    ]
    return data
