"""How far outside trust lags: what ``/metrics``, the web dashboard and the service's alarm read.

Per kind (witness cosignatures when witnesses are configured, timestamp tokens
when TSAs are): the newest checkpoint that has it, the oldest one still waiting
and for how long, and whether that is past ``log.max_uncosigned_seconds``. Read
from the catalog, which records what is kept beside each checkpoint; an idle
log with every checkpoint witnessed waits for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evidock.app import App, trust_policy
from storage.checkpoints import Side
from storage.outside_trust import Waiting, waiting


@dataclass(frozen=True)
class TrustStatus:
    side: Side
    waiting: Waiting | None  # None: no checkpoint waits
    seconds: float  # how long the oldest waiting checkpoint has waited (0: none)
    overdue: bool  # longer than log.max_uncosigned_seconds

    @property
    def kind(self) -> str:
        return self.side.value


def trust_status(evi: App, *, now: datetime) -> list[TrustStatus]:
    """One status per configured kind of outside trust (none when nothing is configured)."""
    policy = trust_policy(evi.settings)
    sides = [side for side, on in ((Side.COSIGNATURE, policy.witnesses), (Side.TIMESTAMP, policy.tsas)) if on]
    if not sides:
        return []
    with evi.catalog.read() as conn:
        found = {w.side: w for w in waiting(conn, policy)}
    limit = policy.max_wait.total_seconds()
    statuses = []
    for side in sides:
        oldest = found.get(side)
        seconds = oldest.seconds(now) if oldest is not None else 0.0
        statuses.append(TrustStatus(side, oldest, seconds, seconds > limit))
    return statuses
