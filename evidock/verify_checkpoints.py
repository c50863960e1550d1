"""`evidock verify`, the anchors: every object where checkpoints live, and the log's unanchored tail.

Every version under the checkpoint prefix is read, delete markers included
(a plain listing hides what a marker covers). A version that is not this
log's checkpoint signed by its key is named with its key, version and the key
ids that did sign it; it is never used. Entries after the largest good
checkpoint are the unanchored tail: until a checkpoint covers them, whoever
can write the database could delete them without a trace, so the tail is
reported with its age and fails once older than ``log.max_unanchored_seconds``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Connection, select

from chain.checkpoint import Checkpoint, parse_vkey
from chain.entries import decode, parse_time
from chain.errors import ProofError
from evidock.app import App
from evidock.verify_outside_trust import GoodCheckpoint
from evidock.verify_report import Report
from storage.checkpoints import PREFIX, RejectedCheckpoint, Rejection, StoredCheckpoint, examine, parse_side_key
from storage.objects import ListedVersion
from storage.schema import log_entries

REJECTION_CHECKS = {
    Rejection.FOREIGN_KEY: "checkpoint_foreign_key",
    Rejection.BAD_SIGNATURE: "checkpoint_signature",
    Rejection.MALFORMED: "checkpoint_malformed",
    Rejection.MISFILED: "checkpoint_misfiled",
}


def stored_checkpoints(
    evi: App,
    vkey: str,
    report: Report,
    *,
    listing: list[ListedVersion] | None = None,
    good: dict[int, GoodCheckpoint] | None = None,
) -> list[tuple[str, Checkpoint]]:
    """Every good checkpoint stored (as key and checkpoint, smallest first); every other object there named.

    ``listing``: the versions under the prefix, if already listed. ``good`` is
    filled with each good checkpoint's note and upload time (what outside trust
    is checked against). Objects beside a checkpoint are left to ``verify_outside_trust``.
    """
    verifier = parse_vkey(vkey)
    by_key: dict[str, list[ListedVersion]] = defaultdict(list)
    for listed in evi.store.listing(PREFIX) if listing is None else listing:
        if parse_side_key(listed.key) is None:
            by_key[listed.key].append(listed)
    found: list[tuple[str, Checkpoint]] = []
    for key, listed_versions in sorted(by_key.items()):
        report.count("checkpoints")
        versions = [v for v in listed_versions if not v.delete_marker]
        for marker in (v for v in listed_versions if v.delete_marker):
            report.fail(
                "checkpoint_delete_marker",
                f"{key} version {marker.version_id}",
                "a delete marker was put on this checkpoint's key: plain listings no longer show it",
            )
        if len(versions) != 1:
            report.fail(
                "checkpoint_rewritten", key, f"expected 1 version of a locked checkpoint, found {len(versions)}"
            )
        roots = set()
        for listed in versions:
            examined = examine(evi.store, listed.version, verifier, evi.settings.log.origin)
            checkpoint = examined.misfiled if isinstance(examined, RejectedCheckpoint) else examined.checkpoint
            if isinstance(examined, RejectedCheckpoint):
                report.fail(REJECTION_CHECKS[examined.why], f"{key} version {listed.version_id}", examined.reason)
            if checkpoint is None:
                continue
            if good is not None and isinstance(examined, StoredCheckpoint):
                good.setdefault(checkpoint.size, GoodCheckpoint(examined.note, listed.modified))
            roots.add(checkpoint.root)
            found.append((key, checkpoint))
        if len(roots) > 1:
            report.fail("log_forked", key, f"{len(roots)} different roots signed for the same size: the log forked")
    return sorted(found, key=lambda kc: kc[1].size)


def unanchored_tail(
    evi: App, conn: Connection, anchored: list[tuple[str, Checkpoint]], size: int, report: Report, *, now: datetime
) -> None:
    """Entries no good checkpoint covers: a note with their age, a failure when older than the limit."""
    covered = max((checkpoint.size for _, checkpoint in anchored), default=0)
    if size <= covered:
        return
    report.count("unanchored_entries", size - covered)
    limit = evi.settings.log.max_unanchored_seconds
    span = f"entries {covered}..{size - 1}" if size - covered > 1 else f"entry {covered}"
    data = conn.execute(select(log_entries.c.data).where(log_entries.c.idx == covered)).scalar()
    try:
        since = parse_time(decode(bytes(data)).time) if data is not None else None
    except ProofError:
        since = None
    if since is None:
        report.fail("log_unanchored", span, "not covered by a signed checkpoint, and the first one cannot be read")
        return
    age = (now - since).total_seconds()
    message = (
        f"{size - covered} entr{'y is' if size - covered == 1 else 'ies are'} not covered by a signed checkpoint; "
        f"the oldest (entry {covered}, {since.isoformat()}) is {age:.0f} s old (limit log.max_unanchored_seconds = "
        f"{limit:g} s). Until signed, they can be deleted without a trace: `evidock log checkpoint --new` signs them"
    )
    if age > limit:
        report.fail("log_unanchored", span, message)
    else:
        report.note("log_unanchored", span, message)
