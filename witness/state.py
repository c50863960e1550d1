"""The witness's own SQLite database: the latest cosigned checkpoint per log, and its history.

A witness that forgets can be rolled back, so every answer is preceded by a
durable commit: WAL journal with ``synchronous=FULL`` (the WAL is fsynced at
every commit), and the check of the old size and the write of the new
checkpoint happen in one ``BEGIN IMMEDIATE`` transaction (the race in
tlog-witness "add-checkpoint": two requests checked against the same size, the
smaller written last, would roll the witness back).

Tables (append-only except ``latest``):

* ``latest``    per origin: size, root, the note as submitted, when cosigned;
* ``cosigned``  every cosignature given: origin, size, root, note, timestamp, the line;
* ``refused``   every refused request that is evidence (fork, rollback,
  inconsistent proof): both notes, the claimed old size and proof, the reason.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chain.errors import EvidockError
from witness.judge import Seen

_SCHEMA = """
CREATE TABLE IF NOT EXISTS latest (
    origin TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    cosigned_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cosigned (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    cosignature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    kind TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    seen_note TEXT,
    submitted_note TEXT NOT NULL,
    old_size INTEGER NOT NULL,
    proof TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
"""


class WitnessStateError(EvidockError):
    """The witness's database could not be read or written; nothing was cosigned."""


@dataclass(frozen=True)
class LatestRow:
    origin: str
    size: int
    root: bytes
    note: str
    cosigned_at: int


@dataclass(frozen=True)
class CosignedRow:
    id: int
    origin: str
    size: int
    root: bytes
    note: str
    timestamp: int
    cosignature: str


@dataclass(frozen=True)
class RefusedRow:
    id: int
    origin: str
    kind: str
    status: int
    reason: str
    seen_note: str | None
    submitted_note: str
    old_size: int
    proof: tuple[str, ...]
    received_at: int


class Transaction:
    """Reads and writes inside one ``BEGIN IMMEDIATE`` transaction (see :meth:`WitnessState.transaction`)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def seen(self, origin: str) -> Seen | None:
        row = self._connection.execute("SELECT size, root, note FROM latest WHERE origin = ?", (origin,)).fetchone()
        return Seen(int(row[0]), bytes(row[1]), str(row[2])) if row else None

    def record_cosigned(
        self, origin: str, *, size: int, root: bytes, note: str, timestamp: int, cosignature: str
    ) -> None:
        self._connection.execute(
            "INSERT INTO latest (origin, size, root, note, cosigned_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note, "
            "cosigned_at = excluded.cosigned_at",
            (origin, size, root, note, timestamp),
        )
        self._connection.execute(
            "INSERT INTO cosigned (origin, size, root, note, timestamp, cosignature) VALUES (?, ?, ?, ?, ?, ?)",
            (origin, size, root, note, timestamp, cosignature),
        )

    def record_refused(
        self,
        *,
        origin: str,
        kind: str,
        status: int,
        reason: str,
        seen_note: str | None,
        submitted_note: str,
        old_size: int,
        proof: tuple[bytes, ...],
        received_at: int,
    ) -> None:
        encoded = "\n".join(base64.b64encode(node).decode("ascii") for node in proof)
        self._connection.execute(
            "INSERT INTO refused (origin, kind, status, reason, seen_note, submitted_note, old_size, proof, "
            "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (origin, kind, status, reason, seen_note, submitted_note, old_size, encoded, received_at),
        )


class WitnessState:
    """One connection to the witness database, shared by the server's threads under a lock."""

    def __init__(self, path: Path) -> None:
        try:
            self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute("PRAGMA synchronous = FULL")
            self._connection.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise WitnessStateError(f"witness database {path} cannot be opened: {exc}") from exc
        self._lock = threading.Lock()
        self.path = path

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One atomic, durable unit: committed (and fsynced) when the block ends, rolled back if it raises."""
        with self._lock:
            try:
                self._connection.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise WitnessStateError(f"witness database {self.path} is not writable: {exc}") from exc
            try:
                yield Transaction(self._connection)
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            try:
                self._connection.execute("COMMIT")
            except sqlite3.Error as exc:
                self._connection.execute("ROLLBACK")
                raise WitnessStateError(f"witness database {self.path}: commit failed: {exc}") from exc

    def latest(self) -> list[LatestRow]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT origin, size, root, note, cosigned_at FROM latest ORDER BY origin"
            ).fetchall()
        return [LatestRow(str(r[0]), int(r[1]), bytes(r[2]), str(r[3]), int(r[4])) for r in rows]

    def cosigned(self, *, origin: str | None = None, limit: int | None = None) -> list[CosignedRow]:
        """Cosignatures given, newest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT id, origin, size, root, note, timestamp, cosignature FROM cosigned "
                "WHERE ? IS NULL OR origin = ? ORDER BY id DESC LIMIT ?",
                (origin, origin, -1 if limit is None else limit),
            ).fetchall()
        return [
            CosignedRow(int(r[0]), str(r[1]), int(r[2]), bytes(r[3]), str(r[4]), int(r[5]), str(r[6])) for r in rows
        ]

    def refused(self, *, origin: str | None = None) -> list[RefusedRow]:
        """Refused requests kept as evidence, newest first."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT id, origin, kind, status, reason, seen_note, submitted_note, old_size, proof, received_at "
                "FROM refused WHERE ? IS NULL OR origin = ? ORDER BY id DESC",
                (origin, origin),
            ).fetchall()
        return [
            RefusedRow(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                int(r[3]),
                str(r[4]),
                None if r[5] is None else str(r[5]),
                str(r[6]),
                int(r[7]),
                tuple(line for line in str(r[8]).split("\n") if line),
                int(r[9]),
            )
            for r in rows
        ]
