"""The log evidence put on a disc: the signed checkpoint, the verifier key, and the proofs.

For every recording on the disc, every log entry about it in the checkpoint's
tree (its whole custody chain: INGEST, LABEL, FINDING, EXPLANATION, ACCESS,
APPROVAL, HOLD, RETENTION, the EXPORT of this very export, ...) with its RFC
9162 inclusion proof; and, from the first checkpoint that covered each
recording's INGEST entry, an RFC 9162 consistency proof to the export's
checkpoint. The proofs come from ``chain.merkle`` over the stored nodes and are
checked here before they go on the disc (a disc must never carry a proof that
fails).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from sqlalchemy import Connection

from chain.checkpoint import Checkpoint
from chain.merkle import consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion
from retention.export import verify_disc
from retention.export.layout import ExportError
from storage import custody
from storage.journal import SqlNodes


def _json(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def log_evidence(
    conn: Connection, recordings: Sequence[str], *, checkpoint: Checkpoint, note: str, vkey: str
) -> dict[str, bytes]:
    """Disc path -> bytes of the log evidence about ``recordings`` under ``checkpoint``."""
    nodes = SqlNodes(conn)
    size = checkpoint.size
    if root(size, nodes) != checkpoint.root:
        raise ExportError(f"the log's root at size {size} differs from the checkpoint's: run `evidock verify`")
    files = {verify_disc.CHECKPOINT: note.encode("utf-8"), verify_disc.VKEY: (vkey + "\n").encode("ascii")}
    chains = {rec: custody.chain_indexes(conn, rec, below=size) for rec in recordings}
    data = custody.entry_data(conn, [i for chain in chains.values() for i in chain])
    for index, entry in sorted(data.items()):
        proof = inclusion_proof(index, size, nodes)
        verify_inclusion(leaf_hash(entry), index, size, proof, checkpoint.root)
        files[f"{verify_disc.ENTRIES}/{index:012d}.json"] = _json(
            {
                "index": index,
                "tree_size": size,
                "leaf_hash": leaf_hash(entry).hex(),
                "entry_b64": base64.b64encode(entry).decode("ascii"),
                "inclusion_proof": [h.hex() for h in proof],
            }
        )
    for rec, chain in chains.items():
        if not chain:
            raise ExportError(f"recording {rec[:12]} has no log entries below checkpoint {size}")
        covering = custody.first_checkpoint_covering(conn, chain[0])
        if covering is None or covering[0] >= size:
            continue  # the export checkpoint is the first to cover this recording: nothing to bridge
        old_size, old_note = covering
        proof = consistency_proof(old_size, size, nodes)
        verify_consistency(old_size, size, root(old_size, nodes), checkpoint.root, proof)
        files[f"{verify_disc.CONSISTENCY}/from-{old_size:012d}.json"] = _json(
            {"old_size": old_size, "new_size": size, "old_checkpoint": old_note, "proof": [h.hex() for h in proof]}
        )
    return files
