"""The checkpoint a printed report is produced against (size, root, verifier key fingerprint)."""

from __future__ import annotations

from dataclasses import dataclass

from evidock.app import App, checkpoint_reader, checkpointer_for
from evidock.keys import load_vkey
from retention.export.verify_disc import fingerprint
from storage import journal


@dataclass(frozen=True)
class ReportAnchor:
    origin: str
    size: int
    root_hex: str
    fingerprint: str  # SHA-256 of the verifier key line, groups of four (as on the disc label sheet)


def anchor_for(evi: App) -> ReportAnchor:
    """The latest stored checkpoint if it covers the whole log as it is now, else a new one.

    Called after the report's own query entry is written, so the footer proves that
    entry and every row older than it. Signing one here is what
    `evidock log checkpoint --new` does.
    """
    with evi.catalog.read() as conn:
        log_size = journal.size(conn)
    stored = checkpoint_reader(evi).latest_stored()
    if stored is None or stored.checkpoint.size < log_size:
        stored = checkpointer_for(evi).make(evi.now())
    point = stored.checkpoint
    return ReportAnchor(point.origin, point.size, point.root.hex(), fingerprint(load_vkey(evi.settings)))
