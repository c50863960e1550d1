"""The verifiable log read back: checkpoints, entries, inclusion and consistency proofs (RFC 9162).

`evidock log …` and the API call these; every proof is checked before it is returned, in the one JSON
form of ``chain.proof_json`` (the disc's proof files use it too).
"""

from __future__ import annotations

import base64
from typing import Any
from zoneinfo import ZoneInfo

from chain.entries import decode
from chain.merkle import consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion
from chain.proof_json import consistency_json, inclusion_json
from evidock.app import App, checkpoint_reader, checkpointer_for, outside_trust_for
from storage import journal
from storage.checkpoints import StoredCheckpoint
from storage.errors import InvalidReference, NotFound
from storage.journal import SqlNodes
from storage.outside_trust import Gathering


def checkpoint(evi: App, *, new: bool = False) -> StoredCheckpoint:
    """The latest checkpoint locked in the object store (``new``: sign and anchor one now)."""
    stored = checkpointer_for(evi).make(evi.now()) if new else checkpoint_reader(evi).latest_stored()
    if stored is None:
        raise NotFound("no checkpoint stored yet: run `evidock log checkpoint --new`")
    return stored


def outside_trust(evi: App, stored: StoredCheckpoint, *, ask: bool = False) -> Gathering:
    """The cosignatures and timestamp tokens recorded for ``stored`` (``ask``: first ask those missing, once)."""
    trust = outside_trust_for(evi)
    try:
        if ask and trust.policy.active:
            return trust.gather(stored, now=evi.now(), pause=False)
        return trust.recorded(stored.checkpoint.size)
    finally:
        trust.close()


def checkpoint_json(stored: StoredCheckpoint, gathering: Gathering, tz: ZoneInfo) -> dict[str, Any]:
    """A checkpoint with its outside trust, as `evidock log checkpoint --json` prints it."""
    return {
        "size": stored.checkpoint.size,
        "root": stored.checkpoint.root.hex(),
        "note": stored.note,
        "cosigned_note": gathering.cosigned_note(stored.note),
        "object_key": stored.version.key,
        "quorum": {"required": gathering.quorum, "cosigned": len(gathering.cosigned), "met": gathering.has_quorum},
        "cosignatures": [
            {
                "witness": c.witness.name,
                "vkey": c.witness.vkey,
                "cosigned_at": c.cosigned_at.isoformat(),
                "cosigned_at_local": c.cosigned_at.astimezone(tz).isoformat(),
                "line": c.line,
            }
            for c in gathering.cosigned
        ],
        "timestamps": [
            {
                "tsa": s.tsa.name,
                "fingerprint": s.tsa.fingerprint,
                "gen_time": s.gen_time.isoformat(),
                "gen_time_local": s.gen_time.astimezone(tz).isoformat(),
                "serial": str(s.serial),
                "reply_b64": base64.b64encode(s.reply).decode("ascii"),
            }
            for s in gathering.stamped
        ],
        "failures": gathering.failures,
    }


def _check_size(size: int, log_size: int) -> None:
    if size > log_size:
        raise NotFound(f"the log has {log_size} entries; size {size} does not exist yet")


def entry(evi: App, index: int) -> dict[str, Any]:
    """One entry: canonical bytes (base64), leaf hash, content."""
    with evi.catalog.read() as conn:
        if index >= journal.size(conn):
            raise NotFound(f"no log entry {index}")
        data = journal.entry_bytes(conn, index)
    return {
        "index": index,
        "leaf_hash": leaf_hash(data).hex(),
        "entry_b64": base64.b64encode(data).decode("ascii"),
        "entry": decode(data).as_json(),
    }


def inclusion(evi: App, index: int, size: int | None = None) -> dict[str, Any]:
    """Inclusion proof (RFC 9162 §2.1.3) of entry ``index`` in the tree of ``size`` (default: latest checkpoint)."""
    anchor = checkpoint_reader(evi).latest_stored()
    tree_size = size if size is not None else (anchor.checkpoint.size if anchor else 0)
    with evi.catalog.read() as conn:
        _check_size(tree_size, journal.size(conn))
        if index >= tree_size:
            raise InvalidReference(f"entry {index} is not in a tree of size {tree_size}")
        nodes = SqlNodes(conn)
        data = journal.entry_bytes(conn, index)
        proof = inclusion_proof(index, tree_size, nodes)
        tree_root = root(tree_size, nodes)
    verify_inclusion(leaf_hash(data), index, tree_size, proof, tree_root)
    return inclusion_json(
        index=index,
        tree_size=tree_size,
        root=tree_root,
        entry=data,
        proof=proof,
        checkpoint=anchor.note if anchor and anchor.checkpoint.size == tree_size else None,
    )


def consistency(evi: App, old: int, new: int | None = None) -> dict[str, Any]:
    """Consistency proof (RFC 9162 §2.1.4) that tree ``new`` (default: latest checkpoint) extends tree ``old``."""
    stored = {c.checkpoint.size: c.note for c in checkpoint_reader(evi).stored()}
    to = new if new is not None else (max(stored) if stored else 0)
    if old == 0:
        raise InvalidReference(
            "--from 0: there is no consistency proof from the empty tree (RFC 9162 §2.1.4: 0 < old size); "
            "give --from 1 or more"
        )
    with evi.catalog.read() as conn:
        _check_size(to, journal.size(conn))
        if old > to:
            raise InvalidReference(f"--from {old} is larger than --to {to}")
        nodes = SqlNodes(conn)
        proof = consistency_proof(old, to, nodes)
        old_root, new_root = root(old, nodes), root(to, nodes)
    verify_consistency(old, to, old_root, new_root, proof)
    return consistency_json(
        old_size=old,
        new_size=to,
        old_root=old_root,
        new_root=new_root,
        proof=proof,
        old_checkpoint=stored.get(old),
        new_checkpoint=stored.get(to),
    )
