"""Receipts: one row per docked file, holding its persisted ingest state.

States, in order (each one is committed before the next step starts)::

    received  the file was seen stable
    hashed    its SHA-256 is known: the content-addressed key ``sha256/ab/cd/<hex>``
    stored    uploaded to that key (``version_id``), not yet trusted and not locked
    verified  that version's bytes were re-read from the server and hash to the same SHA-256
    locked    COMPLIANCE retention set on that version and read back
    logged    the recording row and its INGEST entry are committed (one transaction)
    released  the dock's copy was kept, moved or deleted as configured
    failed    stopped for a reason a person must look at; the dock copy is untouched
    quarantined  an unexpected error about this one file (an OS error moving the dock copy,
              a bug) stopped it; ``error`` says where and why. Not retried by itself, so one
              file can never stop the service or loop it through restarts. Quarantined after
              ``logged`` (``recording`` set), the evidence is stored, verified and logged, and
              only the dock copy waits for a person. A person retries it (``reopen``,
              `evidock quarantine retry`) once the cause is fixed

A crash between any two states resumes at the last committed one; every step is
idempotent, so resuming never makes a second object, entry or recording.

Receipts made before uploads went straight to the content key (issue 21) have a
``staging_key``; in that era ``stored`` meant "at the staging key" and
``locked`` came before ``verified``. ``leave_copy_era`` moves such a receipt
onto today's path. New receipts leave ``staging_key`` empty (the column stays,
so catalogs from then open unchanged).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from storage.errors import InvalidReference
from storage.rows import from_row, inserted_id
from storage.schema import receipts


class State(StrEnum):
    RECEIVED = "received"
    HASHED = "hashed"
    STORED = "stored"
    VERIFIED = "verified"
    LOCKED = "locked"
    LOGGED = "logged"
    RELEASED = "released"
    FAILED = "failed"
    QUARANTINED = "quarantined"


FINISHED = (State.RELEASED, State.FAILED, State.QUARANTINED)  # nothing more happens by itself
STOPPED = (State.FAILED, State.QUARANTINED)  # reachable from any state
CLAIMED = (State.HASHED, State.STORED, State.VERIFIED, State.LOCKED)  # content known, not yet a recording


@dataclass(frozen=True)
class Receipt:
    id: int
    station: str
    folder: Path
    path: Path
    size: int
    mtime_ns: int
    inode: int
    state: State
    staging_key: str  # empty, unless made before direct uploads (see the module's docstring)
    staging_version: str | None
    sha256: str | None
    version_id: str | None
    recording: str | None
    duplicate: bool
    received_at: datetime
    error: str | None


def _row_to_receipt(row: Any) -> Receipt:
    folder = Path(os.fsdecode(row.folder))
    return from_row(
        Receipt,
        row,
        folder=folder,
        path=folder / os.fsdecode(row.rel_path),
        state=State(row.state),
        duplicate=bool(row.duplicate),
    )


def find(conn: Connection, *, station: str, folder: Path, relative: Path, size: int, mtime_ns: int) -> Receipt | None:
    row = conn.execute(
        select(receipts).where(
            receipts.c.station == station,
            receipts.c.folder == os.fsencode(folder),
            receipts.c.rel_path == os.fsencode(relative),
            receipts.c.size == size,
            receipts.c.mtime_ns == mtime_ns,
        )
    ).first()
    return _row_to_receipt(row) if row else None


def create(
    conn: Connection,
    *,
    station: str,
    folder: Path,
    relative: Path,
    size: int,
    mtime_ns: int,
    inode: int,
    now: datetime,
) -> Receipt:
    result = conn.execute(
        insert(receipts).values(
            station=station,
            folder=os.fsencode(folder),
            rel_path=os.fsencode(relative),
            size=size,
            mtime_ns=mtime_ns,
            inode=inode,
            state=State.RECEIVED.value,
            staging_key="",
            received_at=now,
            updated_at=now,
        )
    )
    return get(conn, inserted_id(result))


def get(conn: Connection, receipt_id: int) -> Receipt:
    row = conn.execute(select(receipts).where(receipts.c.id == receipt_id)).first()
    if row is None:
        raise LookupError(f"no receipt {receipt_id}")
    return _row_to_receipt(row)


def advance(conn: Connection, receipt: Receipt, state: State, now: datetime, **facts: object) -> Receipt:
    """Move a receipt to ``state`` (only forward, or to FAILED / QUARANTINED), recording new facts."""
    order = list(State)
    if state not in STOPPED and order.index(state) <= order.index(receipt.state):
        raise RuntimeError(f"receipt {receipt.id} cannot go from {receipt.state} to {state}")
    conn.execute(
        update(receipts)
        .where(receipts.c.id == receipt.id, receipts.c.state == receipt.state.value)
        .values(state=state.value, updated_at=now, **facts)
    )
    return get(conn, receipt.id)


def leave_copy_era(conn: Connection, receipt: Receipt, now: datetime) -> Receipt:
    """Forget a copy-era receipt's staging key (its uploads are gone); from ``stored`` or ``locked``, back to
    ``hashed``: those meant something else then, and its SHA-256 is all that carries over."""
    facts: dict[str, object] = {"staging_key": "", "staging_version": None, "updated_at": now}
    if receipt.state in (State.STORED, State.LOCKED):
        facts.update(state=State.HASHED.value, version_id=None)
    conn.execute(
        update(receipts).where(receipts.c.id == receipt.id, receipts.c.state == receipt.state.value).values(**facts)
    )
    return get(conn, receipt.id)


def unfinished(conn: Connection, station: str) -> list[Receipt]:
    """Receipts of this station that a crash or an error left before RELEASED."""
    rows = conn.execute(
        select(receipts)
        .where(
            receipts.c.station == station,
            receipts.c.state.not_in([s.value for s in FINISHED]),
        )
        .order_by(receipts.c.id)
    )
    return [_row_to_receipt(r) for r in rows]


def quarantined(conn: Connection, station: str | None = None) -> list[tuple[Receipt, datetime]]:
    """Quarantined receipts (of ``station``, or every station), oldest first, with when they were stopped."""
    query = select(receipts).where(receipts.c.state == State.QUARANTINED.value).order_by(receipts.c.id)
    if station is not None:
        query = query.where(receipts.c.station == station)
    return [(_row_to_receipt(r), r.updated_at) for r in conn.execute(query)]


def resumes_at(receipt: Receipt) -> State:
    """The last state a quarantined receipt's recorded facts prove it reached.

    Quarantine keeps the facts but not the state it stopped in; each step is
    idempotent, so resuming at the last proven one is what resuming after a
    crash does: recording set -> LOGGED (only the dock copy is left to release);
    a locked version -> LOCKED (its bytes are verified again); a staged upload ->
    STORED; nothing -> RECEIVED (the upload starts over, leftovers removed first).
    """
    if receipt.recording is not None:
        return State.LOGGED
    if receipt.version_id is not None:
        return State.LOCKED
    if receipt.sha256 is not None and receipt.staging_version is not None:
        return State.STORED
    return State.RECEIVED


def reopen(conn: Connection, receipt: Receipt, now: datetime) -> Receipt:
    """A quarantined receipt put back where it stopped (``resumes_at``), its error cleared, to be run again."""
    if receipt.state is not State.QUARANTINED:
        raise InvalidReference(f"receipt {receipt.id} is {receipt.state.value}, not quarantined: nothing to retry")
    done = conn.execute(
        update(receipts)
        .where(receipts.c.id == receipt.id, receipts.c.state == State.QUARANTINED.value)
        .values(state=resumes_at(receipt).value, error=None, updated_at=now)
    )
    if done.rowcount != 1:
        raise InvalidReference(f"receipt {receipt.id} changed meanwhile (someone else retried it); list them again")
    return get(conn, receipt.id)


def for_recording(conn: Connection, recording: str) -> list[Receipt]:
    rows = conn.execute(select(receipts).where(receipts.c.recording == recording).order_by(receipts.c.id))
    return [_row_to_receipt(r) for r in rows]


def earlier_at_path(
    conn: Connection, *, station: str, folder: Path, relative: Path, smaller_than: int
) -> list[Receipt]:
    """Receipts of files stored earlier at the same dock path, smaller than ``smaller_than`` bytes.

    Candidates for a partial that a later, longer file at that path supersedes.
    """
    rows = conn.execute(
        select(receipts)
        .where(
            receipts.c.station == station,
            receipts.c.folder == os.fsencode(folder),
            receipts.c.rel_path == os.fsencode(relative),
            receipts.c.size < smaller_than,
            receipts.c.size > 0,
            receipts.c.sha256.is_not(None),
            receipts.c.recording.is_not(None),
        )
        .order_by(receipts.c.id)
    )
    return [_row_to_receipt(r) for r in rows]
