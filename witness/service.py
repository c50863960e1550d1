"""One ``add-checkpoint`` request, start to answer: authenticate, judge and persist atomically, cosign.

The order matters for what a witness promises (tlog-witness "add-checkpoint"):
the new checkpoint is committed durably *before* the cosignature leaves, and the
check of the old size and that commit are one transaction. A refused request
that is evidence of misbehaviour is committed too, before the refusal is sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from chain.cosignature import cosign
from witness.config import WitnessConfig
from witness.judge import Refusal, authenticate, judge
from witness.state import WitnessState

log = logging.getLogger(__name__)

SIZE_CONTENT_TYPE = "text/x.tlog.size"
"""tlog-witness: the 409 answer carrying the witness's size has this Content-Type."""

TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Answer:
    """What the HTTP layer sends back."""

    status: int
    content_type: str
    body: bytes


class Witness:
    """The witness behind the HTTP app; thread-safe (the state serialises the transactions)."""

    def __init__(self, config: WitnessConfig, state: WitnessState, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.state = state
        self._clock = clock

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            authentic = authenticate(body, self.config)
        except Refusal as unauthentic:
            return _refused(unauthentic)
        checkpoint, request = authentic.checkpoint, authentic.request
        refusal: Refusal | None = None
        with self.state.transaction() as tx:
            seen = tx.seen(checkpoint.origin)
            try:
                judge(authentic, seen)
            except Refusal as caught:
                refusal = caught  # answered after the commit, below
                if caught.evidence is not None:
                    tx.record_refused(
                        origin=checkpoint.origin,
                        kind=caught.evidence.value,
                        status=caught.status,
                        reason=caught.reason,
                        seen_note=seen.note if seen else None,
                        submitted_note=request.note,
                        old_size=request.old_size,
                        proof=request.proof,
                        received_at=int(self._clock()),
                    )
            else:
                timestamp = int(self._clock())
                line = cosign(request.note, timestamp, self.config.secret)
                tx.record_cosigned(
                    checkpoint.origin,
                    size=checkpoint.size,
                    root=checkpoint.root,
                    note=request.note,
                    timestamp=timestamp,
                    cosignature=line,
                )
        if refusal is not None:
            if refusal.evidence is not None:
                log.warning(
                    "refused %s checkpoint of %s at size %d: %s",
                    refusal.evidence.value,
                    checkpoint.origin,
                    checkpoint.size,
                    refusal.reason,
                )
            return _refused(refusal)
        return Answer(200, TEXT, line.encode("utf-8"))


def _refused(refusal: Refusal) -> Answer:
    if refusal.known_size is not None:
        return Answer(refusal.status, SIZE_CONTENT_TYPE, f"{refusal.known_size}\n".encode("ascii"))
    return Answer(refusal.status, TEXT, (refusal.reason + "\n").encode("utf-8"))
