"""The log's persistence: entries, Merkle nodes and commitment salts in the catalog.

``Journal.append`` runs inside the caller's transaction, so an entry commits
together with the catalog change it describes (or neither does). It starts by
bumping ``log_head``, which serialises appends across processes and stations:
indexes are dense, and the stored nodes always describe exactly the entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from chain import entries as chain_entries
from chain.entries import Entry, EntryType, JsonValue
from chain.merkle import NodeKey, leaf_hash, nodes_completed_by_append
from storage.catalog import log_entries, log_head, log_nodes, log_salts
from storage.errors import StorageError


class SqlNodes:
    """A ``chain.merkle.NodeSource`` over the ``log_nodes`` table: one query per proof."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        wanted = list(dict.fromkeys(keys))
        found: dict[NodeKey, bytes] = {}
        # Chunked: SQLite limits bound parameters per statement.
        for start in range(0, len(wanted), 200):
            chunk = wanted[start : start + 200]
            # OR of (level = ? AND idx = ?) uses the primary key on SQLite and PostgreSQL;
            # a row-value IN (VALUES ...) makes SQLite scan the whole table.
            rows = self._conn.execute(
                select(log_nodes.c.level, log_nodes.c.idx, log_nodes.c.hash).where(
                    or_(*(and_(log_nodes.c.level == level, log_nodes.c.idx == idx) for level, idx in chunk))
                )
            )
            found.update({(int(level), int(idx)): bytes(digest) for level, idx, digest in rows})
        missing = [k for k in wanted if k not in found]
        if missing:
            raise StorageError(f"log nodes missing from the catalog: {missing[:5]} (the log table was damaged)")
        return [found[k] for k in keys]


class Journal:
    """Appends entries for one station."""

    def __init__(self, station: str) -> None:
        self.station = station

    def append(
        self,
        conn: Connection,
        kind: EntryType,
        *,
        recording: str | None,
        body: Mapping[str, object],
        time: datetime,
        personal: Mapping[str, str] | None = None,
    ) -> int:
        """Append one entry in ``conn``'s transaction; returns its index.

        ``body`` values may be datetimes (written as RFC 3339 UTC). Each
        ``personal`` field is committed with a fresh salt: the entry holds only
        the commitment, the salt stays in ``log_salts`` so a disclosure can
        open it or leave it out without breaking any proof.
        """
        size = _bump_head(conn)
        index = size - 1
        prev = None
        if recording is not None:
            prev = conn.execute(
                select(func.max(log_entries.c.idx)).where(log_entries.c.recording == recording)
            ).scalar()
        salts: dict[str, bytes] = {}
        values: dict[str, JsonValue] = {k: _json(v) for k, v in body.items()}
        for field, value in (personal or {}).items():
            salts[field] = chain_entries.new_salt()
            values[field] = chain_entries.commit(value, salts[field])
        entry = chain_entries.new_entry(
            kind, time=time, station=self.station, recording=recording, prev=prev, body=values
        )
        data = chain_entries.encode(entry)
        made = nodes_completed_by_append(index, leaf_hash(data), SqlNodes(conn))
        conn.execute(
            insert(log_entries).values(
                idx=index,
                type=kind.value,
                recording=recording,
                time=entry.timestamp,
                station=self.station,
                data=data,
            )
        )
        conn.execute(insert(log_nodes), [{"level": lv, "idx": i, "hash": h} for lv, i, h in made])
        if salts:
            conn.execute(insert(log_salts), [{"entry": index, "field": f, "salt": s} for f, s in salts.items()])
        return index


def _bump_head(conn: Connection) -> int:
    """Take the log's write lock (the ``log_head`` row) and return the new size."""
    changed = conn.execute(update(log_head).where(log_head.c.id == 1).values(size=log_head.c.size + 1))
    if changed.rowcount != 1:
        raise StorageError("the catalog has no log head row; was it created by evidock?")
    size = conn.execute(select(log_head.c.size).where(log_head.c.id == 1)).scalar_one()
    return int(size)


def size(conn: Connection) -> int:
    return int(conn.execute(select(log_head.c.size).where(log_head.c.id == 1)).scalar_one())


def entry_bytes(conn: Connection, index: int) -> bytes:
    data = conn.execute(select(log_entries.c.data).where(log_entries.c.idx == index)).scalar()
    if data is None:
        raise StorageError(f"no log entry {index}")
    return bytes(data)


def entry_at(conn: Connection, index: int) -> Entry:
    return chain_entries.decode(entry_bytes(conn, index))


def _json(value: object) -> JsonValue:
    if isinstance(value, datetime):
        return chain_entries.format_time(value)
    return value  # type: ignore[return-value]  # checked by chain.entries on construction
