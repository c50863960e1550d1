"""A recording's custody chain read back from the log, and the checkpoints that covered it.

Read-only queries for the disc export (``retention.export``): which entries are
about a recording (the ``prev`` chain of docs/log-format.md §2.6), their bytes,
and the first stored checkpoint that covered an entry (so a consistency proof
can run from it to a later checkpoint).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from storage.errors import StorageError
from storage.schema import checkpoints, log_entries


def chain_indexes(conn: Connection, recording: str, *, below: int) -> list[int]:
    """Indexes of every entry about ``recording`` in the tree of ``below`` entries, oldest first."""
    rows = conn.execute(
        select(log_entries.c.idx)
        .where(log_entries.c.recording == recording, log_entries.c.idx < below)
        .order_by(log_entries.c.idx)
    )
    return [int(i) for (i,) in rows]


def entry_data(conn: Connection, indexes: Sequence[int]) -> dict[int, bytes]:
    """The canonical bytes of the entries ``indexes`` (all must exist)."""
    found: dict[int, bytes] = {}
    wanted = sorted(set(indexes))
    for start in range(0, len(wanted), 500):  # SQLite limits bound parameters per statement
        chunk = wanted[start : start + 500]
        rows = conn.execute(select(log_entries.c.idx, log_entries.c.data).where(log_entries.c.idx.in_(chunk)))
        found.update({int(i): bytes(data) for i, data in rows})
    missing = [i for i in wanted if i not in found]
    if missing:
        raise StorageError(f"log entries missing from the catalog: {missing[:5]}")
    return found


def first_checkpoint_covering(conn: Connection, index: int) -> tuple[int, str] | None:
    """(size, signed note) of the first recorded checkpoint that includes entry ``index``, if any."""
    row = conn.execute(
        select(checkpoints.c.size, checkpoints.c.note)
        .where(checkpoints.c.size > index)
        .order_by(checkpoints.c.size)
        .limit(1)
    ).first()
    return (int(row.size), str(row.note)) if row else None
