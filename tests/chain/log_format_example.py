"""The worked example of docs/log-format.md, rebuilt from ``chain``.

``test_chain_docs`` checks that every value printed here appears verbatim in
the document, so the example cannot drift from the code. Run this module to
print the values when the format changes::

    .venv/bin/python -m tests.chain.log_format_example
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.checkpoint import Checkpoint, format_skey, format_vkey, parse_skey, sign_checkpoint
from chain.entries import Entry, EntryType, commit, encode
from chain.merkle import MemoryNodes, consistency_proof, inclusion_proof, leaf_hash

ORIGIN = "example.evidock/log"
SEED = hashlib.sha256(b"evidock log-format example key; never use it for a real log").digest()
PARTY_SALT = bytes(range(32))
RECORDING = hashlib.sha256(b"example recording bytes").hexdigest()


@dataclass(frozen=True)
class Example:
    skey: str
    vkey: str
    entries: list[bytes]
    leaf_hashes: list[bytes]
    stored_nodes: dict[tuple[int, int], bytes]
    root: bytes
    note: str
    inclusion_index: int
    inclusion: list[bytes]
    consistency_old_size: int
    consistency_old_root: bytes
    consistency: list[bytes]
    party_commitment: str

    def values(self) -> list[str]:
        """Every string the document must show."""
        shown = [self.skey, self.vkey, self.root.hex(), self.note, self.party_commitment]
        shown += [entry.decode("utf-8") for entry in self.entries]
        shown += [leaf.hex() for leaf in self.leaf_hashes]
        shown += [digest.hex() for digest in self.stored_nodes.values()]
        shown += [digest.hex() for digest in self.inclusion + self.consistency]
        shown.append(self.consistency_old_root.hex())
        return shown


def build() -> Example:
    private_key = Ed25519PrivateKey.from_private_bytes(SEED)
    party = commit("张三", PARTY_SALT)
    entries = [
        Entry(
            EntryType.INGEST,
            "2026-11-26T04:00:00Z",
            "dock-01",
            RECORDING,
            None,
            {
                "sha256": RECORDING,
                "size": 23,
                "object_key": f"originals/{RECORDING}",
                "version_id": "v1",
                "original_name": "DCIM_0001.MP4",
                "device": "BWC-0042",
                "officer": "110105",
                "start_raw": "2026-11-26T03:12:09Z",
                "sequence": 1,
                "retain_until": "2027-02-26T04:00:00Z",
                "received_at": "2026-11-26T03:59:58Z",
            },
        ),
        Entry(
            EntryType.LABEL,
            "2026-11-26T05:30:00Z",
            "dock-01",
            RECORDING,
            0,
            {"case_number": "京朝公(治)行罚决字[2026]1号", "parties": [party], "handler": "李四"},
        ),
        Entry(
            EntryType.ACCESS,
            "2026-11-27T01:00:00Z",
            "dock-01",
            RECORDING,
            1,
            {
                "actor": "auditor-7",
                "role": "auditor",
                "action": "view",
                "reason": "annual audit",
                "approver": None,
                "requester_category": None,
                "document_ref": None,
            },
        ),
    ]
    encoded = [encode(entry) for entry in entries]
    tree = MemoryNodes.from_entries(encoded)
    stored = {key: tree.nodes([key])[0] for key in [(0, 0), (0, 1), (0, 2), (1, 0)]}
    signer = parse_skey(format_skey(ORIGIN, private_key))
    note = sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), signer)
    old_tree = MemoryNodes.from_entries(encoded[:2])
    return Example(
        skey=format_skey(ORIGIN, private_key),
        vkey=format_vkey(ORIGIN, private_key.public_key()),
        entries=encoded,
        leaf_hashes=[leaf_hash(data) for data in encoded],
        stored_nodes=stored,
        root=tree.root(),
        note=note,
        inclusion_index=1,
        inclusion=inclusion_proof(1, tree.size, tree),
        consistency_old_size=2,
        consistency_old_root=old_tree.root(),
        consistency=consistency_proof(2, tree.size, tree),
        party_commitment=party,
    )


if __name__ == "__main__":  # pragma: no cover - a printing aid for editing the document
    example = build()
    print(f"skey: {example.skey}\nvkey: {example.vkey}\ncommitment: {example.party_commitment}")
    for index, (data, leaf) in enumerate(zip(example.entries, example.leaf_hashes, strict=True)):
        print(f"entry {index}: {data.decode()}\n  leaf {leaf.hex()}")
    for key, digest in example.stored_nodes.items():
        print(f"node {key}: {digest.hex()}")
    print(f"root: {example.root.hex()}\nnote:\n{example.note}")
    print("inclusion of 1 at 3:", [h.hex() for h in example.inclusion])
    print("old root at 2:", example.consistency_old_root.hex())
    print("consistency 2 -> 3:", [h.hex() for h in example.consistency])
