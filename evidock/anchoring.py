"""No unanchored tail: a command that appended to the log signs a checkpoint before the process exits.

Until a signed checkpoint covers them, the newest entries live only in the
database, where whoever can write it could delete them without a trace. The
service signs within ``log.checkpoint_every_seconds`` of an append
(evidock.runner); every other process that appends (`evidock ingest`, the
person-facing commands, which log ACCESS and QUERY entries) signs once, at the
end of the command, in ``cli.main``.

What an auditor needs when that signing fails is to be told, not to lose the
command's result: the command's output stands (its entries are committed),
one ``error:`` line on stderr names the entries left unanchored and why, and
the exit code is 1, so a script or a cron job notices too. A station that
holds no signing key (a bureau where one central node signs) gets a
``warning:`` line instead and keeps its exit code: the signing node anchors
those entries, and `evidock verify` fails if it does not within
``log.max_unanchored_seconds``.

Where witnesses or a TSA are configured, the new checkpoint is also submitted
to them once (``storage.outside_trust``); one that does not answer costs a
``warning:`` line, never the command's result or exit code: the service
retries, and alerts when a checkpoint waits too long.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from chain.errors import EvidockError
from evidock.app import App, checkpointer_for, open_app, outside_trust_for, take_appended
from evidock.settings import SIGNING_KEY_ENV, Settings
from storage import journal
from storage.catalog import Catalog
from storage.checkpoints import StoredCheckpoint


@dataclass(frozen=True)
class Unanchored:
    """Entries a process appended and could not sign; ``error`` False when this machine holds no key."""

    message: str
    error: bool


def anchor_appended() -> list[Unanchored]:
    """Sign a checkpoint of every log this process appended to since the last call; what could not be signed."""
    return [problem for settings in take_appended() if (problem := _anchor(settings)) is not None]


def _anchor(settings: Settings) -> Unanchored | None:
    try:
        with open_app(settings) as evi:  # the bucket is made (with Object Lock) if no command made it yet
            if not _holds_key(settings):
                reason = f"this machine holds no signing key (log.key_file = {str(settings.log.key_file)!r})"
                return Unanchored(_tail(evi.catalog, reason), error=False)
            try:
                made = checkpointer_for(evi).make(evi.now())
            except EvidockError as exc:
                return Unanchored(_tail(evi.catalog, str(exc)), error=True)
            return _outside_trust(evi, made)
    except EvidockError as exc:
        return Unanchored(f"the log's new entries are not anchored by a signed checkpoint: {exc}", error=True)


def _outside_trust(evi: App, made: StoredCheckpoint) -> Unanchored | None:
    """Submit the checkpoint to the witnesses and TSAs once; what did not answer is a warning."""
    trust = outside_trust_for(evi)
    if not trust.policy.active:
        return None
    try:
        gathering = trust.gather(made, now=evi.now(), pause=False)
    except EvidockError as exc:
        return Unanchored(f"checkpoint {made.checkpoint.size} is signed; asking its witnesses failed: {exc}", False)
    finally:
        trust.close()
    if not gathering.failures:
        return None
    said = "; ".join(f"{who}: {why}" for who, why in gathering.failures.items())
    return Unanchored(
        f"checkpoint {made.checkpoint.size} is signed and anchored, but {said}. The service retries "
        "(`evidock log checkpoint` shows the cosignatures it has)",
        error=False,
    )


def _holds_key(settings: Settings) -> bool:
    return bool(os.environ.get(SIGNING_KEY_ENV)) or settings.log.key_file.exists()


def _tail(catalog: Catalog, reason: str) -> str:
    with catalog.read() as conn:
        size = journal.size(conn)
    return (
        f"the log's newest entries (up to index {size - 1}) are not anchored by a signed checkpoint: {reason}. "
        "The command's own result stands; sign them with `evidock log checkpoint --new` "
        "(`evidock verify` fails once they wait longer than log.max_unanchored_seconds)"
    )
