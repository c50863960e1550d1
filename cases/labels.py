"""Art. 26 (第二十六条) labels: case number (案号), parties (当事人) and handler (承办人) of a recording.

A label is a LABEL entry in the log plus a row in the catalog's ``labels``
table, written in one transaction. A change of label is a new entry: nothing
is ever edited, the latest entry is the recording's current label and the
earlier ones stay as its history. Party names are personal data: the entry
holds one salted commitment per name, the catalog keeps the names for the
custodian.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from cases.register import ensure_case
from chain import entries as chain_entries
from chain.entries import EntryType
from storage.journal import Journal
from storage.rows import from_row
from storage.schema import labels, log_salts, party_field


@dataclass(frozen=True)
class Label:
    recording: str
    case_number: str  # 案号
    parties: tuple[str, ...]  # 当事人
    handler: str  # 承办人
    labelled_by: str
    labelled_at: datetime
    entry: int

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "case_number": self.case_number,
            "parties": list(self.parties),
            "handler": self.handler,
            "labelled_by": self.labelled_by,
            "labelled_at": self.labelled_at.isoformat(),
            "entry": self.entry,
        }


def _label(row: Any) -> Label:
    return from_row(Label, row, parties=tuple(row.parties))


def add_label(
    conn: Connection,
    journal: Journal,
    *,
    recording: str,
    case_number: str,
    parties: Sequence[str],
    handler: str,
    by: str,
    time: datetime,
) -> Label:
    """Append a LABEL entry and its catalog row (in ``conn``'s transaction).

    Each party name is committed with its own salt (``chain.entries.commit``);
    the entry holds the list of commitments, the salts go to ``log_salts`` as
    fields ``parties[0]``, ``parties[1]``, ... so a disclosure can open any one
    of them. (``Journal.append(personal=...)`` commits one string per body key;
    the LABEL format needs a list, so the list is committed here.)
    """
    salts = [chain_entries.new_salt() for _ in parties]
    commitments = [chain_entries.commit(name, salt) for name, salt in zip(parties, salts, strict=True)]
    index = journal.append(
        conn,
        EntryType.LABEL,
        recording=recording,
        body={"case_number": case_number, "parties": commitments, "handler": handler, "by": by},
        time=time,
    )
    if salts:
        conn.execute(
            insert(log_salts),
            [{"entry": index, "field": party_field(i), "salt": salt} for i, salt in enumerate(salts)],
        )
    stamped = time.replace(microsecond=0)  # the entry's time is whole seconds
    conn.execute(
        insert(labels).values(
            recording=recording,
            case_number=case_number,
            parties=list(parties),
            handler=handler,
            labelled_by=by,
            labelled_at=stamped,
            entry=index,
        )
    )
    ensure_case(conn, case_number, by=by, time=time)
    return Label(recording, case_number, tuple(parties), handler, by, stamped, index)


def label_history(conn: Connection, recording: str) -> list[Label]:
    rows = conn.execute(select(labels).where(labels.c.recording == recording).order_by(labels.c.entry))
    return [_label(r) for r in rows]


def latest_labels(conn: Connection, recording_ids: Iterable[str] | None = None) -> dict[str, Label]:
    """The current label of each recording (the one with the highest log index)."""
    newest = select(labels.c.recording, func.max(labels.c.entry).label("entry")).group_by(labels.c.recording)
    if recording_ids is not None:
        wanted = list(recording_ids)
        found: dict[str, Label] = {}
        for start in range(0, len(wanted), 400):  # SQLite limits bound parameters per statement
            chunk = newest.where(labels.c.recording.in_(wanted[start : start + 400])).subquery()
            rows = conn.execute(select(labels).join(chunk, labels.c.entry == chunk.c.entry))
            found.update({r.recording: _label(r) for r in rows})
        return found
    sub = newest.subquery()
    return {r.recording: _label(r) for r in conn.execute(select(labels).join(sub, labels.c.entry == sub.c.entry))}


def first_labelled_at(conn: Connection, recording_ids: Iterable[str]) -> dict[str, datetime]:
    """When each of these recordings got its first label, if it has one (art. 26: labelled in time)."""
    wanted = list(recording_ids)
    found: dict[str, datetime] = {}
    query = select(labels.c.recording, func.min(labels.c.labelled_at)).group_by(labels.c.recording)
    for start in range(0, len(wanted), 400):  # SQLite limits bound parameters per statement
        rows = conn.execute(query.where(labels.c.recording.in_(wanted[start : start + 400])))
        found.update({row[0]: row[1] for row in rows})
    return found


def recordings_of_case(conn: Connection, case_number: str) -> set[str]:
    """Every recording ever labelled with ``case_number`` (案号)."""
    rows = conn.execute(select(labels.c.recording).where(labels.c.case_number == case_number))
    return {r for (r,) in rows}
