"""The incremental tree against RFC 9162's recursive definitions, exhaustively and by property."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.errors import ProofError
from chain.merkle import (
    EMPTY_ROOT,
    MemoryNodes,
    NodeKey,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    nodes_completed_by_append,
    nodes_completed_by_appends,
    root,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.chain.strategies import (
    MAX_TREE,
    Corruption,
    corruptions,
    leaf_data,
    old_and_new_sizes,
    size_and_index,
)

LEAVES = [leaf_hash(data) for data in leaf_data(MAX_TREE)]
TREE = MemoryNodes.from_leaf_hashes(LEAVES)


# -- RFC 9162 §2.1, written as the RFC states it ----------------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) over ``LEAVES``."""
    n = end - start
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return LEAVES[start]
    k = _k(n)
    return node_hash(mth(start, start + k), mth(start + k, end))


def path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]) with ``m`` relative to ``start``."""
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, start, start + k), mth(start + k, end)]
    return [*path(m - k, start + k, end), mth(start, start + k)]


def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b)."""
    n = end - start
    if m == n:
        return [] if whole else [mth(start, end)]
    k = _k(n)
    if m <= k:
        return [*subproof(m, start, start + k, whole), mth(start + k, end)]
    return [*subproof(m - k, start + k, end, False), mth(start, start + k)]


class CountingSource:
    """Wraps a source and records each batch it is asked for."""

    def __init__(self, inner: MemoryNodes) -> None:
        self.inner = inner
        self.calls: list[list[NodeKey]] = []

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        self.calls.append(list(keys))
        return self.inner.nodes(keys)


# -- exhaustive up to 64 leaves --------------------------------------------------


@pytest.mark.parametrize("size", range(1, MAX_TREE + 1))
def test_every_inclusion_proof_matches_the_rfc_and_verifies(size: int) -> None:
    tree_root = root(size, TREE)
    assert tree_root == mth(0, size)
    for index in range(size):
        proof = inclusion_proof(index, size, TREE)
        assert proof == path(index, 0, size)
        verify_inclusion(LEAVES[index], index, size, proof, tree_root)


@pytest.mark.parametrize("new_size", range(1, MAX_TREE + 1))
def test_every_consistency_proof_matches_the_rfc_and_verifies(new_size: int) -> None:
    new_root = root(new_size, TREE)
    for old_size in range(1, new_size + 1):
        proof = consistency_proof(old_size, new_size, TREE)
        assert proof == subproof(old_size, 0, new_size, True)
        verify_consistency(old_size, new_size, root(old_size, TREE), new_root, proof)


def test_the_empty_tree() -> None:
    assert root(0, TREE) == EMPTY_ROOT == mth(0, 0)
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="empty tree proves nothing"):
        verify_consistency(0, 1, EMPTY_ROOT, LEAVES[0], [])
    with pytest.raises(ProofError, match="outside a tree of size 0"):
        verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)


# -- corrupted proofs ----------------------------------------------------------------


@settings(max_examples=200)
@given(size_and_index(), corruptions)
def test_corrupted_inclusion_proofs_fail(where: tuple[int, int], corruption: Corruption) -> None:
    size, index = where
    spoilt = corruption.apply(inclusion_proof(index, size, TREE))
    if spoilt is None:
        return
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[index], index, size, spoilt, root(size, TREE))


@settings(max_examples=200)
@given(old_and_new_sizes(), corruptions)
def test_corrupted_consistency_proofs_fail(sizes: tuple[int, int], corruption: Corruption) -> None:
    old_size, new_size = sizes
    spoilt = corruption.apply(consistency_proof(old_size, new_size, TREE))
    if spoilt is None:
        return
    with pytest.raises(ProofError):
        verify_consistency(old_size, new_size, root(old_size, TREE), root(new_size, TREE), spoilt)


@settings(max_examples=300)
@given(size_and_index(), size_and_index())
def test_inclusion_proof_fails_for_another_index_or_size(where: tuple[int, int], other: tuple[int, int]) -> None:
    """Claiming the proof is for another position, with that tree's true root, fails."""
    size, index = where
    other_size, other_index = other
    if (other_size, other_index) == (size, index):
        return
    proof = inclusion_proof(index, size, TREE)
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[index], other_index, other_size, proof, root(other_size, TREE))


@settings(max_examples=200)
@given(size_and_index(), st.integers(min_value=0, max_value=MAX_TREE - 1))
def test_inclusion_proof_fails_for_another_leaf(where: tuple[int, int], other: int) -> None:
    size, index = where
    if other == index:
        return
    proof = inclusion_proof(index, size, TREE)
    with pytest.raises(ProofError):
        verify_inclusion(LEAVES[other], index, size, proof, root(size, TREE))


@settings(max_examples=300)
@given(old_and_new_sizes(), old_and_new_sizes())
def test_consistency_proof_fails_for_other_sizes(sizes: tuple[int, int], other: tuple[int, int]) -> None:
    old_size, new_size = sizes
    if other == sizes or other[0] == other[1]:
        return
    proof = consistency_proof(old_size, new_size, TREE)
    with pytest.raises(ProofError):
        verify_consistency(other[0], other[1], root(other[0], TREE), root(other[1], TREE), proof)


@given(old_and_new_sizes())
def test_consistency_proof_fails_with_swapped_roots(sizes: tuple[int, int]) -> None:
    old_size, new_size = sizes
    if old_size == new_size:
        return
    proof = consistency_proof(old_size, new_size, TREE)
    with pytest.raises(ProofError):
        verify_consistency(old_size, new_size, root(new_size, TREE), root(old_size, TREE), proof)


# -- malformed input: the messages say expected and found ------------------------------


def test_wrong_length_message() -> None:
    proof = inclusion_proof(0, 8, TREE)
    with pytest.raises(ProofError, match="inclusion proof has wrong length: expected 3, got 2"):
        verify_inclusion(LEAVES[0], 0, 8, proof[:2], root(8, TREE))
    proof = consistency_proof(3, 8, TREE)
    with pytest.raises(ProofError, match="consistency proof has wrong length: expected 4, got 5"):
        verify_consistency(3, 8, root(3, TREE), root(8, TREE), [*proof, proof[0]])


@pytest.mark.parametrize("bad_size", [0, 31, 33, 64])
def test_proof_elements_must_be_32_bytes(bad_size: int) -> None:
    proof = inclusion_proof(0, 8, TREE)
    proof[1] = b"\x00" * bad_size
    with pytest.raises(ProofError, match=f"expected 32 bytes, got {bad_size}"):
        verify_inclusion(LEAVES[0], 0, 8, proof, root(8, TREE))
    proof = consistency_proof(3, 8, TREE)
    proof[0] = b"\x00" * bad_size
    with pytest.raises(ProofError, match=f"expected 32 bytes, got {bad_size}"):
        verify_consistency(3, 8, root(3, TREE), root(8, TREE), proof)


@pytest.mark.parametrize(("index", "size"), [(-1, 8), (8, 8), (9, 8), (0, 0), (2**64 - 1, 1), (0, -1)])
def test_inclusion_refuses_index_outside_tree(index: int, size: int) -> None:
    with pytest.raises(ProofError, match="outside a tree"):
        verify_inclusion(LEAVES[0], index, size, [], root(1, TREE))


def test_consistency_refuses_impossible_sizes() -> None:
    with pytest.raises(ProofError, match="old tree size 5 is larger than new tree size 4"):
        verify_consistency(5, 4, root(5, TREE), root(4, TREE), [])
    with pytest.raises(ProofError, match="sizes must be >= 0"):
        verify_consistency(-1, 4, EMPTY_ROOT, root(4, TREE), [])
    with pytest.raises(ProofError, match="expected 0 for equal sizes, got 1"):
        verify_consistency(4, 4, root(4, TREE), root(4, TREE), [LEAVES[0]])
    with pytest.raises(ProofError, match="roots differ"):
        verify_consistency(4, 4, root(4, TREE), root(5, TREE), [])
    with pytest.raises(ProofError, match="root of the empty tree"):
        verify_consistency(0, 0, LEAVES[0], LEAVES[0], [])


def test_leaf_hash_must_be_32_bytes() -> None:
    with pytest.raises(ProofError, match="leaf hash has wrong size"):
        verify_inclusion(b"leaf", 0, 1, [], b"leaf")


def test_misuse_of_the_builders_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="outside a tree of size 8"):
        inclusion_proof(8, 8, TREE)
    with pytest.raises(ValueError, match="0 < old_size <= new_size"):
        consistency_proof(0, 8, TREE)
    with pytest.raises(ValueError, match="0 < old_size <= new_size"):
        consistency_proof(9, 8, TREE)
    with pytest.raises(ValueError, match="tree size must be >= 0"):
        root(-1, TREE)
    with pytest.raises(ValueError, match="0 <= start < end"):
        subtree_hash(4, 4, TREE)
    with pytest.raises(ValueError, match="leaf hash must be 32 bytes"):
        nodes_completed_by_append(0, b"short", MemoryNodes())
    with pytest.raises(KeyError, match="not stored"):
        inclusion_proof(0, MAX_TREE + 1, TREE)


# -- incremental storage -----------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=200))
def test_incremental_roots_equal_from_scratch_roots(data: list[bytes]) -> None:
    leaves = [leaf_hash(item) for item in data]

    def scratch(hashes: Sequence[bytes]) -> bytes:
        if len(hashes) == 1:
            return hashes[0]
        k = _k(len(hashes))
        return node_hash(scratch(hashes[:k]), scratch(hashes[k:]))

    tree = MemoryNodes()
    for count, leaf in enumerate(leaves, start=1):
        tree.append(leaf)
        assert tree.root() == scratch(leaves[:count])
    for size in range(1, len(leaves) + 1, 7):  # old roots come from the same stored nodes
        assert root(size, tree) == scratch(leaves[:size])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 64])
def test_stored_nodes_are_exactly_the_complete_subtrees(size: int) -> None:
    tree = MemoryNodes()
    made: dict[NodeKey, bytes] = {}
    for index in range(size):
        for level, node_index, digest in nodes_completed_by_append(index, LEAVES[index], tree):
            made[(level, node_index)] = digest
        tree.append(LEAVES[index])
    expected = {
        (level, i) for level in range(size.bit_length()) for i in range(size >> level) if (i + 1) << level <= size
    }
    assert set(made) == expected
    for (level, i), digest in made.items():
        assert digest == mth(i << level, (i + 1) << level)


def test_append_reads_left_siblings_in_at_most_one_batch() -> None:
    tree = MemoryNodes()
    counting = CountingSource(tree)
    for index in range(MAX_TREE):
        before = len(counting.calls)
        made = nodes_completed_by_append(index, LEAVES[index], counting)
        trailing_ones = len(made) - 1
        assert len(counting.calls) - before == (1 if trailing_ones else 0)
        tree.append(LEAVES[index])


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 64])
def test_memory_append_stores_what_nodes_completed_by_append_makes(size: int) -> None:
    reference = MemoryNodes()
    made: dict[NodeKey, bytes] = {}
    for index in range(size):
        for level, node_index, digest in nodes_completed_by_append(index, LEAVES[index], reference):
            made[(level, node_index)] = digest
            reference._nodes[(level, node_index)] = digest
        reference._size = index + 1
    tree = MemoryNodes.from_leaf_hashes(LEAVES[:size])
    assert tree._nodes == made
    assert tree.size == size


def test_memory_append_refuses_a_short_leaf() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MemoryNodes().append(b"short")


@settings(max_examples=300)
@given(st.integers(0, MAX_TREE), st.integers(0, MAX_TREE))
def test_a_batch_append_makes_the_same_nodes_with_one_read(first: int, count: int) -> None:
    leaves = [leaf_hash(b"batch %d" % i) for i in range(first + count)]
    before = MemoryNodes.from_leaf_hashes(leaves[:first])
    one_by_one = []
    tree = MemoryNodes.from_leaf_hashes(leaves[:first])
    for index in range(first, first + count):
        one_by_one += nodes_completed_by_append(index, leaves[index], tree)
        tree.append(leaves[index])
    counting = CountingSource(before)
    assert nodes_completed_by_appends(first, leaves[first:], counting) == one_by_one
    assert len(counting.calls) <= 1
    read = [key for call in counting.calls for key in call]
    assert len(read) == len(set(read)) <= max(first.bit_length(), 0)
    assert all((index + 1) << level <= first for level, index in read)  # only nodes before the batch


def test_a_batch_append_refuses_a_negative_start() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        nodes_completed_by_appends(-1, [LEAVES[0]], MemoryNodes())


@settings(max_examples=300)
@given(st.integers(0, MAX_TREE - 1), st.integers(1, MAX_TREE))
def test_subtree_hash_of_any_range(start: int, length: int) -> None:
    end = min(start + length, MAX_TREE)
    assert subtree_hash(start, end, TREE) == mth(start, end)


@pytest.mark.parametrize("size", [1, 5, 8, 33, 64])
def test_each_read_is_one_batch(size: int) -> None:
    counting = CountingSource(TREE)
    for index in range(size):
        counting.calls.clear()
        inclusion_proof(index, size, counting)
        assert len(counting.calls) == (1 if size > 1 else 0)
        assert len(counting.calls[-1] if counting.calls else []) <= 2 * size.bit_length()
    for old_size in range(1, size):
        counting.calls.clear()
        consistency_proof(old_size, size, counting)
        assert len(counting.calls) == 1
    counting.calls.clear()
    root(size, counting)
    assert len(counting.calls) == 1
    assert len(counting.calls[0]) == size.bit_count()  # one stored node per set bit


def test_memory_nodes_reports_its_size() -> None:
    tree = MemoryNodes.from_entries([b"a", b"b", b"c"])
    assert tree.size == 3
    assert tree.root() == node_hash(node_hash(leaf_hash(b"a"), leaf_hash(b"b")), leaf_hash(b"c"))
