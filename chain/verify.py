"""Checks an auditor's ``verify`` is built from: values in, ``ProofError`` out.

Reading the checkpoints, entries and proofs (from the catalog, the object
store or a disc) is the caller's job; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TypeAlias

from chain.checkpoint import Checkpoint, VerifierKey, parse_vkey, verify_note
from chain.entries import Entry, decode
from chain.errors import CheckpointError, EntryError, ProofError
from chain.merkle import EMPTY_ROOT, MemoryNodes, leaf_hash, verify_consistency, verify_inclusion


def verify_checkpoints(
    notes: Sequence[str],
    vkey: str | VerifierKey,
    proofs: Sequence[Sequence[bytes]],
    *,
    origin: str | None = None,
) -> list[Checkpoint]:
    """Check a series of signed checkpoints, oldest first, and return them.

    Every note must be signed by ``vkey`` and be for one log (``origin`` if
    given, else the first note's); each must extend the one before it:
    ``proofs[i]`` is the consistency proof from ``notes[i]`` to ``notes[i+1]``
    (empty when the sizes are equal or the older checkpoint is of the empty tree).
    """
    if len(proofs) != max(len(notes) - 1, 0):
        raise ValueError(f"need one proof per consecutive pair: {len(notes)} notes, {len(proofs)} proofs")
    key = parse_vkey(vkey) if isinstance(vkey, str) else vkey
    checkpoints: list[Checkpoint] = []
    for number, note in enumerate(notes):
        try:
            checkpoints.append(verify_note(note, key, origin=origin))
        except CheckpointError as exc:
            raise CheckpointError(f"checkpoint {number}: {exc}") from exc
        origin = checkpoints[0].origin
    for number, ((old, new), proof) in enumerate(zip(pairwise(checkpoints), proofs, strict=True)):
        try:
            if old.size == 0 and new.size > 0:
                _check_empty(old, proof)
            else:
                verify_consistency(old.size, new.size, old.root, new.root, proof)
        except ProofError as exc:
            raise ProofError(
                f"checkpoint {number + 1} (size {new.size}) does not extend checkpoint "
                f"{number} (size {old.size}): {exc}"
            ) from exc
    return checkpoints


def _check_empty(old: Checkpoint, proof: Sequence[bytes]) -> None:
    """Every tree extends the empty tree; only the empty tree's root and proof can be wrong."""
    if old.root != EMPTY_ROOT:
        raise ProofError(f"root of the empty tree must be {EMPTY_ROOT.hex()}, got {old.root.hex()}")
    if proof:
        raise ProofError(f"proof from the empty tree must be empty, got {len(proof)} hashes")


EntrySummary: TypeAlias = "tuple[bytes, tuple[str, str | None, int | None] | str]"
"""``(leaf hash, (type, recording, prev))`` of an entry, or ``(leaf hash, why it is malformed)``."""


def summarise_entries(entries: Sequence[bytes]) -> list[EntrySummary]:
    """Leaf-hash and decode each entry (canonical form checked): what a log-wide check needs of it.

    Plain tuples and strings, so a verifier can run this on chunks of a long log
    in other processes and receive the results cheaply.
    """
    summaries: list[EntrySummary] = []
    for data in entries:
        try:
            entry = decode(data)
        except ProofError as exc:
            summaries.append((leaf_hash(data), str(exc)))
            continue
        summaries.append((leaf_hash(data), (entry.type.value, entry.recording, entry.prev)))
    return summaries


def decode_all(entries: Sequence[bytes]) -> list[Entry]:
    """Decode every entry; ``EntryError`` names the first bad one by its log index."""
    decoded = []
    for index, data in enumerate(entries):
        try:
            decoded.append(decode(data))
        except EntryError as exc:
            raise EntryError(f"entry {index}: {exc}") from exc
    return decoded


def verify_log(entries: Sequence[bytes], checkpoint: Checkpoint) -> MemoryNodes:
    """Check the whole log against a checkpoint and return its tree.

    Every entry must decode canonically, the custody chains must link, and the
    first ``checkpoint.size`` entries must reproduce ``checkpoint.root``. Later
    entries (appended since) are allowed and included in the returned tree.
    """
    if len(entries) < checkpoint.size:
        raise ProofError(
            f"log is shorter than its checkpoint: expected at least {checkpoint.size} entries, got {len(entries)}"
        )
    verify_custody_chains(decode_all(entries))
    tree = MemoryNodes.from_entries(entries[: checkpoint.size])
    computed = tree.root()
    if computed != checkpoint.root:
        raise ProofError(
            f"entries do not reproduce the checkpoint root at size {checkpoint.size}: "
            f"expected {checkpoint.root.hex()}, computed {computed.hex()}"
        )
    for data in entries[checkpoint.size :]:
        tree.append(leaf_hash(data))
    return tree


def verify_entry_inclusion(entry: bytes, index: int, proof: Sequence[bytes], checkpoint: Checkpoint) -> Entry:
    """Check that ``entry`` is canonical and is entry ``index`` of the checkpointed log."""
    decoded = decode(entry)
    verify_inclusion(leaf_hash(entry), index, checkpoint.size, proof, checkpoint.root)
    return decoded


def verify_custody_chains(entries: Sequence[Entry]) -> None:
    """Each entry about a recording must point (``prev``) at the previous one about it.

    ``entries`` is the log from its first entry; a recording's first entry has
    ``prev`` null.
    """
    last: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.recording is None:
            continue
        expected = last.get(entry.recording)
        if entry.prev != expected:
            raise EntryError(
                f"entry {index} ({entry.type}) breaks the custody chain of recording "
                f"{entry.recording}: expected prev {expected}, got {entry.prev}"
            )
        last[entry.recording] = index
