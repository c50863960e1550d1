"""The one JSON form of RFC 9162 proofs: what ``evidock log proof|consistency --json``, the API and the disc's
``log/entries/*.json`` and ``log/consistency/*.json`` files all write (docs/log-format.md §5.3).

Hashes are lowercase hex, entry bytes standard base64, checkpoints the signed
note text (or ``null`` where no signed checkpoint of that size is stored). The
``format`` member names the kind of proof and the version of this form.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from chain.merkle import leaf_hash

INCLUSION_FORMAT = "evidock-inclusion-proof-v1"
CONSISTENCY_FORMAT = "evidock-consistency-proof-v1"


def inclusion_json(
    *, index: int, tree_size: int, root: bytes, entry: bytes, proof: Sequence[bytes], checkpoint: str | None
) -> dict[str, Any]:
    """Inclusion proof of entry ``index`` (its canonical bytes ``entry``) in the tree of ``tree_size`` entries."""
    return {
        "format": INCLUSION_FORMAT,
        "index": index,
        "tree_size": tree_size,
        "root": root.hex(),
        "leaf_hash": leaf_hash(entry).hex(),
        "entry_b64": base64.b64encode(entry).decode("ascii"),
        "proof": [h.hex() for h in proof],
        "checkpoint": checkpoint,
    }


def consistency_json(
    *,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    old_checkpoint: str | None,
    new_checkpoint: str | None,
) -> dict[str, Any]:
    """Consistency proof that the tree of ``new_size`` entries extends the tree of ``old_size`` (0 < old <= new)."""
    return {
        "format": CONSISTENCY_FORMAT,
        "old_size": old_size,
        "new_size": new_size,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "proof": [h.hex() for h in proof],
        "old_checkpoint": old_checkpoint,
        "new_checkpoint": new_checkpoint,
    }
