"""The inclusion proof the recording page offers for download: the JSON of `evidock log proof --json`.

The same steps as ``evidock.cli_log.log_proof`` (tree size of the latest
checkpoint locked in the object store, proof checked before it is returned).
The HTTP API branch moves that command's body to a shared function; once both
branches are merged this module gives way to it.
"""

from __future__ import annotations

import base64
from typing import Any

from chain.merkle import inclusion_proof, leaf_hash, root, verify_inclusion
from evidock.app import App, checkpointer_for
from storage import journal
from storage.errors import StorageError
from storage.journal import SqlNodes


def inclusion(evi: App, index: int) -> dict[str, Any]:
    """RFC 9162 inclusion proof of entry ``index`` in the tree of the latest stored checkpoint."""
    anchor = checkpointer_for(evi).latest_stored()
    tree_size = anchor.checkpoint.size if anchor else 0
    with evi.catalog.read() as conn:
        if index >= tree_size:
            raise StorageError(
                f"entry {index} is not in the latest checkpoint (size {tree_size}) yet; "
                "the service signs one every few minutes"
            )
        nodes = SqlNodes(conn)
        data = journal.entry_bytes(conn, index)
        proof = inclusion_proof(index, tree_size, nodes)
        tree_root = root(tree_size, nodes)
    verify_inclusion(leaf_hash(data), index, tree_size, proof, tree_root)
    return {
        "index": index,
        "size": tree_size,
        "root": tree_root.hex(),
        "leaf_hash": leaf_hash(data).hex(),
        "entry_b64": base64.b64encode(data).decode("ascii"),
        "proof": [h.hex() for h in proof],
        "checkpoint": anchor.note if anchor else None,
    }
