"""Findings of the checks (art. 7, 18) as a person lists and explains them; the CLI and the API share these."""

from __future__ import annotations

from datetime import datetime

from access.people import Permission, Person
from evidock.app import App
from ingest.checking import FindingError
from ingest.checking import explain as explain_finding
from storage import findings as findings_db
from storage import recordings as recordings_db


def list_findings(
    evi: App,
    *,
    open_only: bool = False,
    device: str | None = None,
    since: datetime | None = None,
    recording: str | None = None,
) -> list[findings_db.StoredFinding]:
    """Findings (open until explained; withdrawn ones left out), filtered; ``recording`` may be a prefix.

    The caller registers the person's query first (``Gate.record_query``).
    """
    with evi.catalog.read() as conn:
        rec = recordings_db.resolve(conn, recording).id if recording else None
        return findings_db.listing(conn, open_only=open_only, device=device, since=since, recording=rec)


def explain(
    evi: App,
    person: Person,
    finding: int,
    *,
    text: str,
    voice_in: str | None = None,
    voice_at_ms: int | None = None,
) -> int:
    """An EXPLANATION entry by ``person`` (情况说明); returns its log index."""
    person.require(Permission.EXPLAIN)
    if (voice_in is None) != (voice_at_ms is None):
        raise FindingError("--voice-in and --at go together: the recording and the second the statement starts")
    with evi.catalog.begin() as conn:
        voice = recordings_db.resolve(conn, voice_in).id if voice_in else None
        return explain_finding(
            conn,
            evi.journal,
            finding,
            text=text,
            author=person.name,
            now=evi.now(),
            voice_in=voice,
            voice_at_ms=voice_at_ms,
        )
