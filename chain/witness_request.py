"""The body of a C2SP ``tlog-witness`` ``add-checkpoint`` request, built and parsed (pure).

tlog-witness, "add-checkpoint": the body is

    old <size>\\n                      the size of the checkpoint the witness last cosigned (0 if none)
    <base64 hash>\\n                   zero to 63 consistency proof lines, old size to the new size
    \\n                                an empty line
    <signed checkpoint note>           the new checkpoint with the log's signature(s)

"Each line MUST terminate in a newline character"; the size has no leading
zeros; "The proof MUST be empty if the old size is zero". The consistency proof
is RFC 9162 §2.1.4 / RFC 6962 §2.1.2 (docs/log-format.md §5.2).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from chain.errors import CheckpointError
from chain.merkle import HASH_SIZE

MAX_PROOF_LINES = 63
"""tlog-witness: "The client MUST NOT send more than 63 consistency proof lines"."""

_OLD = re.compile(r"old (0|[1-9][0-9]*)")
_MAX_SIZE = 2**64 - 1


@dataclass(frozen=True)
class AddCheckpoint:
    """One ``add-checkpoint`` request: the claimed old size, the proof from it, and the signed note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The request body for ``POST <prefix>/add-checkpoint``."""
    if not 0 <= old_size <= _MAX_SIZE:
        raise ValueError(f"old size must be in [0, 2^64), got {old_size}")
    if old_size == 0 and proof:
        raise ValueError("the proof must be empty when the old size is 0 (tlog-witness)")
    if len(proof) > MAX_PROOF_LINES:
        raise ValueError(f"at most {MAX_PROOF_LINES} proof lines, got {len(proof)}")
    if any(len(node) != HASH_SIZE for node in proof):
        raise ValueError(f"every proof hash must be {HASH_SIZE} bytes")
    lines = [f"old {old_size}", *(base64.b64encode(node).decode("ascii") for node in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """An ``add-checkpoint`` request from its body; ``CheckpointError`` if it breaks the format.

    The note is returned as text, unchecked: the witness checks its signature
    against the keys it trusts for the origin.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"add-checkpoint body is not UTF-8: {exc}") from exc
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise CheckpointError("add-checkpoint body has no empty line between the proof and the checkpoint")
    first, *proof_lines = head.split("\n")
    match = _OLD.fullmatch(first)
    if match is None or int(match.group(1)) > _MAX_SIZE:
        raise CheckpointError(
            f"add-checkpoint body must start with 'old <size>' (decimal, no leading zeros), got {first[:40]!r}"
        )
    if len(proof_lines) > MAX_PROOF_LINES:
        raise CheckpointError(
            f"add-checkpoint proof has {len(proof_lines)} lines; at most {MAX_PROOF_LINES} are allowed"
        )
    proof = []
    for number, line in enumerate(proof_lines, start=1):
        try:
            node = base64.b64decode(line, validate=True)
        except binascii.Error as exc:
            raise CheckpointError(f"proof line {number} is not base64: {line[:60]!r}") from exc
        if len(node) != HASH_SIZE:
            raise CheckpointError(f"proof line {number} has wrong size: expected {HASH_SIZE} bytes, got {len(node)}")
        proof.append(node)
    old_size = int(match.group(1))
    if old_size == 0 and proof:
        raise CheckpointError("add-checkpoint proof must be empty when the old size is 0")
    return AddCheckpoint(old_size, tuple(proof), note)
