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
from storage import journal, search
from storage import recordings as recordings_db

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


def exact_name_b64(evi: App, recording: recordings_db.Recording) -> str | None:
    """The original name's exact bytes (base64) when they are not UTF-8, from the recording's INGEST entry.

    A dock's file names are bytes. The catalog's ``original_name`` is for people:
    undecodable bytes shown as ``\\xff`` escapes, which a UTF-8 name holding the
    same four characters would show too. The INGEST entry keeps the bytes
    (``original_name_b64``, chain.entries.original_name_fields) and receipts keep
    the path as bytes; this hands them on, so a reader can tell the two apart and
    rebuild the name exactly. None for a UTF-8 name: ``original_name`` is then exact.
    """
    with evi.catalog.read() as conn:
        body = journal.entry_at(conn, recording.ingest_entry).body
    exact = body.get("original_name_b64")
    return exact if isinstance(exact, str) else None


def show_recording(evi: App, person: Person, recording: str, *, reason: str) -> dict[str, Any]:
    """One recording's facts, current label and receipts (one ``metadata`` ACCESS entry), as JSON."""
    view = evi.gate().read_metadata(person, recording, reason=reason)
    data = view.recording.as_json()
    exact = exact_name_b64(evi, view.recording)
    if exact is not None:
        data["original_name_b64"] = exact
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
