"""A case's decision steps as the log holds them: its DECISION, REVIEW and PUBLICATION entries, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from chain.entries import Entry, EntryType, decode
from storage.schema import log_entries

STEP_TYPES = (EntryType.DECISION, EntryType.REVIEW, EntryType.PUBLICATION)


@dataclass(frozen=True)
class Step:
    entry: int  # its log index: `evidock log proof --entry N` proves it
    type: EntryType
    action: str
    by: str
    time: str  # the entry's time, RFC 3339 UTC
    body: dict[str, Any]  # as logged: personal data only as commitments

    def as_json(self) -> dict[str, Any]:
        return {"entry": self.entry, "type": self.type.value, "action": self.action, "by": self.by, "time": self.time}


def case_steps(conn: Connection, case_number: str) -> list[Step]:
    """Every decision, review and publication entry of ``case_number``, in log order."""
    rows = conn.execute(
        select(log_entries.c.idx, log_entries.c.data)
        .where(log_entries.c.type.in_([t.value for t in STEP_TYPES]))
        .order_by(log_entries.c.idx)
    )
    steps = []
    for index, data in rows:
        entry: Entry = decode(bytes(data))
        if entry.body.get("case_number") != case_number:
            continue
        steps.append(
            Step(
                int(index),
                entry.type,
                str(entry.body.get("action")),
                str(entry.body.get("by")),
                entry.time,
                dict(entry.body),
            )
        )
    return steps
