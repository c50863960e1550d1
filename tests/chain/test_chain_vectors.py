"""Published test vectors: RFC 6962/9162 trees, a real CT log proof, transparency-dev probes."""

from __future__ import annotations

from typing import Any

import pytest

from chain.errors import ProofError
from chain.merkle import (
    MemoryNodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from tests.chain.shared_testdata import load

RFC = load("rfc6962_vectors.json")
CT = load("ct_real_log_vector.json")
PROBES = load("tdev_probes.json")


def _hashes(items: list[str] | None) -> list[bytes]:
    return [bytes.fromhex(item) for item in items or []]


def _tree() -> MemoryNodes:
    return MemoryNodes.from_entries(bytes.fromhex(data) for data in RFC["leaf_inputs"])


def test_every_vector_file_has_content() -> None:
    assert len(RFC["roots_by_size"]) == 9
    assert len(PROBES["inclusion"]) == 98
    assert len(PROBES["consistency"]) == 98
    assert len(CT["proof"]) == 22


@pytest.mark.parametrize(("data", "digest"), RFC["hasher_vectors"]["leaf"])
def test_leaf_hash_vectors(data: str, digest: str) -> None:
    assert leaf_hash(bytes.fromhex(data)).hex() == digest


@pytest.mark.parametrize(("left", "right", "digest"), RFC["hasher_vectors"]["node"])
def test_node_hash_vectors(left: str, right: str, digest: str) -> None:
    assert node_hash(bytes.fromhex(left), bytes.fromhex(right)).hex() == digest


def test_leaf_hashes_of_the_reference_tree() -> None:
    leaves = [leaf_hash(bytes.fromhex(data)).hex() for data in RFC["leaf_inputs"]]
    assert leaves == RFC["leaf_hashes"]


@pytest.mark.parametrize("size", range(9))
def test_roots_by_size(size: int) -> None:
    assert root(size, _tree()).hex() == RFC["roots_by_size"][size]


@pytest.mark.parametrize("case", RFC["inclusion"], ids=lambda c: f"{c['index']}-of-{c['size']}")
def test_rfc_inclusion_proofs(case: dict[str, Any]) -> None:
    tree = _tree()
    proof = inclusion_proof(case["index"], case["size"], tree)
    assert [h.hex() for h in proof] == case["proof"]
    verify_inclusion(
        leaf_hash(bytes.fromhex(RFC["leaf_inputs"][case["index"]])),
        case["index"],
        case["size"],
        proof,
        bytes.fromhex(RFC["roots_by_size"][case["size"]]),
    )


@pytest.mark.parametrize("case", RFC["consistency"], ids=lambda c: f"{c['size1']}-to-{c['size2']}")
def test_rfc_consistency_proofs(case: dict[str, Any]) -> None:
    tree = _tree()
    proof = consistency_proof(case["size1"], case["size2"], tree)
    assert [h.hex() for h in proof] == case["proof"]
    verify_consistency(
        case["size1"],
        case["size2"],
        bytes.fromhex(RFC["roots_by_size"][case["size1"]]),
        bytes.fromhex(RFC["roots_by_size"][case["size2"]]),
        proof,
    )


def test_real_ct_log_inclusion() -> None:
    leaf = leaf_hash(bytes.fromhex(CT["leaf_input"]))
    assert leaf.hex() == CT["leaf_hash"]
    verify_inclusion(leaf, CT["index"], CT["size"], _hashes(CT["proof"]), bytes.fromhex(CT["root"]))


@pytest.mark.parametrize(
    "change",
    ["index+1", "size*2", "size/2", "drop-last", "flip-first", "wrong-root"],
)
def test_real_ct_log_inclusion_tampered(change: str) -> None:
    """A size change that keeps the path's shape (size ± 1 here) still verifies: an inclusion
    proof binds the root, and the signed checkpoint binds size and root together."""
    leaf = leaf_hash(bytes.fromhex(CT["leaf_input"]))
    index, size, proof = CT["index"], CT["size"], _hashes(CT["proof"])
    root_hash = bytes.fromhex(CT["root"])
    if change == "index+1":
        index += 1
    elif change == "size*2":
        size *= 2
    elif change == "size/2":
        size //= 2
    elif change == "drop-last":
        proof = proof[:-1]
    elif change == "flip-first":
        proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
    else:
        root_hash = leaf
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, root_hash)


@pytest.mark.parametrize("case", CT["consistency_from_ct"], ids=lambda c: f"{c['size1']}-to-{c['size2']}")
def test_real_ct_consistency(case: dict[str, Any]) -> None:
    verify_consistency(
        case["size1"],
        case["size2"],
        bytes.fromhex(case["root1"]),
        bytes.fromhex(case["root2"]),
        _hashes(case["proof"]),
    )


@pytest.mark.parametrize("probe", PROBES["inclusion"], ids=lambda p: p["file"])
def test_tdev_inclusion_probe(probe: dict[str, Any]) -> None:
    def check() -> None:
        verify_inclusion(
            bytes.fromhex(probe["leafHash"]),
            probe["leafIdx"],
            probe["treeSize"],
            _hashes(probe["proof"]),
            bytes.fromhex(probe["root"]),
        )

    if probe["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("probe", PROBES["consistency"], ids=lambda p: p["file"])
def test_tdev_consistency_probe(probe: dict[str, Any]) -> None:
    def check() -> None:
        verify_consistency(
            probe["size1"],
            probe["size2"],
            bytes.fromhex(probe["root1"]),
            bytes.fromhex(probe["root2"]),
            _hashes(probe["proof"]),
        )

    if probe["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()
