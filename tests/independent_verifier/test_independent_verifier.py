"""The independent verifier (written from docs/log-format.md only) agrees with ``chain``.

``chain`` builds real logs here; the verifier must accept them and reject every
tampered variant, and on generated entries and the shared proof probes the two
must reach the same verdict.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.checkpoint import Checkpoint, SignerKey, format_skey, parse_skey, sign_checkpoint
from chain.entries import (
    Entry,
    EntryType,
    JsonValue,
    commit,
    decode,
    encode,
    new_entry,
    original_name_fields,
)
from chain.errors import EntryError, ProofError
from chain.merkle import MemoryNodes, consistency_proof, inclusion_proof
from tests.chain.log_format_example import build as build_doc_example
from tests.chain.shared_testdata import load
from tests.chain.strategies import entries
from tests.independent_verifier import verifier

ORIGIN = "evidock.test/independent"
SIGNER = parse_skey(format_skey(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes([7]) * 32)))
VKEY = str(SIGNER.verifier())
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
RECORDING = hashlib.sha256(b"one recording").hexdigest()
SALT = bytes(range(32, 64))


def _bodies() -> list[tuple[EntryType, str | None, dict[str, JsonValue]]]:
    return [
        (
            EntryType.INGEST,
            RECORDING,
            {
                "sha256": RECORDING,
                "size": 4_294_967_296,
                "object_key": f"originals/{RECORDING}",
                "version_id": "v-1",
                **original_name_fields("执法记录".encode("gbk") + b".mp4"),
                "device": "BWC-7",
                "officer": None,
                "start_raw": "2026-11-26T07:10:00Z",
                "sequence": 12,
                "retain_until": "2027-03-01T00:00:00Z",
                "received_at": "2026-11-26T07:59:00Z",
            },
        ),
        (
            EntryType.LABEL,
            RECORDING,
            {
                "case_number": "京公(治)[2026]7号",
                "parties": [commit("王五", SALT)],
                "handler": "赵六",
                "note": 'tab\tquote" backslash\\ ctrl\x01 line\u2028 emoji\U0001f600',
                "\U0001f600 key": 1,
                "\uffff key": 2,
            },
        ),
        (EntryType.FINDING, RECORDING, {"finding_id": "f1", "kind": "gap", "gap_ms": 4200}),
        (
            EntryType.EXPLANATION,
            RECORDING,
            {"finding_id": "f1", "author": "110", "explanation": "电池更换"},
        ),
        (
            EntryType.APPROVAL,
            RECORDING,
            {"approver": "chief", "action": "copy", "decision": "granted", "reason": "court"},
        ),
        (
            EntryType.ACCESS,
            RECORDING,
            {
                "actor": "clerk",
                "role": "custodian",
                "action": "copy",
                "reason": "court letter",
                "approver": "chief",
                "approval": 4,
                "requester_category": "court",
                "document_ref": "(2026)京01民初1号",
                "requester": commit("律师甲", SALT),
            },
        ),
        (EntryType.HOLD, RECORDING, {"action": "set", "reason": "evidence"}),
        (
            EntryType.RETENTION,
            RECORDING,
            {"retain_until": "2036-01-01T00:00:00Z", "reason": "case"},
        ),
        (EntryType.EXPORT, RECORDING, {"export_id": "x1", "maker": "m", "extractor": "e"}),
        (
            EntryType.EXPORT_SEALED,
            None,
            {"export_id": "x1", "image_sha256": RECORDING, "image_size": 700_000_000},
        ),
        (EntryType.FIXITY, RECORDING, {"sha256": RECORDING, "match": True}),
        (EntryType.KEY, None, {"action": "add", "vkey": VKEY}),
        (
            EntryType.PURGE,
            RECORDING,
            {"object_key": f"originals/{RECORDING}", "version_id": "v-1", "reason": "expired"},
        ),
        (
            EntryType.USER,
            None,
            {"action": "set-role", "user": "王五", "actor": "root", "role": "admin", "detail": "custodian -> admin"},
        ),
    ]


def _build_log() -> list[bytes]:
    log: list[bytes] = []
    last: int | None = None
    for index, (entry_type, recording, body) in enumerate(_bodies()):
        prev = last if recording is not None else None
        entry = new_entry(
            entry_type,
            time=START + timedelta(minutes=index),
            station="dock-01",
            recording=recording,
            prev=prev,
            body=body,
        )
        log.append(encode(entry))
        if recording is not None:
            last = index
    return log


LOG = _build_log()
TREE = MemoryNodes.from_entries(LOG)
SIZE = len(LOG)


def _note(size: int, signer: SignerKey = SIGNER, origin: str = ORIGIN) -> str:
    return sign_checkpoint(Checkpoint(origin, size, MemoryNodes.from_entries(LOG[:size]).root()), signer)


NOTE = _note(SIZE)


def _hex(proof: list[bytes]) -> list[str]:
    return [item.hex() for item in proof]


# -- acceptance ------------------------------------------------------------------------


def test_every_entry_of_a_chain_built_log_verifies() -> None:
    for index, entry in enumerate(LOG):
        parsed = verifier.verify_entry(entry, index, _hex(inclusion_proof(index, SIZE, TREE)), NOTE, VKEY)
        assert parsed["type"] == _bodies()[index][0].value


def test_every_pair_of_checkpoints_is_consistent() -> None:
    for old in range(SIZE + 1):
        proof = [] if old in (0, SIZE) else consistency_proof(old, SIZE, TREE)
        verifier.verify_extension(_note(old), NOTE, _hex(proof), VKEY)


def test_full_log_verifies() -> None:
    verifier.verify_full_log(LOG, NOTE, VKEY)


def test_commitments_open() -> None:
    label = verifier.check_entry(LOG[1])
    assert verifier.commitment_opens(label["body"]["parties"][0], "王五", SALT)
    assert not verifier.commitment_opens(label["body"]["parties"][0], "王六", SALT)


def test_the_documented_example_verifies() -> None:
    example = build_doc_example()
    verifier.verify_full_log(example.entries, example.note, example.vkey)
    verifier.verify_entry(
        example.entries[example.inclusion_index],
        example.inclusion_index,
        _hex(example.inclusion),
        example.note,
        example.vkey,
    )
    old_note = sign_checkpoint(
        Checkpoint("example.evidock/log", 2, example.consistency_old_root), parse_skey(example.skey)
    )
    verifier.verify_extension(old_note, example.note, _hex(example.consistency), example.vkey)


# -- rejection ------------------------------------------------------------------------


def test_tampered_entry_is_rejected() -> None:
    proof = _hex(inclusion_proof(6, SIZE, TREE))
    tampered = LOG[6].replace(b'"evidence"', b'"Evidence"')
    with pytest.raises(verifier.VerificationError):
        verifier.verify_entry(tampered, 6, proof, NOTE, VKEY)
    with pytest.raises(verifier.VerificationError):
        verifier.verify_entry(LOG[6], 7, proof, NOTE, VKEY)
    bad_proof = [proof[0][:-1] + ("0" if proof[0][-1] != "0" else "1"), *proof[1:]]
    with pytest.raises(verifier.VerificationError):
        verifier.verify_entry(LOG[6], 6, bad_proof, NOTE, VKEY)


def test_tampered_checkpoint_is_rejected() -> None:
    proof = _hex(inclusion_proof(0, SIZE, TREE))
    for tampered in [
        NOTE.replace(f"\n{SIZE}\n", f"\n{SIZE + 1}\n"),
        NOTE.replace(ORIGIN, "evidock.test/elsewhere", 1),
        NOTE.replace("\u2014", "-"),
        _note(SIZE, parse_skey(format_skey(ORIGIN, Ed25519PrivateKey.generate()))),
    ]:
        with pytest.raises(verifier.VerificationError):
            verifier.verify_entry(LOG[0], 0, proof, tampered, VKEY)


def test_rewritten_history_is_rejected() -> None:
    rewritten = [*LOG[:3], LOG[4], LOG[3], *LOG[5:]]
    forged = sign_checkpoint(Checkpoint(ORIGIN, SIZE, MemoryNodes.from_entries(rewritten).root()), SIGNER)
    proof = _hex(consistency_proof(5, SIZE, MemoryNodes.from_entries(rewritten)))
    with pytest.raises(verifier.VerificationError):
        verifier.verify_extension(_note(5), forged, proof, VKEY)
    with pytest.raises(verifier.VerificationError):
        verifier.verify_full_log(rewritten, forged, VKEY)  # prev links now point the wrong way


def test_full_log_with_changed_entry_is_rejected() -> None:
    changed = [*LOG]
    changed[2] = changed[2].replace(b"4200", b"4201")
    with pytest.raises(verifier.VerificationError):
        verifier.verify_full_log(changed, NOTE, VKEY)


# -- the two implementations agree ------------------------------------------------------


def _chain_accepts(data: bytes) -> bool:
    try:
        decode(data)
    except EntryError:
        return False
    return True


def _independent_accepts(data: bytes) -> bool:
    try:
        verifier.check_entry(data)
    except verifier.VerificationError:
        return False
    return True


@settings(max_examples=60)
@given(entries())
def test_independent_verifier_accepts_every_chain_entry(entry: Entry) -> None:
    assert _independent_accepts(encode(entry))


@settings(max_examples=200)
@given(entries(), st.integers(min_value=0), st.binary(min_size=1, max_size=3), st.booleans())
def test_both_judge_mutated_entries_alike(entry: Entry, position: int, replacement: bytes, insert: bool) -> None:
    data = encode(entry)
    where = position % len(data)
    mutated = data[:where] + replacement + data[where + (0 if insert else len(replacement)) :]
    assert _chain_accepts(mutated) == _independent_accepts(mutated)


PROBES = load("tdev_probes.json")


def _probe_verdicts(probe: dict[str, Any], consistency: bool) -> tuple[bool, bool]:
    proof = [bytes.fromhex(item) for item in probe["proof"] or []]
    from chain.merkle import verify_consistency, verify_inclusion

    def run_chain() -> bool:
        try:
            if consistency:
                verify_consistency(
                    probe["size1"],
                    probe["size2"],
                    bytes.fromhex(probe["root1"]),
                    bytes.fromhex(probe["root2"]),
                    proof,
                )
            else:
                verify_inclusion(
                    bytes.fromhex(probe["leafHash"]),
                    probe["leafIdx"],
                    probe["treeSize"],
                    proof,
                    bytes.fromhex(probe["root"]),
                )
        except ProofError:
            return False
        return True

    def run_independent() -> bool:
        try:
            if consistency:
                verifier.check_consistency(
                    probe["size1"],
                    probe["size2"],
                    bytes.fromhex(probe["root1"]),
                    bytes.fromhex(probe["root2"]),
                    proof,
                )
            else:
                verifier.check_inclusion(
                    bytes.fromhex(probe["leafHash"]),
                    probe["leafIdx"],
                    probe["treeSize"],
                    proof,
                    bytes.fromhex(probe["root"]),
                )
        except verifier.VerificationError:
            return False
        return True

    return run_chain(), run_independent()


@pytest.mark.parametrize("probe", PROBES["inclusion"], ids=lambda p: p["file"])
def test_both_judge_inclusion_probes_alike(probe: dict[str, Any]) -> None:
    assert _probe_verdicts(probe, consistency=False) == (not probe["wantErr"],) * 2


@pytest.mark.parametrize("probe", PROBES["consistency"], ids=lambda p: p["file"])
def test_both_judge_consistency_probes_alike(probe: dict[str, Any]) -> None:
    assert _probe_verdicts(probe, consistency=True) == (not probe["wantErr"],) * 2
