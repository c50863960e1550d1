"""Art. 26 (第二十六条) labels: case number (案号), parties (当事人) and handler (承办人).

A label is a LABEL entry in the log plus a row in the catalog's ``labels``
table, written in one transaction. A change of label is a new entry: nothing
is ever edited, the latest entry is the recording's current label and the
earlier ones stay as its history. Party names are personal data: the entry
holds one salted commitment per name, the catalog keeps the names for the
custodian (see ``cases.labels.add_label``).

A shift usually belongs to one case, so recordings can also be chosen by
device and time range (``shift``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cases.labels import Label, add_label, latest_labels
from retention.context import CustodyError, RetentionContext, checked_case_number, checked_text
from storage import recordings as recordings_db
from storage.recording_facts import recording_facts
from storage.tombstones import tombstone

__all__ = ["LabelOutcome", "label", "resolve", "shift"]


@dataclass(frozen=True)
class LabelOutcome:
    recording: str
    label: Label  # the recording's current label after the call
    changed: bool  # False: it already had exactly this label; no entry was written

    def as_json(self) -> dict[str, Any]:
        return {"recording": self.recording, "changed": self.changed, **self.label.as_json()}


def resolve(ctx: RetentionContext, prefixes: Sequence[str]) -> list[str]:
    """Full recording ids for ids or unique prefixes; refuses purged recordings. Order kept, duplicates dropped."""
    with ctx.catalog.read() as conn:
        ids = [recordings_db.resolve(conn, p).id for p in prefixes]
        for recording in ids:
            gone = tombstone(conn, recording)
            if gone is not None:
                raise CustodyError(
                    f"recording {recording} was purged on {gone.decided_at.isoformat()}; only its tombstone is left"
                )
    return list(dict.fromkeys(ids))


def shift(ctx: RetentionContext, *, device: str, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The recordings of ``device`` that started in [start, end): one officer's shift."""
    if end <= start:
        raise CustodyError(f"the shift ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    with ctx.catalog.read() as conn:
        found = recording_facts(conn, device=device, started_from=start, started_before=end, include_purged=False)
    if not found:
        raise CustodyError(
            f"no recording of device {device!r} started between {start.astimezone(ctx.tz).isoformat()} "
            f"and {end.astimezone(ctx.tz).isoformat()}"
        )
    return [f.id for f in found]


def label(
    ctx: RetentionContext,
    recordings: Sequence[str],
    *,
    case_number: str,
    parties: Sequence[str],
    handler: str,
    by: str,
    now: dt.datetime,
) -> list[LabelOutcome]:
    """Label full recording ids (see ``resolve``) in one transaction: all of them or none.

    A recording whose current label is already exactly this one gets no new entry.
    """
    case_number = checked_case_number(case_number)
    names = [checked_text("party (当事人)", p) for p in parties]
    if not names:
        raise CustodyError("give at least one party (当事人) with --party")
    handler = checked_text("handler (承办人)", handler)
    by = checked_text("acting user", by)
    if not recordings:
        raise CustodyError("no recordings to label")
    outcomes = []
    with ctx.catalog.begin() as conn:
        current = latest_labels(conn, recordings)
        for recording in recordings:
            before = current.get(recording)
            if before and (before.case_number, before.parties, before.handler) == (case_number, tuple(names), handler):
                outcomes.append(LabelOutcome(recording, before, changed=False))
                continue
            made = add_label(
                conn,
                ctx.journal,
                recording=recording,
                case_number=case_number,
                parties=names,
                handler=handler,
                by=by,
                time=now,
            )
            outcomes.append(LabelOutcome(recording, made, changed=True))
    return outcomes
