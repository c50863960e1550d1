"""The RFC 9162 Merkle tree, kept incrementally as stored complete subtrees.

Hashing is RFC 9162 §2.1.1 with SHA-256: a leaf is ``H(0x00 ‖ data)``, an
interior node ``H(0x01 ‖ left ‖ right)``, the empty tree ``H("")``.

Storage model
-------------
The tree is never rebuilt. What is persisted is the set of *complete* subtree
hashes, keyed by ``(level, index)``: node ``(L, i)`` is the hash of leaves
``[i·2^L, (i+1)·2^L)``, and it is stored as soon as that range is full. Level 0
holds the leaf hashes. A tree of ``n`` leaves therefore has every node with
``(i+1)·2^L <= n`` and nothing else; nodes never change once written, so the
table is append-only like the log.

* An append stores the new leaf and each parent it completes — on average two
  nodes, at most ``log2(n) + 1`` — from the left siblings it reads
  (:func:`nodes_completed_by_append`).
* Any RFC 9162 subtree ``MTH(D[a:b])``, and so the root, every inclusion path
  element and every consistency proof element, is a right-leaning fold of
  O(log n) stored nodes (:func:`subtree_hash`).

Every function that reads the tree collects all the node keys it needs first
and calls :meth:`NodeSource.nodes` once, so a database-backed source answers a
whole proof with one query.

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) follows the
algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2 step by step and raises
``ProofError`` on any malformed or non-matching proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from chain.errors import ProofError

HASH_SIZE = 32
"""Bytes in every hash of the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 9162 §2.1.1: the root of the empty tree is the hash of the empty string."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

NodeKey: TypeAlias = tuple[int, int]
"""``(level, index)``: the complete subtree over leaves ``[index·2^level, (index+1)·2^level)``."""


class NodeSource(Protocol):
    """Where the stored complete-subtree hashes come from (memory, SQL, files).

    There is only the batch method on purpose: every function here asks for all
    the nodes it needs in one call (a proof at a million leaves needs about 20),
    so a SQL implementation is one ``SELECT ... WHERE (level, idx) IN (...)``.
    """

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        """Return the hashes of ``keys``, in the same order.

        Keys may repeat. A missing node is a storage fault, not a proof failure:
        raise the storage layer's own error (``MemoryNodes`` raises ``KeyError``).
        """
        ...


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: ``SHA-256(0x00 ‖ data)``."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node hash: ``SHA-256(0x01 ‖ left ‖ right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n >= 2``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


# -- planning: which stored nodes make up a subtree ------------------------------


@dataclass(frozen=True, slots=True)
class _Join:
    """``node_hash(left, right)`` of two planned subtrees."""

    left: _Plan
    right: _Plan


_Plan: TypeAlias = "NodeKey | _Join"


def _plan(start: int, end: int) -> _Plan:
    """Decompose ``MTH(D[start:end])`` into stored complete nodes, following RFC 9162's split.

    For every range an RFC 9162 tree or proof uses, ``start`` is a multiple of
    the split size, so this is a fold of at most ``log2(end - start) + 1``
    stored nodes. For other ranges it is still correct but may need up to
    ``end - start`` nodes, because their interior nodes are not stored.
    """
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        level = n.bit_length() - 1
        return (level, start >> level)
    k = _split(n)
    return _Join(_plan(start, start + k), _plan(start + k, end))


def _collect(plan: _Plan, into: dict[NodeKey, int]) -> None:
    stack = [plan]
    while stack:
        item = stack.pop()
        if isinstance(item, _Join):
            stack.append(item.right)
            stack.append(item.left)
        else:
            into.setdefault(item, len(into))


def _evaluate(plan: _Plan, hashes: dict[NodeKey, bytes]) -> bytes:
    if isinstance(plan, _Join):
        return node_hash(_evaluate(plan.left, hashes), _evaluate(plan.right, hashes))
    return hashes[plan]


def _fetch(keys: Sequence[NodeKey], source: NodeSource) -> dict[NodeKey, bytes]:
    if not keys:
        return {}
    found = source.nodes(keys)
    if len(found) != len(keys):
        raise ValueError(f"node source returned {len(found)} hashes for {len(keys)} keys")
    return dict(zip(keys, found, strict=True))


def _subtree_hashes(ranges: Sequence[tuple[int, int]], source: NodeSource) -> list[bytes]:
    """``MTH`` of each range, reading every stored node needed with one ``source.nodes`` call."""
    plans = [_plan(start, end) for start, end in ranges]
    wanted: dict[NodeKey, int] = {}
    for plan in plans:
        _collect(plan, wanted)
    hashes = _fetch(list(wanted), source)
    return [_evaluate(plan, hashes) for plan in plans]


# -- building ------------------------------------------------------------------


def nodes_completed_by_append(index: int, leaf: bytes, source: NodeSource) -> list[tuple[int, int, bytes]]:
    """The ``(level, index, hash)`` nodes to store when leaf number ``index`` is appended.

    The first is the leaf itself at level 0; then, while the node just made is
    a right child, its parent, which the append has completed. ``source`` must
    hold the tree of ``index`` leaves; the left siblings are read with at most
    one ``source.nodes`` call (none when ``index`` is even).
    """
    if index < 0:
        raise ValueError(f"leaf index must be >= 0, got {index}")
    if len(leaf) != HASH_SIZE:
        raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
    completed_parents = (~index & (index + 1)).bit_length() - 1  # trailing one bits of index
    siblings_keys = [(level, (index >> level) - 1) for level in range(completed_parents)]
    siblings = _fetch(siblings_keys, source)
    made = [(0, index, leaf)]
    current = leaf
    for level, key in enumerate(siblings_keys, start=1):
        current = node_hash(siblings[key], current)
        made.append((level, index >> level, current))
    return made


def nodes_completed_by_appends(first: int, leaves: Sequence[bytes], source: NodeSource) -> list[tuple[int, int, bytes]]:
    """The nodes to store when ``leaves`` are appended at indexes ``first, first + 1, ...``.

    The same nodes, in the same order, as calling :func:`nodes_completed_by_append`
    for each leaf in turn, but ``source`` (which must hold the tree of ``first``
    leaves) is read with at most one ``source.nodes`` call for the whole batch:
    a left sibling made inside the batch is taken from the batch itself. The
    ones read are among the ``log2(first)`` roots of the complete subtrees of
    the tree of ``first`` leaves.
    """
    if first < 0:
        raise ValueError(f"leaf index must be >= 0, got {first}")
    outside: dict[NodeKey, None] = {}
    for index in range(first, first + len(leaves)):
        completed_parents = (~index & (index + 1)).bit_length() - 1
        for level in range(completed_parents):
            sibling = (index >> level) - 1
            if ((sibling + 1) << level) <= first:  # its last leaf comes before the batch
                outside[(level, sibling)] = None
    known = _fetch(list(outside), source)
    made: list[tuple[int, int, bytes]] = []
    for offset, leaf in enumerate(leaves):
        completed = nodes_completed_by_append(first + offset, leaf, _Lookup(known))
        known.update(((level, index), digest) for level, index, digest in completed)
        made += completed
    return made


class _Lookup:
    """A :class:`NodeSource` over a dict the caller keeps filling."""

    def __init__(self, known: dict[NodeKey, bytes]) -> None:
        self._known = known

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        return [self._known[key] for key in keys]


class MemoryNodes:
    """A dict-backed :class:`NodeSource` that can grow: for tests and offline tools."""

    def __init__(self) -> None:
        self._nodes: dict[NodeKey, bytes] = {}
        self._size = 0

    @classmethod
    def from_leaf_hashes(cls, leaves: Iterable[bytes]) -> MemoryNodes:
        tree = cls()
        for leaf in leaves:
            tree.append(leaf)
        return tree

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> MemoryNodes:
        """The tree over the leaves ``leaf_hash(entry)`` of each entry's bytes."""
        return cls.from_leaf_hashes(leaf_hash(entry) for entry in entries)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._size

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        try:
            return [self._nodes[key] for key in keys]
        except KeyError as exc:
            raise KeyError(f"node {exc.args[0]} is not stored in a tree of {self._size} leaves") from None

    def append(self, leaf: bytes) -> int:
        """Append a leaf hash; return its index.

        :func:`nodes_completed_by_append` inlined on the dict (``verify``
        rebuilds whole logs with this); the tests check the two agree.
        """
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
        index = self._size
        nodes = self._nodes
        nodes[(0, index)] = leaf
        current, level, position = leaf, 0, index
        while position & 1:  # a right child: its parent is now complete
            current = node_hash(nodes[(level, position - 1)], current)
            level += 1
            position >>= 1
            nodes[(level, position)] = current
        self._size = index + 1
        return index

    def root(self) -> bytes:
        return root(self._size, self)


# -- reading -------------------------------------------------------------------


def root(size: int, source: NodeSource) -> bytes:
    """The RFC 9162 root (``MTH``) of the first ``size`` leaves; one ``source.nodes`` call."""
    if size < 0:
        raise ValueError(f"tree size must be >= 0, got {size}")
    if size == 0:
        return EMPTY_ROOT
    return _subtree_hashes([(0, size)], source)[0]


def subtree_hash(start: int, end: int, source: NodeSource) -> bytes:
    """``MTH(D[start:end])`` for any non-empty range, from stored complete nodes.

    O(log n) for every range RFC 9162 itself uses (``start`` a multiple of the
    largest power of two below ``end - start``); other ranges are computed
    correctly from up to ``end - start`` stored nodes.
    """
    if not 0 <= start < end:
        raise ValueError(f"subtree range must satisfy 0 <= start < end, got [{start}, {end})")
    return _subtree_hashes([(start, end)], source)[0]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.3.1 ``PATH(m, D[n])`` as leaf ranges, leaf side first."""
    path: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
    path.reverse()
    return path


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """RFC 9162 §2.1.4.1 ``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`` as leaf ranges."""
    path: list[tuple[int, int]] = []
    start, end, m, whole_old_tree = 0, new_size, old_size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            path.append((start + k, end))
            end = start + k
        else:
            path.append((start, start + k))
            start += k
            m -= k
            whole_old_tree = False
    if not whole_old_tree:
        path.append((start, end))
    path.reverse()
    return path


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    """The RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    return _subtree_hashes(_inclusion_ranges(index, size), source)


def consistency_proof(old_size: int, new_size: int, source: NodeSource) -> list[bytes]:
    """The RFC 9162 §2.1.4.1 proof that the tree of ``old_size`` leaves is a prefix of ``new_size``.

    Empty when the sizes are equal. A proof from the empty tree is meaningless
    (RFC 9162 defines it for ``0 < old_size``), so ``old_size == 0`` is refused.
    """
    if not 0 < old_size <= new_size:
        raise ValueError(f"consistency proof needs 0 < old_size <= new_size, got {old_size} and {new_size}")
    return _subtree_hashes(_consistency_ranges(old_size, new_size), source)


# -- verifying -----------------------------------------------------------------


def _check_proof_hashes(kind: str, proof: Sequence[bytes]) -> None:
    for position, element in enumerate(proof):
        if len(element) != HASH_SIZE:
            raise ProofError(
                f"{kind} proof element {position} has wrong size: expected {HASH_SIZE} bytes, got {len(element)}"
            )


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> None:
    """Check an inclusion proof (RFC 9162 §2.1.3.2); raise ``ProofError`` if it fails.

    ``leaf`` is the leaf *hash* (``leaf_hash(entry_bytes)``).
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"leaf hash has wrong size: expected {HASH_SIZE} bytes, got {len(leaf)}")
    expected = len(_inclusion_ranges(index, size))
    if len(proof) != expected:
        raise ProofError(f"inclusion proof has wrong length: expected {expected}, got {len(proof)}")
    _check_proof_hashes("inclusion", proof)

    fn, sn, computed = index, size - 1, leaf
    for element in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            computed = node_hash(element, computed)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            computed = node_hash(computed, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the path to the root")
    if computed != root_hash:
        raise ProofError(
            f"inclusion proof does not lead to the root: expected {root_hash.hex()}, computed {computed.hex()}"
        )


def _check_consistency_sizes(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Refuse impossible sizes; settle the equal-size case. True when nothing is left to check."""
    if old_size < 0 or new_size < 0:
        raise ProofError(f"tree sizes must be >= 0, got {old_size} and {new_size}")
    if old_size > new_size:
        raise ProofError(f"old tree size {old_size} is larger than new tree size {new_size}")
    if old_size < new_size:
        if old_size == 0:
            raise ProofError("consistency proof from the empty tree proves nothing: old tree size is 0")
        return False
    if proof:
        raise ProofError(f"consistency proof has wrong length: expected 0 for equal sizes, got {len(proof)}")
    if old_root != new_root:
        raise ProofError(f"roots differ for equal tree size {old_size}: {old_root.hex()} and {new_root.hex()}")
    if old_size == 0 and old_root != EMPTY_ROOT:
        raise ProofError(f"root of the empty tree must be {EMPTY_ROOT.hex()}, got {old_root.hex()}")
    return True


def _consistency_roots(old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2 steps 2-6: the old and new roots the proof leads to."""
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_computed = new_computed = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the path to the new root")
        if fn & 1 or fn == sn:
            old_computed = node_hash(element, old_computed)
            new_computed = node_hash(element, new_computed)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            new_computed = node_hash(new_computed, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the path to the new root")
    return old_computed, new_computed


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check a consistency proof (RFC 9162 §2.1.4.2); raise ``ProofError`` if it fails.

    Equal sizes need an empty proof and equal roots (for size 0, the empty
    root). ``old_size == 0 < new_size`` is refused: every tree extends the empty
    tree, so such a "proof" would prove nothing about ``new_root``.
    """
    if _check_consistency_sizes(old_size, new_size, old_root, new_root, proof):
        return
    expected = len(_consistency_ranges(old_size, new_size))
    if len(proof) != expected:
        raise ProofError(f"consistency proof has wrong length: expected {expected}, got {len(proof)}")
    _check_proof_hashes("consistency", proof)
    old_computed, new_computed = _consistency_roots(old_size, new_size, old_root, proof)
    if old_computed != old_root:
        raise ProofError(
            f"consistency proof does not lead to the old root: expected {old_root.hex()}, computed {old_computed.hex()}"
        )
    if new_computed != new_root:
        raise ProofError(
            f"consistency proof does not lead to the new root: expected {new_root.hex()}, computed {new_computed.hex()}"
        )
