"""`evidock verify`, outside trust: every witness cosignature and timestamp token kept beside a checkpoint.

Read from the object store (every version under the checkpoint prefix), never
from the catalog, and judged against config.toml's witnesses and TSAs:

* A cosignature object must be named by the key id of a configured witness
  (another one is noted and not counted), sit beside a good checkpoint, and each
  of its lines by that witness must verify over that checkpoint (C2SP
  tlog-cosignature) with a plausible time: not before the checkpoint object was
  stored, not in the future (five minutes' leeway for clocks of two offices).
* A timestamp token must be named by a configured TSA's fingerprint, sit beside
  a good checkpoint, stamp the SHA-256 of exactly that checkpoint's note, and be
  signed by that TSA's certificate chaining to its configured root. Each TSA's
  genTimes must follow the checkpoints' order: a token for a smaller checkpoint
  made after the token of a larger one means a checkpoint was stamped late (or
  the TSA's clock ran back), which a court should not have to explain.
* Which checkpoints lack the quorum of cosignatures (or any token) is reported:
  one before the newest witnessed checkpoint is covered by it (RFC 9162
  consistency, checked elsewhere), a note; one after it waits, a note while it
  is younger than ``log.max_uncosigned_seconds`` and a failure after.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from chain.cosignature import check_cosignature_time, verify_cosignature
from chain.errors import CheckpointError, EvidockError
from evidock.verify_report import Report
from storage.checkpoints import MAX_SIDE_BYTES, Side, parse_side_key, read_side
from storage.objects import ListedVersion, ObjectStore
from storage.outside_trust import Policy
from storage.timestamping import ImprintMismatch, TimestampError, verify_timestamp

SHOWN_SIZES = 20  # checkpoint sizes named in one failure or note; the rest are counted


@dataclass(frozen=True)
class GoodCheckpoint:
    """A checkpoint `verify` accepted: its note and when the object store received it."""

    note: str
    stored_at: datetime | None


def outside_trust(
    store: ObjectStore,
    listing: Sequence[ListedVersion],
    good: dict[int, GoodCheckpoint],
    policy: Policy,
    report: Report,
    *,
    now: datetime,
) -> None:
    """Check every object beside a checkpoint, then report the checkpoints lacking cosignatures or tokens."""
    witnessed: dict[int, set[str]] = defaultdict(set)  # size -> witnesses (vkey) whose cosignature verifies
    stamps: dict[str, dict[int, list[datetime]]] = defaultdict(lambda: defaultdict(list))  # TSA -> size -> genTimes
    for listed in listing:
        parsed = parse_side_key(listed.key)
        if parsed is None:
            continue
        subject = f"{listed.key} version {listed.version_id}"
        if listed.delete_marker:
            report.fail("checkpoint_delete_marker", subject, "a delete marker was put beside a checkpoint")
            continue
        size, side, name = parsed
        checkpoint = good.get(size)
        if checkpoint is None:
            report.fail(f"{side.value}_orphan", subject, f"there is no good checkpoint of size {size} beside it")
            continue
        if side is Side.COSIGNATURE:
            if _cosignature(store, listed, name, checkpoint, policy, report, now=now):
                witnessed[size].add(name)
        else:
            gen_time = _token(store, listed, name, checkpoint, policy=policy, report=report)
            if gen_time is not None:
                stamps[name][size].append(gen_time)
    for fingerprint, by_size in stamps.items():
        _order(fingerprint, by_size, report)
    if policy.witnesses:
        have = {size for size, names in witnessed.items() if len(names) >= policy.quorum}
        _lacking(Side.COSIGNATURE, good, have, policy, report, now=now)
    if policy.tsas:
        configured = {t.fingerprint for t in policy.tsas}
        have = {size for fingerprint, by_size in stamps.items() if fingerprint in configured for size in by_size}
        _lacking(Side.TIMESTAMP, good, have, policy, report, now=now)


def _read(store: ObjectStore, listed: ListedVersion, report: Report, check: str) -> bytes | None:
    subject = f"{listed.key} version {listed.version_id}"
    if listed.size > MAX_SIDE_BYTES:
        report.fail(check, subject, f"holds {listed.size} bytes; such an object is a few hundred or thousand")
        return None
    try:
        return read_side(store, listed.version)
    except EvidockError as exc:
        report.fail(check, subject, f"cannot be read: {exc}")
        return None


def _cosignature(  # noqa: PLR0917 - one stored object and what it is judged against
    store: ObjectStore,
    listed: ListedVersion,
    key_id_hex: str,
    checkpoint: GoodCheckpoint,
    policy: Policy,
    report: Report,
    *,
    now: datetime,
) -> bool:
    """Whether this object holds a verifying, plausible cosignature by a configured witness."""
    subject = f"{listed.key} version {listed.version_id}"
    witness = policy.witness(key_id_hex)
    if witness is None:
        report.note(
            "cosignature_unknown_witness",
            subject,
            f"a cosignature by key id {key_id_hex}, which is no configured witness's ([[log.witnesses]]): not counted",
        )
        return False
    data = _read(store, listed, report, "cosignature_malformed")
    if data is None:
        return False
    try:
        lines = [line for line in data.decode("utf-8").splitlines() if line]
    except UnicodeDecodeError:
        report.fail("cosignature_malformed", subject, "is not UTF-8 text, so not a cosignature line")
        return False
    if not lines:
        report.fail("cosignature_malformed", subject, "holds no cosignature line")
        return False
    report.count("cosignatures", len(lines))
    for line in lines:
        try:
            timestamp = verify_cosignature(checkpoint.note, line, witness.key)
            if checkpoint.stored_at is not None:
                check_cosignature_time(timestamp, signed_at=checkpoint.stored_at, checked_at=now)
        except CheckpointError as exc:
            check = "cosignature_time" if "cosignature time" in str(exc) else "cosignature_invalid"
            report.fail(check, subject, f"{witness.describe()}: {exc}")
            return False
    return True


def _token(
    store: ObjectStore,
    listed: ListedVersion,
    fingerprint: str,
    checkpoint: GoodCheckpoint,
    *,
    policy: Policy,
    report: Report,
) -> datetime | None:
    """The genTime of a token that verifies over this checkpoint by a configured TSA (None: it does not)."""
    subject = f"{listed.key} version {listed.version_id}"
    tsa = policy.tsa(fingerprint)
    if tsa is None:
        report.note(
            "timestamp_unknown_tsa",
            subject,
            f"a token by a TSA certificate {fingerprint}, which is no configured TSA's ([[log.timestamping]]): "
            "not checked",
        )
        return None
    data = _read(store, listed, report, "timestamp_invalid")
    if data is None:
        return None
    report.count("timestamp_tokens")
    try:
        facts = verify_timestamp(data, checkpoint.note, tsa.chain)
    except ImprintMismatch as exc:
        report.fail("timestamp_imprint", subject, f"{tsa.describe()}: {exc}: it does not stamp this checkpoint")
        return None
    except TimestampError as exc:
        report.fail("timestamp_invalid", subject, f"{tsa.describe()}: {exc}")
        return None
    return facts.gen_time


def _order(fingerprint: str, by_size: dict[int, list[datetime]], report: Report) -> None:
    """A TSA's genTimes must not go back as checkpoints grow: no token of a smaller checkpoint after a larger's."""
    latest: tuple[int, datetime] | None = None  # the latest genTime of any smaller checkpoint, and whose
    for size in sorted(by_size):
        times = by_size[size]
        if latest is not None and min(times) < latest[1]:
            report.fail(
                "timestamp_order",
                f"checkpoints {latest[0]} and {size}",
                f"TSA {fingerprint} stamped checkpoint {latest[0]} at {latest[1].isoformat()}, after checkpoint "
                f"{size} at {min(times).isoformat()}: a token was made late, or the TSA's clock ran back",
            )
        if latest is None or max(times) > latest[1]:
            latest = (size, max(times))


def _lacking(
    side: Side,
    good: dict[int, GoodCheckpoint],
    have: set[int],
    policy: Policy,
    report: Report,
    *,
    now: datetime,
) -> None:
    what = (
        f"the quorum of {policy.quorum} witness cosignature(s) (log.witness_quorum)"
        if side is Side.COSIGNATURE
        else "a timestamp token of a configured TSA"
    )
    check = "checkpoint_unwitnessed" if side is Side.COSIGNATURE else "checkpoint_untimestamped"
    newest = max(have, default=None)
    missing = sorted(size for size in good if size not in have)
    covered = [size for size in missing if newest is not None and size < newest]
    if covered:
        report.note(
            f"{check}_covered",
            _sizes(covered),
            f"{len(covered)} checkpoint(s) lack {what}; checkpoint {newest}, which has it, extends each of them",
        )
    waiting = [size for size in missing if newest is None or size > newest]
    if not waiting:
        return
    since = good[waiting[0]].stored_at
    age = (now - since).total_seconds() if since is not None else None
    limit = policy.max_wait.total_seconds()
    message = (
        f"{len(waiting)} checkpoint(s) lack {what}; the oldest (checkpoint {waiting[0]}) was stored "
        + (f"{age:.0f} s ago" if age is not None else "at an unknown time")
        + f" (limit log.max_uncosigned_seconds = {limit:g} s). Until then they rest on the station's own key"
    )
    if age is None or age > limit:
        report.fail(check, _sizes(waiting), message)
    else:
        report.note(check, _sizes(waiting), message)


def _sizes(sizes: list[int]) -> str:
    shown = ", ".join(str(s) for s in sizes[:SHOWN_SIZES])
    more = f" and {len(sizes) - SHOWN_SIZES} more" if len(sizes) > SHOWN_SIZES else ""
    return f"checkpoints {shown}{more}"
