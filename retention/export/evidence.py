"""The log evidence put on a disc: the signed checkpoint, the verifier key, the proofs, and outside trust.

For every recording on the disc, every log entry about it in the checkpoint's
tree (its whole custody chain: INGEST, LABEL, FINDING, EXPLANATION, ACCESS,
APPROVAL, HOLD, RETENTION, the EXPORT of this very export, ...) with its RFC
9162 inclusion proof; and, from the first checkpoint that covered each
recording's INGEST entry, an RFC 9162 consistency proof to the export's
checkpoint. The proofs come from ``chain.merkle`` over the stored nodes and are
checked here before they go on the disc (a disc must never carry a proof that
fails).

Outside trust (docs/witness.md): where the station has witnesses, the cosigned
checkpoint and the witnesses' keys with the quorum; where it has TSAs, each
timestamp token with the TSA's certificate chain. Each cosignature and token is
checked again before it is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from cases.labels import Label
from chain.checkpoint import Checkpoint
from chain.cosignature import find_cosignatures
from chain.entries import EntryType, decode
from chain.errors import CheckpointError
from chain.merkle import consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion
from chain.proof_json import consistency_json, inclusion_json
from retention.export import verify_disc
from retention.export.layout import ExportError
from storage import custody
from storage.journal import SqlNodes
from storage.outside_trust import Gathering, Policy
from storage.schema import log_entries, log_salts, party_field
from storage.timestamping import TimestampError, verify_timestamp


def _json(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def case_labels(conn: Connection, case_number: str, *, below: int) -> list[int]:
    """Indexes of every LABEL entry below ``below`` that names ``case_number``, read from the log (not the catalog).

    They go on every disc of the case, so VERIFY.py can see a recording the log
    puts in the case that the export left out.
    """
    rows = conn.execute(
        select(log_entries.c.idx, log_entries.c.data)
        .where(log_entries.c.type == EntryType.LABEL.value, log_entries.c.idx < below)
        .order_by(log_entries.c.idx)
    )
    return [int(idx) for idx, data in rows if decode(bytes(data)).body.get("case_number") == case_number]


def party_salts(conn: Connection, label: Label | None, names: Sequence[str]) -> list[str | None]:
    """For each disclosed party name, the hex salt opening its commitment in the label's LABEL entry (else None).

    Only the salts of names the disclosure shows go on the disc: a salt of a
    withheld name would let anyone test guesses of it against the commitment.
    """
    if label is None:
        return [None for _ in names]
    salts = {
        field: bytes(salt).hex()
        for field, salt in conn.execute(
            select(log_salts.c.field, log_salts.c.salt).where(log_salts.c.entry == label.entry)
        )
    }
    return [salts.get(party_field(label.parties.index(name))) if name in label.parties else None for name in names]


def log_evidence(
    conn: Connection,
    recordings: Sequence[str],
    *,
    checkpoint: Checkpoint,
    note: str,
    vkey: str,
    case_number: str | None = None,
) -> dict[str, bytes]:
    """Disc path -> bytes of the log evidence about ``recordings`` (and the LABEL entries of ``case_number``)."""
    nodes = SqlNodes(conn)
    size = checkpoint.size
    if root(size, nodes) != checkpoint.root:
        raise ExportError(f"the log's root at size {size} differs from the checkpoint's: run `evidock verify`")
    files = {verify_disc.CHECKPOINT: note.encode("utf-8"), verify_disc.VKEY: (vkey + "\n").encode("ascii")}
    chains = {rec: custody.chain_indexes(conn, rec, below=size) for rec in recordings}
    labelled = case_labels(conn, case_number, below=size) if case_number is not None else []
    data = custody.entry_data(conn, sorted({i for chain in chains.values() for i in chain} | set(labelled)))
    for index, entry in sorted(data.items()):
        proof = inclusion_proof(index, size, nodes)
        verify_inclusion(leaf_hash(entry), index, size, proof, checkpoint.root)
        files[f"{verify_disc.ENTRIES}/{index:012d}.json"] = _json(
            inclusion_json(index=index, tree_size=size, root=checkpoint.root, entry=entry, proof=proof, checkpoint=note)
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
            consistency_json(
                old_size=old_size,
                new_size=size,
                old_root=root(old_size, nodes),
                new_root=checkpoint.root,
                proof=proof,
                old_checkpoint=old_note,
                new_checkpoint=note,
            )
        )
    return files


def outside_trust_files(note: str, gathering: Gathering, policy: Policy) -> dict[str, bytes]:
    """Disc path -> bytes of the cosigned checkpoint, the witnesses' keys and quorum, and the timestamp tokens."""
    files: dict[str, bytes] = {}
    if policy.witnesses:
        cosigned = gathering.cosigned_note(note)
        try:
            found = find_cosignatures(cosigned, [w.key for w in policy.witnesses])
        except CheckpointError as exc:
            raise ExportError(f"a recorded cosignature does not verify, run `evidock verify`: {exc}") from exc
        if len(found) != len(gathering.cosigned):
            raise ExportError("the recorded cosignatures are not each by one configured witness: run `evidock verify`")
        files[verify_disc.COSIGNED] = cosigned.encode("utf-8")
        files[verify_disc.WITNESSES] = _json(
            {
                "format": verify_disc.WITNESSES_FORMAT,
                "quorum": policy.quorum,
                "witnesses": [{"name": w.name, "vkey": w.vkey, "url": w.url} for w in policy.witnesses],
            }
        )
    for stamped in gathering.stamped:
        try:
            verify_timestamp(stamped.reply, note, stamped.tsa.chain)
        except TimestampError as exc:
            raise ExportError(f"the recorded token of {stamped.tsa.describe()} does not verify: {exc}") from exc
        stem = f"{verify_disc.TIMESTAMPS}/{stamped.tsa.fingerprint}"
        files[f"{stem}.tsr"] = stamped.reply
        files[f"{stem}.pem"] = stamped.tsa.chain_pem
    return files
