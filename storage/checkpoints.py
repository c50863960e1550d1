"""Signed checkpoints of the log, anchored in the object store under COMPLIANCE lock.

The database can be rewritten by whoever holds it; the object store's locked
checkpoints cannot. So a new checkpoint is always checked against the newest
*stored* checkpoint (not the database's copy): it must be signed by our key and
the log must extend it (an RFC 9162 consistency proof). If not, the log was
rewritten: ``LogForked`` is raised, nothing is signed, and the alarm is logged.

Objects: ``checkpoints/<size, 20 digits>`` holding the signed note text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from chain.checkpoint import Checkpoint, SignerKey, sign_checkpoint, verify_note
from chain.errors import ProofError
from chain.merkle import consistency_proof, leaf_hash, root, verify_consistency
from storage import journal
from storage.catalog import Catalog, checkpoints, log_entries, log_nodes
from storage.errors import StorageError
from storage.journal import SqlNodes
from storage.objects import ObjectStore, StoredVersion

log = logging.getLogger(__name__)

PREFIX = "checkpoints/"


class LogForked(StorageError):
    """The log no longer extends its last stored checkpoint: history was rewritten."""


@dataclass(frozen=True)
class StoredCheckpoint:
    checkpoint: Checkpoint
    note: str
    version: StoredVersion


def object_key(size: int) -> str:
    return f"{PREFIX}{size:020d}"


class Checkpointer:
    def __init__(
        self,
        *,
        store: ObjectStore,
        catalog: Catalog,
        signer: SignerKey,
        origin: str,
        retain_until: Callable[[datetime], datetime],
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.signer = signer
        self.origin = origin
        self.retain_until = retain_until

    def stored(self) -> list[StoredCheckpoint]:
        """Every checkpoint in the object store, oldest first, each signature checked."""
        found = []
        for key in self.store.keys(PREFIX):
            version = self.store.latest(key)
            if version is None:
                continue
            note = self.store.read_small(version).decode("utf-8", "replace")
            found.append(StoredCheckpoint(verify_note(note, self.signer.verifier(), origin=self.origin), note, version))
        return found

    def latest_stored(self) -> StoredCheckpoint | None:
        keys = self.store.keys(PREFIX)
        if not keys:
            return None
        version = self.store.latest(keys[-1])
        if version is None:
            return None
        note = self.store.read_small(version).decode("utf-8", "replace")
        try:
            checkpoint = verify_note(note, self.signer.verifier(), origin=self.origin)
        except ProofError as exc:
            raise LogForked(f"the newest stored checkpoint {keys[-1]} does not verify with our key: {exc}") from exc
        return StoredCheckpoint(checkpoint, note, version)

    def make(self, now: datetime) -> StoredCheckpoint:
        """Sign and anchor a checkpoint of the log as it is now (a no-op if nothing was added)."""
        with self.catalog.read() as conn:
            size = journal.size(conn)
            nodes = SqlNodes(conn)
            current = root(size, nodes)
            last = self.latest_stored()
            if last is not None:
                if last.checkpoint.size > size:
                    raise _alarm(
                        f"the log has {size} entries but checkpoint {last.version.key} covers "
                        f"{last.checkpoint.size}: entries were removed"
                    )
                if last.checkpoint.size == size:
                    if last.checkpoint.root != current:
                        raise _alarm(
                            f"the log's root at size {size} is {current.hex()}, but the stored "
                            f"checkpoint says {last.checkpoint.root.hex()}: the log was rewritten"
                        )
                    self._anchor(last, now)  # a crash may have come between upload and lock
                    return last
                proof = consistency_proof(last.checkpoint.size, size, nodes) if last.checkpoint.size else []
                try:
                    if last.checkpoint.size:
                        verify_consistency(last.checkpoint.size, size, last.checkpoint.root, current, proof)
                except ProofError as exc:
                    raise _alarm(f"the log does not extend checkpoint {last.version.key}: {exc}") from exc
            first_new = last.checkpoint.size if last is not None else 0
            _check_new_leaves(conn, first_new, size)
        checkpoint = Checkpoint(self.origin, size, current)
        note = sign_checkpoint(checkpoint, self.signer)
        version = self.store.put_small(object_key(size), note.encode("utf-8"))
        made = StoredCheckpoint(checkpoint, note, version)
        self._anchor(made, now)
        log.info("checkpoint %d signed and anchored at %s", size, version.key)
        return made

    def _anchor(self, made: StoredCheckpoint, now: datetime) -> None:
        """Lock the checkpoint object (once) and record it in the catalog (once)."""
        if self.store.read_lock(made.version).mode != "COMPLIANCE":
            self.store.lock(made.version, self.retain_until(now))
        with self.catalog.begin() as conn:
            exists = conn.execute(select(checkpoints.c.size).where(checkpoints.c.size == made.checkpoint.size)).first()
            if exists is None:
                conn.execute(
                    insert(checkpoints).values(
                        size=made.checkpoint.size,
                        root=made.checkpoint.root,
                        note=made.note,
                        object_key=made.version.key,
                        version_id=made.version.version_id,
                        created_at=now,
                    )
                )


def _check_new_leaves(conn: Connection, start: int, end: int) -> None:
    """The entries about to be signed must be the ones the stored leaves hash (nothing edited since append)."""
    rows = conn.execute(
        select(log_entries.c.idx, log_entries.c.data, log_nodes.c.hash)
        .join(log_nodes, (log_nodes.c.level == 0) & (log_nodes.c.idx == log_entries.c.idx), isouter=True)
        .where(log_entries.c.idx >= start, log_entries.c.idx < end)
        .order_by(log_entries.c.idx)
    )
    seen = start
    for idx, data, stored in rows:
        if idx != seen or stored is None or leaf_hash(bytes(data)) != bytes(stored):
            raise _alarm(f"log entry {seen} does not match its stored leaf: the log was edited before signing")
        seen += 1
    if seen != end:
        raise _alarm(f"log entries {seen}..{end - 1} are missing: the log was edited before signing")


def _alarm(message: str) -> LogForked:
    log.critical("LOG INTEGRITY ALARM: %s", message)
    return LogForked(message)
