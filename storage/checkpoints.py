"""Signed checkpoints of the log, anchored in the object store under COMPLIANCE lock.

The database can be rewritten by whoever holds it; the object store's locked
checkpoints cannot. So a new checkpoint is always checked against the newest
*stored* checkpoint (not the database's copy): it must be signed by our key and
the log must extend it (an RFC 9162 consistency proof). If not, the log was
rewritten: ``LogForked`` is raised, nothing is signed, and the alarm is logged.

Only the log's own key counts. An object there signed by another key, or not
a checkpoint at all (planted by whoever can write to the bucket), is skipped
by every reader and reported (``CheckpointReader``), never obeyed: it must not
stop signing, proofs or ingest. `evidock verify` names each one.

Objects: ``checkpoints/<size, 20 digits>`` holding the signed note text. Beside
each one, what outside parties said about it (storage.outside_trust), locked
the same way: ``<that key>.cosignature.<witness key id>`` and
``<that key>.timestamp.<TSA fingerprint>``. Readers of checkpoints skip those
names; `evidock verify` checks them on their own.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, insert, select

from chain.checkpoint import (
    Checkpoint,
    SignerKey,
    VerifierKey,
    open_note,
    parse_checkpoint,
    sign_checkpoint,
    split_note,
    verify_note,
)
from chain.errors import ProofError
from chain.merkle import consistency_proof, leaf_hash, root, verify_consistency
from storage import journal
from storage.catalog import Catalog
from storage.errors import StorageError
from storage.journal import SqlNodes
from storage.objects import ObjectStore, StoredVersion
from storage.schema import checkpoints, log_entries, log_nodes

log = logging.getLogger(__name__)

PREFIX = "checkpoints/"
MAX_NOTE_BYTES = 64 * 1024  # a checkpoint note is a few hundred bytes; a larger object is not one


class LogForked(StorageError):
    """The log no longer extends its last stored checkpoint: history was rewritten."""


class Rejection(StrEnum):
    """Why an object under ``PREFIX`` is not one of this log's checkpoints."""

    FOREIGN_KEY = "foreign_key"  # a signed note, but not by the log's key
    BAD_SIGNATURE = "bad_signature"  # names the log's key, but the signature does not verify
    MALFORMED = "malformed"  # not a signed checkpoint note of this log at all
    MISFILED = "misfiled"  # a good checkpoint, at another size's key


@dataclass(frozen=True)
class StoredCheckpoint:
    checkpoint: Checkpoint
    note: str
    version: StoredVersion


@dataclass(frozen=True)
class RejectedCheckpoint:
    """An object version where checkpoints live that is not a checkpoint of this log signed by its key."""

    version: StoredVersion
    why: Rejection
    signers: tuple[str, ...]  # "name (key id hex)" of each signature line, when the note parses
    reason: str
    misfiled: Checkpoint | None = None  # a good checkpoint under another size's key (it still proves its root)

    def describe(self) -> str:
        return f"{self.version.key} version {self.version.version_id}: {self.reason}"

    def as_json(self) -> dict[str, object]:
        return {
            "object_key": self.version.key,
            "version_id": self.version.version_id,
            "rejection": self.why.value,
            "signers": list(self.signers),
            "reason": self.reason,
        }


def object_key(size: int) -> str:
    return f"{PREFIX}{size:020d}"


class Side(StrEnum):
    """What an object beside a checkpoint holds."""

    COSIGNATURE = "cosignature"  # a witness's cosignature line(s); named by the witness's key id (8 hex)
    TIMESTAMP = "timestamp"  # an RFC 3161 TimeStampResp; named by the TSA certificate's fingerprint (16 hex)


_SIDE = re.compile(rf"{PREFIX}([0-9]{{20}})\.(cosignature|timestamp)\.([0-9a-f]{{8,64}})")


def side_key(size: int, side: Side, name: str) -> str:
    """The key of an object beside checkpoint ``size``: ``checkpoints/<size>.<side>.<name>``."""
    return f"{object_key(size)}.{side.value}.{name}"


MAX_SIDE_BYTES = 64 * 1024  # a cosignature line is about 130 bytes, a TimeStampResp a few KiB


def read_side(store: ObjectStore, version: StoredVersion) -> bytes:
    """The bytes of an object beside a checkpoint: a system document, never recording content."""
    if parse_side_key(version.key) is None:
        raise StorageError(f"{version.key} is not named like an object beside a checkpoint")
    return store.read_small(version, limit=MAX_SIDE_BYTES)


def parse_side_key(key: str) -> tuple[int, Side, str] | None:
    """(size, side, name) of an object beside a checkpoint, or None if ``key`` is not named like one."""
    match = _SIDE.fullmatch(key)
    return None if match is None else (int(match[1]), Side(match[2]), match[3])


def examine(
    store: ObjectStore, version: StoredVersion, verifier: VerifierKey, origin: str
) -> StoredCheckpoint | RejectedCheckpoint:
    """One object version under ``PREFIX``, read and checked: a checkpoint of this log, or why not."""
    note = _read_note(store, version)
    if isinstance(note, RejectedCheckpoint):
        return note
    try:
        _, signatures = split_note(note)
    except ProofError as exc:
        return RejectedCheckpoint(version, Rejection.MALFORMED, (), f"is not a signed note: {exc}")
    signers = tuple(f"{s.name} (key id {s.key_id.hex()})" for s in signatures)
    ours = any(s.name == verifier.name and s.key_id == verifier.key_id for s in signatures)
    try:
        checkpoint = verify_note(note, verifier, origin=origin)
    except ProofError as exc:
        if not ours:
            own = f"{verifier.name} (key id {verifier.key_id.hex()})"
            reason = f"signed by {', '.join(signers)}, not by the log's key {own}"
            return RejectedCheckpoint(version, Rejection.FOREIGN_KEY, signers, reason)
        why = Rejection.MALFORMED if _signed(note, verifier) else Rejection.BAD_SIGNATURE
        return RejectedCheckpoint(version, why, signers, str(exc))
    if version.key != object_key(checkpoint.size):
        reason = f"holds the checkpoint of size {checkpoint.size}, filed elsewhere"
        return RejectedCheckpoint(version, Rejection.MISFILED, signers, reason, checkpoint)
    return StoredCheckpoint(checkpoint, note, version)


def _read_note(store: ObjectStore, version: StoredVersion) -> str | RejectedCheckpoint:
    if version.size > MAX_NOTE_BYTES:
        reason = f"holds {version.size} bytes; a checkpoint note is a few hundred"
        return RejectedCheckpoint(version, Rejection.MALFORMED, (), reason)
    try:
        return store.read_small(version, limit=MAX_NOTE_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        return RejectedCheckpoint(version, Rejection.MALFORMED, (), "is not UTF-8 text, so not a signed note")


def _signed(note: str, verifier: VerifierKey) -> bool:
    """Whether the log's key really signed ``note`` (then what fails is its content, not the signature)."""
    try:
        open_note(note, verifier)
    except ProofError:
        return False
    return True


class CheckpointReader:
    """The checkpoints stored in the object store, as those who rely on them read them.

    Anyone who can write to the bucket can put an object where checkpoints
    live. Such an object proves nothing and must never stop the log: readers
    skip every version that is not this log's checkpoint signed by its key,
    warn once per process about each, and hand it once to ``on_rejected`` (the
    service alerts on it). A version never changes, so a rejected one is not read again.
    """

    def __init__(
        self,
        *,
        store: ObjectStore,
        verifier: VerifierKey,
        origin: str,
        on_rejected: Callable[[RejectedCheckpoint], None] | None = None,
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.origin = origin
        self.on_rejected = on_rejected

    def stored(self) -> list[StoredCheckpoint]:
        """Every good checkpoint in the object store (every version), smallest first."""
        found = [c for c in map(self._examine, self._versions()) if isinstance(c, StoredCheckpoint)]
        return sorted(found, key=lambda c: c.checkpoint.size)

    def rejected(self) -> list[RejectedCheckpoint]:
        """Every object version where checkpoints live that is not a good checkpoint of this log.

        Versions found good before in this process are not read again (the metric asks at every scrape).
        """
        versions = self._versions()
        with _seen_lock:
            fresh = [v for v in versions if (self.store.bucket, v.key, v.version_id) not in _good]
        return [c for c in map(self._examine, fresh) if isinstance(c, RejectedCheckpoint)]

    def latest_stored(self) -> StoredCheckpoint | None:
        """The good checkpoint of the largest size (at that size, the newest version); skips the rest."""
        for version in self._versions():  # largest key first, each key's newest version first
            found = self._examine(version)
            if isinstance(found, StoredCheckpoint):
                return found
        return None

    def _versions(self) -> list[StoredVersion]:
        listed = [v for v in self.store.listing(PREFIX) if not v.delete_marker and parse_side_key(v.key) is None]
        order = {id(v): n for n, v in enumerate(listed)}
        listed.sort(key=lambda v: (v.key, -order[id(v)]), reverse=True)
        return [v.version for v in listed]

    def _examine(self, version: StoredVersion) -> StoredCheckpoint | RejectedCheckpoint:
        seen = (self.store.bucket, version.key, version.version_id)
        with _seen_lock:
            known = _rejected.get(seen)
        found = known or examine(self.store, version, self.verifier, self.origin)
        if isinstance(found, StoredCheckpoint):
            with _seen_lock:
                _good.add(seen)
            return found
        with _seen_lock:
            _rejected[seen] = found
            alert = self.on_rejected is not None and seen not in _alerted
            if alert:
                _alerted.add(seen)
        if known is None:
            log.warning("CHECKPOINT REJECTED, skipped (possibly planted): %s", found.describe())
        if alert and self.on_rejected is not None:
            self.on_rejected(found)
        return found


_seen_lock = threading.Lock()
_rejected: dict[tuple[str, str, str], RejectedCheckpoint] = {}  # this process's rejections, by bucket/key/version
_good: set[tuple[str, str, str]] = set()  # versions this process found good (ids only: memory stays small)
_alerted: set[tuple[str, str, str]] = set()  # rejections already handed to an ``on_rejected`` (the service's alert)


class Checkpointer(CheckpointReader):
    def __init__(
        self,
        *,
        store: ObjectStore,
        catalog: Catalog,
        signer: SignerKey,
        origin: str,
        retain_until: Callable[[datetime], datetime],
        on_rejected: Callable[[RejectedCheckpoint], None] | None = None,
    ) -> None:
        super().__init__(store=store, verifier=signer.verifier(), origin=origin, on_rejected=on_rejected)
        self.catalog = catalog
        self.signer = signer
        self.retain_until = retain_until

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


def latest_recorded(catalog: Catalog) -> StoredCheckpoint | None:
    """The newest checkpoint the catalog records as anchored, read from the catalog alone (no listing).

    For gathering outside trust every few seconds: a witness checks the note's
    signature itself, and `verify` checks what is kept against the stored objects.
    """
    with catalog.read() as conn:
        row = conn.execute(
            select(checkpoints)
            .where(checkpoints.c.object_key.is_not(None), checkpoints.c.version_id.is_not(None))
            .order_by(checkpoints.c.size.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    body, _ = split_note(row.note)
    version = StoredVersion(row.object_key, row.version_id, len(row.note.encode("utf-8")))
    return StoredCheckpoint(parse_checkpoint(body), row.note, version)


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
