"""The checks of C2SP ``tlog-witness`` "add-checkpoint", as pure functions (values in, verdict out).

The spec's order, and the status each failure gets:

1. body malformed                                                  400 Bad Request
2. the checkpoint's origin is not a configured log                 404 Not Found
3. no signature by a key trusted for that origin verifies          403 Forbidden
3b. the old size is above the checkpoint size                      400 Bad Request
4. the old size is not the size of the latest cosigned checkpoint  409 Conflict, body "<size>\\n",
   (0 if none)                                                         Content-Type text/x.tlog.size
5. the consistency proof from (old size, the witness's root) to
   the new checkpoint does not verify                              422 Unprocessable Entity
6. old size = new size but the roots differ                        409 Conflict
7. otherwise: persist the new checkpoint, then cosign              200

Evidence ("the witness MAY log the request even if the consistency proof
doesn't verify ... as it might be proof of log misbehavior"): whenever a
validly signed checkpoint of a known log contradicts what the witness has
cosigned, the verdict names the kind, and ``service`` records both notes:

* ``fork``      same size as the latest cosigned checkpoint, another root;
* ``rollback``  a smaller size than the latest cosigned checkpoint;
* ``inconsistent``  the consistency proof from the witness's checkpoint fails
  (a fork, or a log sending a wrong proof: both notes let a reader tell).

A stale old size with a checkpoint that is not smaller (a log that lost an
answer) is a plain 409 and not evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chain.checkpoint import Checkpoint, open_note, parse_checkpoint
from chain.errors import CheckpointError, ProofError
from chain.merkle import verify_consistency
from chain.witness_request import AddCheckpoint, parse_add_checkpoint
from witness.config import WitnessConfig

MAX_STORED_SIZE = 2**63 - 1
"""SQLite integers are signed 64-bit; a larger tree size is refused (no real log comes near)."""


class Evidence(StrEnum):
    """Why a refused request is kept as evidence."""

    FORK = "fork"
    ROLLBACK = "rollback"
    INCONSISTENT = "inconsistent"


@dataclass(frozen=True)
class Seen:
    """The latest checkpoint the witness cosigned for a log, with the note it was submitted in."""

    size: int
    root: bytes
    note: str


class Refusal(Exception):
    """A refused request: the HTTP status, a one-line reason, and for a size conflict the witness's size."""

    def __init__(
        self, status: int, reason: str, *, known_size: int | None = None, evidence: Evidence | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.known_size = known_size
        self.evidence = evidence


@dataclass(frozen=True)
class Authentic:
    """A well-formed request whose checkpoint is signed by a key the witness trusts for its origin."""

    request: AddCheckpoint
    checkpoint: Checkpoint


def authenticate(body: bytes, config: WitnessConfig) -> Authentic:
    """Steps 1-3 (no state needed); raises ``Refusal`` with 400, 404 or 403."""
    try:
        request = parse_add_checkpoint(body)
        checkpoint_text = request.note.partition("\n\n")[0] + "\n"
        claimed = parse_checkpoint(checkpoint_text)
    except CheckpointError as exc:
        raise Refusal(400, f"malformed add-checkpoint request: {exc}") from exc
    policy = config.log(claimed.origin)
    if policy is None:
        raise Refusal(404, f"unknown log origin {claimed.origin!r}")
    try:
        checkpoint = parse_checkpoint(open_note(request.note, policy.vkey))
    except CheckpointError as exc:
        raise Refusal(403, f"no trusted signature verifies for {claimed.origin!r}: {exc}") from exc
    if checkpoint.size > MAX_STORED_SIZE:
        raise Refusal(400, f"checkpoint size {checkpoint.size} is above the largest this witness stores (2^63 - 1)")
    return Authentic(request, checkpoint)


def judge(authentic: Authentic, seen: Seen | None) -> None:
    """Steps 3b-6 against the latest cosigned checkpoint; returns if the checkpoint may be cosigned.

    Must run in the same transaction as the write of the new checkpoint (the
    race the spec describes: a check against a stale size followed by a write
    would roll the witness back).
    """
    request, checkpoint = authentic.request, authentic.checkpoint
    known_size = seen.size if seen else 0
    evidence: Evidence | None = None
    if seen is not None and checkpoint.size < seen.size:
        evidence = Evidence.ROLLBACK
    elif seen is not None and checkpoint.size == seen.size and checkpoint.root != seen.root:
        evidence = Evidence.FORK
    if request.old_size > checkpoint.size:
        raise Refusal(
            400, f"old size {request.old_size} is above the checkpoint size {checkpoint.size}", evidence=evidence
        )
    if request.old_size != known_size:
        raise Refusal(
            409,
            f"old size {request.old_size} is not the size of the latest checkpoint cosigned for "
            f"{checkpoint.origin!r}, {known_size}",
            known_size=known_size,
            evidence=evidence,
        )
    if seen is None:
        return
    if checkpoint.size == seen.size:
        if evidence is Evidence.FORK:
            raise Refusal(
                409,
                f"checkpoint of size {checkpoint.size} has another root than the one cosigned at that size",
                evidence=evidence,
            )
        return
    if seen.size == 0:
        return  # every tree extends the empty one; RFC 9162 has no proof from size 0
    try:
        verify_consistency(seen.size, checkpoint.size, seen.root, checkpoint.root, request.proof)
    except ProofError as exc:
        raise Refusal(
            422, f"consistency proof from size {seen.size} does not verify: {exc}", evidence=Evidence.INCONSISTENT
        ) from exc
