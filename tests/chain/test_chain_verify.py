"""The auditor's building blocks: checkpoint series, whole-log replay, entry inclusion, custody."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.checkpoint import Checkpoint, format_skey, parse_skey, sign_checkpoint
from chain.entries import Entry, EntryType, JsonValue, encode, new_entry
from chain.errors import CheckpointError, EntryError, ProofError
from chain.merkle import EMPTY_ROOT, MemoryNodes, consistency_proof, inclusion_proof, leaf_hash
from chain.verify import (
    decode_all,
    verify_checkpoints,
    verify_custody_chains,
    verify_entry_inclusion,
    verify_log,
)

ORIGIN = "evidock.test/log"
SIGNER = parse_skey(format_skey(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(32))))
VKEY = str(SIGNER.verifier())
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
RECORDINGS = [hashlib.sha256(bytes([n])).hexdigest() for n in range(3)]


def _log(count: int) -> list[bytes]:
    """A log that ingests three recordings, then keeps accessing them in turn."""
    entries: list[bytes] = []
    last: dict[str, int] = {}
    for index in range(count):
        recording = RECORDINGS[index % 3]
        prev = last.get(recording)
        if prev is None:
            entry_type, body = EntryType.INGEST, _ingest(recording)
        else:
            entry_type, body = EntryType.ACCESS, _access()
        entries.append(
            encode(
                new_entry(
                    entry_type,
                    time=START + timedelta(minutes=index),
                    station="dock-01",
                    recording=recording,
                    prev=prev,
                    body=body,
                )
            )
        )
        last[recording] = index
    return entries


def _ingest(recording: str) -> dict[str, JsonValue]:
    return {
        "sha256": recording,
        "size": 10,
        "object_key": f"originals/{recording}",
        "version_id": "v1",
        "original_name": "a.mp4",
        "device": "cam",
        "officer": "110",
        "start_raw": None,
        "sequence": 1,
        "retain_until": "2027-03-01T00:00:00Z",
        "received_at": "2026-11-26T07:59:00Z",
    }


def _access() -> dict[str, JsonValue]:
    return {
        "actor": "u1",
        "role": "custodian",
        "action": "view",
        "reason": "review",
        "approver": None,
        "requester_category": None,
        "document_ref": None,
    }


LOG = _log(20)
TREE = MemoryNodes.from_entries(LOG)


def _note(size: int) -> str:
    root = TREE.root() if size == TREE.size else MemoryNodes.from_entries(LOG[:size]).root()
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), SIGNER)


def test_checkpoint_series_verifies() -> None:
    sizes = [0, 3, 3, 8, 20]
    notes = [_note(size) for size in sizes]
    proofs = [[] if old in (0, new) else consistency_proof(old, new, TREE) for old, new in itertools.pairwise(sizes)]
    checkpoints = verify_checkpoints(notes, VKEY, proofs)
    assert [checkpoint.size for checkpoint in checkpoints] == sizes
    assert checkpoints[0].root == EMPTY_ROOT


def test_checkpoint_series_refuses_a_rewritten_log() -> None:
    rewritten = [*LOG[:5], LOG[6], *LOG[6:]]
    forged_root = MemoryNodes.from_entries(rewritten[:12]).root()
    forged = sign_checkpoint(Checkpoint(ORIGIN, 12, forged_root), SIGNER)
    with pytest.raises(ProofError, match="checkpoint 1 \\(size 12\\) does not extend checkpoint 0"):
        verify_checkpoints([_note(8), forged], VKEY, [consistency_proof(8, 12, TREE)])


def test_checkpoint_series_refuses_a_shrinking_log() -> None:
    with pytest.raises(ProofError, match="larger than new tree size"):
        verify_checkpoints([_note(8), _note(3)], VKEY, [[]])


def test_checkpoint_series_refuses_another_log_or_key() -> None:
    other = parse_skey(format_skey("evidock.test/other", Ed25519PrivateKey.generate()))
    foreign = sign_checkpoint(Checkpoint("evidock.test/other", 3, TREE.root()), other)
    with pytest.raises(CheckpointError, match="checkpoint 1: "):
        verify_checkpoints([_note(3), foreign], VKEY, [[]])
    with pytest.raises(CheckpointError, match="expected origin"):
        verify_checkpoints([_note(3)], VKEY, [], origin="evidock.test/other")


def test_checkpoint_series_checks_the_empty_root() -> None:
    fake_empty = sign_checkpoint(Checkpoint(ORIGIN, 0, leaf_hash(b"x")), SIGNER)
    with pytest.raises(ProofError, match="root of the empty tree"):
        verify_checkpoints([fake_empty, _note(3)], VKEY, [[]])


def test_checkpoint_series_needs_one_proof_per_pair() -> None:
    with pytest.raises(ValueError, match="one proof per consecutive pair"):
        verify_checkpoints([_note(3), _note(8)], VKEY, [])


def test_whole_log_reproduces_the_checkpoint() -> None:
    checkpoint = Checkpoint(ORIGIN, 12, MemoryNodes.from_entries(LOG[:12]).root())
    tree = verify_log(LOG, checkpoint)
    assert tree.size == len(LOG)
    assert tree.root() == TREE.root()


def test_whole_log_with_a_changed_entry_fails() -> None:
    changed = list(LOG)
    changed[4] = changed[4].replace(b'"reason":"review"', b'"reason":"revieW"')
    with pytest.raises(ProofError, match="do not reproduce the checkpoint root"):
        verify_log(changed, Checkpoint(ORIGIN, 20, TREE.root()))


def test_whole_log_too_short_fails() -> None:
    with pytest.raises(ProofError, match="expected at least 20 entries, got 19"):
        verify_log(LOG[:19], Checkpoint(ORIGIN, 20, TREE.root()))


def test_whole_log_with_a_non_canonical_entry_names_it() -> None:
    changed = list(LOG)
    changed[7] = changed[7] + b" "
    with pytest.raises(EntryError, match="entry 7: "):
        verify_log(changed, Checkpoint(ORIGIN, 20, TREE.root()))


def test_entry_inclusion() -> None:
    checkpoint = Checkpoint(ORIGIN, 20, TREE.root())
    entry = verify_entry_inclusion(LOG[13], 13, inclusion_proof(13, 20, TREE), checkpoint)
    assert entry.recording == RECORDINGS[13 % 3]
    with pytest.raises(ProofError):
        verify_entry_inclusion(LOG[13], 14, inclusion_proof(13, 20, TREE), checkpoint)


def test_custody_chains_link() -> None:
    verify_custody_chains(decode_all(LOG))


def test_a_dropped_link_breaks_the_custody_chain() -> None:
    entries = decode_all(LOG)
    broken = entries[5]
    entries[5] = Entry(broken.type, broken.time, broken.station, broken.recording, 0, broken.body)
    with pytest.raises(EntryError, match="entry 5 \\(ACCESS\\) breaks the custody chain"):
        verify_custody_chains(entries)
