"""Outside trust for the log's checkpoints: witness cosignatures and RFC 3161 tokens, kept beside each one.

One key held by the station is never the whole proof (docs/witness.md). Each
new checkpoint goes to every configured witness (C2SP ``tlog-witness``, with
the consistency proof from the size that witness last cosigned) and to every
configured time-stamping authority (RFC 3161, over the SHA-256 of the signed
note). Each answer is verified before it is kept; then it is stored beside the
checkpoint (``storage.checkpoints.side_key``) under the same COMPLIANCE lock —
the checkpoint's own retain-until, read back from the object store — and
recorded in the catalog (``checkpoint_cosignatures``, ``checkpoint_timestamps``).

Nothing here may hold up the log: the checkpoint is signed and anchored first
(``Checkpointer.make``); gathering comes after, each witness and TSA on its own
thread with a timeout, and a failure is reported and retried later (after a
pause that doubles, up to ``RETRY_MAX_SECONDS``), never raised to ingest. A
witness that refuses because this log contradicts what it cosigned (a fork,
a consistency proof that fails, a size above ours) raises the log integrity
alarm: that is the witness doing its job.

Only the newest checkpoint is submitted: a later cosigned checkpoint covers
every earlier one by consistency (RFC 9162), and stamping only forward keeps
token times in checkpoint order, which `evidock verify` checks.

A crash between storing an answer and recording it leaves a stored object the
catalog does not know; the next round asks again and stores a second version
beside it. Both are valid answers: `evidock verify` checks every version.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

from cryptography import x509
from sqlalchemy import Connection, Table, func, insert, select

from chain.cosignature import CosignerKey, check_cosignature_time, verify_cosignature, with_cosignatures
from chain.errors import CheckpointError, EvidockError
from chain.merkle import consistency_proof
from storage.catalog import Catalog
from storage.checkpoints import Side, StoredCheckpoint, latest_recorded, side_key
from storage.errors import StorageError
from storage.journal import SqlNodes
from storage.objects import ObjectStore, StoredVersion
from storage.schema import checkpoint_cosignatures, checkpoint_timestamps, checkpoints
from storage.timestamping import REPLY_TYPE, TimestampError, chain_fingerprint, request_timestamp
from storage.witness_client import Conflict, WitnessClient, WitnessError

log = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 5.0  # after a witness or TSA failed, the first pause before it is asked again ...
RETRY_MAX_SECONDS = 300.0  # ... doubling up to this
ALARM_STATUSES = frozenset({409, 422})  # a fork (same size, another root), or our proof from its size fails

_T = TypeVar("_T")


@dataclass(frozen=True)
class Witness:
    """A configured witness: who runs it (as shown to people), where it answers, its key."""

    name: str
    url: str
    key: CosignerKey

    @property
    def vkey(self) -> str:
        return str(self.key)

    def describe(self) -> str:
        return f"witness {self.name} ({self.key.name})"


@dataclass(frozen=True)
class Tsa:
    """A configured RFC 3161 time-stamping authority and the certificate chain its tokens must chain to."""

    name: str
    url: str
    chain: tuple[x509.Certificate, ...]
    chain_pem: bytes

    @property
    def fingerprint(self) -> str:
        return chain_fingerprint(self.chain)

    def describe(self) -> str:
        return f"TSA {self.name}"


@dataclass(frozen=True)
class Policy:
    """``[[log.witnesses]]``, ``log.witness_quorum`` (K of N) and ``[[log.timestamping]]``."""

    witnesses: tuple[Witness, ...] = ()
    quorum: int = 0
    tsas: tuple[Tsa, ...] = ()
    timeout: float = 5.0  # seconds per request
    max_wait: timedelta = timedelta(hours=1)  # a checkpoint waiting longer for its quorum or token is overdue

    @property
    def active(self) -> bool:
        return bool(self.witnesses or self.tsas)

    def witness(self, key_id_hex: str) -> Witness | None:
        return next((w for w in self.witnesses if w.key.key_id.hex() == key_id_hex), None)

    def tsa(self, fingerprint: str) -> Tsa | None:
        return next((t for t in self.tsas if t.fingerprint == fingerprint), None)


@dataclass(frozen=True)
class Cosigned:
    witness: Witness
    line: str  # without the final newline
    cosigned_at: datetime  # UTC, the time in the cosignature


@dataclass(frozen=True)
class Stamped:
    tsa: Tsa
    reply: bytes  # TimeStampResp, DER
    gen_time: datetime  # UTC
    serial: int


@dataclass
class Gathering:
    """The outside trust of one checkpoint after a round: all that is recorded, and this round's failures."""

    size: int
    quorum: int
    cosigned: list[Cosigned] = field(default_factory=list)
    stamped: list[Stamped] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # "witness NAME (key)" / "TSA NAME" -> why

    @property
    def has_quorum(self) -> bool:
        return len(self.cosigned) >= self.quorum

    def cosigned_note(self, note: str) -> str:
        """The signed note with the recorded cosignature lines appended (C2SP: a cosigned checkpoint)."""
        return with_cosignatures(note, [c.line for c in self.cosigned])


@dataclass(frozen=True)
class Waiting:
    """The oldest checkpoint still waiting for a quorum of cosignatures (or for a token), and since when."""

    side: Side
    newest_done: int | None  # the newest checkpoint that has it (None: none yet)
    size: int  # the oldest checkpoint after that one
    since: datetime  # when that checkpoint was made (UTC)

    def seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.since).total_seconds())

    def describe(self, now: datetime) -> str:
        what = "a quorum of witness cosignatures" if self.side is Side.COSIGNATURE else "a trusted timestamp token"
        done = f"the newest with it is {self.newest_done}" if self.newest_done is not None else "none has it yet"
        return f"checkpoint {self.size} has waited {self.seconds(now):.0f} s for {what} ({done})"


def recorded(conn: Connection, policy: Policy, size: int) -> tuple[list[Cosigned], list[Stamped]]:
    """What the catalog records for checkpoint ``size`` by the configured witnesses and TSAs."""
    by_vkey = {w.vkey: w for w in policy.witnesses}
    by_fingerprint = {t.fingerprint: t for t in policy.tsas}
    cosigned = [
        Cosigned(by_vkey[row.witness], row.line, row.cosigned_at)
        for row in conn.execute(select(checkpoint_cosignatures).where(checkpoint_cosignatures.c.size == size))
        if row.witness in by_vkey
    ]
    stamped = [
        Stamped(by_fingerprint[row.tsa], bytes(row.reply), row.gen_time, int(row.serial))
        for row in conn.execute(select(checkpoint_timestamps).where(checkpoint_timestamps.c.size == size))
        if row.tsa in by_fingerprint
    ]
    order = {w.vkey: n for n, w in enumerate(policy.witnesses)}
    cosigned.sort(key=lambda c: order[c.witness.vkey])
    return cosigned, stamped


def waiting(conn: Connection, policy: Policy) -> list[Waiting]:
    """For cosignatures (when witnesses are configured) and tokens (when TSAs are), the oldest checkpoint waiting."""
    found = []
    if policy.witnesses:
        done = conn.execute(
            select(checkpoint_cosignatures.c.size)
            .where(checkpoint_cosignatures.c.witness.in_([w.vkey for w in policy.witnesses]))
            .group_by(checkpoint_cosignatures.c.size)
            .having(func.count() >= policy.quorum)
            .order_by(checkpoint_cosignatures.c.size.desc())
            .limit(1)
        ).scalar()
        found.append((Side.COSIGNATURE, done))
    if policy.tsas:
        done = conn.execute(
            select(func.max(checkpoint_timestamps.c.size)).where(
                checkpoint_timestamps.c.tsa.in_([t.fingerprint for t in policy.tsas])
            )
        ).scalar()
        found.append((Side.TIMESTAMP, done))
    result = []
    for side, newest in found:
        row = conn.execute(
            select(checkpoints.c.size, checkpoints.c.created_at)
            .where(checkpoints.c.size > (newest if newest is not None else -1))
            .order_by(checkpoints.c.size)
            .limit(1)
        ).first()
        if row is not None:
            result.append(Waiting(side, None if newest is None else int(newest), int(row.size), row.created_at))
    return result


@dataclass(frozen=True)
class _Kept:
    """An answer stored and locked beside its checkpoint, and its catalog row (recorded with the round's others)."""

    answer: Cosigned | Stamped
    table: Table
    row: dict[str, object]
    version: StoredVersion


class OutsideTrust:
    """Asks the configured witnesses and TSAs about checkpoints and keeps their answers (module docstring)."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        catalog: Catalog,
        policy: Policy,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.policy = policy
        self._monotonic = monotonic
        self._clients = {w.vkey: WitnessClient(w.url, timeout=policy.timeout) for w in policy.witnesses}
        self._pauses: dict[str, tuple[int, float]] = {}  # target -> (failures in a row, monotonic time to retry)
        self._lock = threading.Lock()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def recorded(self, size: int) -> Gathering:
        """What is recorded for checkpoint ``size``, without asking anyone."""
        with self.catalog.read() as conn:
            cosigned, stamped = recorded(conn, self.policy, size)
        return Gathering(size, self.policy.quorum, cosigned, stamped)

    def waiting(self) -> list[Waiting]:
        with self.catalog.read() as conn:
            return waiting(conn, self.policy)

    def gather(self, stored: StoredCheckpoint, *, now: datetime, pause: bool = True) -> Gathering:
        """Ask each configured witness and TSA that has not answered for ``stored`` yet; keep what they say.

        With ``pause`` (the service), a witness or TSA that failed recently is
        left alone until its pause is over. Failures are returned, not raised.
        The checkpoint's lock is read while the witnesses and TSAs are asked.
        """
        gathering = self.recorded(stored.checkpoint.size)
        have = {c.witness.vkey for c in gathering.cosigned} | {s.tsa.fingerprint for s in gathering.stamped}
        jobs: list[tuple[str, str, Callable[[Future[datetime]], _Kept]]] = []
        for witness in self.policy.witnesses:
            if witness.vkey not in have and self._due(witness.vkey, pause):
                jobs.append((witness.describe(), witness.vkey, partial(self._cosign, witness, stored, now=now)))
        for tsa in self.policy.tsas:
            if tsa.fingerprint not in have and self._due(tsa.fingerprint, pause):
                jobs.append((tsa.describe(), tsa.fingerprint, partial(self._stamp, tsa, stored)))
        if not jobs:
            return gathering
        with ThreadPoolExecutor(max_workers=len(jobs) + 1, thread_name_prefix="evidock-outside-trust") as pool:
            retain_until = pool.submit(self._retain_until, stored)
            results = _run_all([partial(job, retain_until) for _, _, job in jobs], pool)
        kept = [result for result in results if isinstance(result, _Kept)]
        self._record(kept, now)
        for (label, target, _), result in zip(jobs, results, strict=True):
            if isinstance(result, _Kept):
                self._succeeded(target)
                if isinstance(result.answer, Cosigned):
                    gathering.cosigned.append(result.answer)
                else:
                    gathering.stamped.append(result.answer)
            else:
                gathering.failures[label] = str(result)
                self._failed(target)
        order = {w.vkey: n for n, w in enumerate(self.policy.witnesses)}
        gathering.cosigned.sort(key=lambda c: order[c.witness.vkey])
        for label, reason in gathering.failures.items():
            log.warning("checkpoint %d: %s did not answer, retried later: %s", gathering.size, label, reason)
        return gathering

    def answering(self, *, now: datetime) -> dict[str, str]:
        """Which witnesses answer now; returns those that do not, with why (empty: every one answers).

        Each is sent the newest checkpoint, with the proof from the size it last
        cosigned (a witness cosigns the same checkpoint again, too): an ordinary
        request. The answers are checked and dropped. For an export, before it
        writes anything.
        """
        stored = latest_recorded(self.catalog)
        if stored is None:
            return {}  # a log with no checkpoint yet: nothing to show a witness
        calls = [(w.describe(), partial(self._ask_witness, w, stored, now)) for w in self.policy.witnesses]
        with ThreadPoolExecutor(max_workers=max(1, len(calls)), thread_name_prefix="evidock-outside-trust") as pool:
            results = _run_all([call for _, call in calls], pool)
        return {
            label: str(result)
            for (label, _), result in zip(calls, results, strict=True)
            if isinstance(result, EvidockError)
        }

    # -- one witness -------------------------------------------------------------------------

    def _cosign(
        self, witness: Witness, stored: StoredCheckpoint, retain_until: Future[datetime], *, now: datetime
    ) -> _Kept:
        size = stored.checkpoint.size
        line, timestamp = self._ask_witness(witness, stored, now)
        key = side_key(size, Side.COSIGNATURE, witness.key.key_id.hex())
        version = self._keep(key, (line + "\n").encode("utf-8"), retain_until.result(), "text/plain; charset=utf-8")
        cosigned = Cosigned(witness, line, datetime.fromtimestamp(timestamp, UTC))
        row = {"size": size, "witness": witness.vkey, "line": line, "cosigned_at": cosigned.cosigned_at}
        return _Kept(cosigned, checkpoint_cosignatures, row, version)

    def _ask_witness(self, witness: Witness, stored: StoredCheckpoint, now: datetime) -> tuple[str, int]:
        size = stored.checkpoint.size
        old = self._last_cosigned(witness)
        client = self._clients[witness.vkey]
        for _ in range(2):  # a 409 with the witness's size is answered once with a proof from that size
            if old > size:
                raise _alarm(
                    f"{witness.describe()} has cosigned size {old} of this log, more than checkpoint {size}: "
                    "the log was rolled back, or another log signs with this origin and key"
                )
            try:
                answer = client.add_checkpoint(old, self._proof(old, size), stored.note)
            except WitnessError as exc:
                if exc.status in ALARM_STATUSES:
                    raise _alarm(f"{witness.describe()} refuses checkpoint {size}: {exc}") from exc
                raise
            if isinstance(answer, Conflict):
                old = answer.size
                continue
            for line in answer:
                try:
                    timestamp = verify_cosignature(stored.note, line, witness.key)
                except CheckpointError:
                    continue  # another key's line: ignored (tlog-witness); none verifying is an error below
                check_cosignature_time(timestamp, signed_at=now, checked_at=now)
                return line, timestamp
            raise WitnessError(f"{witness.describe()} answered no cosignature that verifies by its configured key")
        raise WitnessError(f"{witness.describe()} answered 409 twice; its size is now {old}")

    def _last_cosigned(self, witness: Witness) -> int:
        with self.catalog.read() as conn:
            found = conn.execute(
                select(func.max(checkpoint_cosignatures.c.size)).where(
                    checkpoint_cosignatures.c.witness == witness.vkey
                )
            ).scalar()
        return 0 if found is None else int(found)

    def _proof(self, old: int, size: int) -> list[bytes]:
        if old in (0, size):
            return []
        with self.catalog.read() as conn:
            return consistency_proof(old, size, SqlNodes(conn))

    # -- one TSA -----------------------------------------------------------------------------

    def _stamp(self, tsa: Tsa, stored: StoredCheckpoint, retain_until: Future[datetime]) -> _Kept:
        size = stored.checkpoint.size
        reply, facts = request_timestamp(tsa.url, stored.note, tsa.chain, timeout=self.policy.timeout)
        version = self._keep(side_key(size, Side.TIMESTAMP, tsa.fingerprint), reply, retain_until.result(), REPLY_TYPE)
        row = {
            "size": size,
            "tsa": tsa.fingerprint,
            "gen_time": facts.gen_time,
            "serial": str(facts.serial_number),
            "reply": reply,
        }
        return _Kept(Stamped(tsa, reply, facts.gen_time, facts.serial_number), checkpoint_timestamps, row, version)

    # -- storing -----------------------------------------------------------------------------

    def _retain_until(self, stored: StoredCheckpoint) -> datetime:
        """The checkpoint's own COMPLIANCE retain-until, as the object store holds it."""
        lock = self.store.read_lock(stored.version)
        if lock.mode != "COMPLIANCE" or lock.retain_until is None:
            raise StorageError(
                f"checkpoint {stored.version.key} is not locked yet (mode {lock.mode}); its outside trust waits"
            )
        return lock.retain_until

    def _keep(self, key: str, data: bytes, retain_until: datetime, content_type: str) -> StoredVersion:
        """Store an answer and lock it like its checkpoint (read back: a lock that did not take raises)."""
        return self.store.put_small_locked(key, data, retain_until, content_type=content_type)

    def _record(self, kept: list[_Kept], now: datetime) -> None:
        """Record the answers kept in one round, in one transaction (once each: another process may have)."""
        with self.catalog.begin() as conn:
            for one in kept:
                key = [one.table.c.size == one.row["size"]]
                key += [one.table.c[name] == one.row[name] for name in ("witness", "tsa") if name in one.row]
                if conn.execute(select(one.table.c.size).where(*key)).first() is None:
                    values = {**one.row, "object_key": one.version.key, "version_id": one.version.version_id}
                    conn.execute(insert(one.table).values(**values, created_at=now))

    # -- pauses after failures -------------------------------------------------------------

    def _due(self, target: str, pause: bool) -> bool:
        if not pause:
            return True
        with self._lock:
            _, at = self._pauses.get(target, (0, 0.0))
        return self._monotonic() >= at

    def _failed(self, target: str) -> None:
        with self._lock:
            failures, _ = self._pauses.get(target, (0, 0.0))
            wait = min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2**failures)
            self._pauses[target] = (failures + 1, self._monotonic() + wait)

    def _succeeded(self, target: str) -> None:
        with self._lock:
            self._pauses.pop(target, None)


def _run_all(calls: Sequence[Callable[[], _T]], pool: ThreadPoolExecutor) -> list[_T | EvidockError]:
    """Run ``calls`` at once (each a witness or a TSA, mostly waiting on the network); errors as values."""

    def guarded(call: Callable[[], _T]) -> _T | EvidockError:
        try:
            return call()
        except EvidockError as exc:
            return exc
        except ValueError as exc:  # a malformed answer the parsers refused
            return TimestampError(f"unusable answer: {exc}")

    return list(pool.map(guarded, calls))


def _alarm(message: str) -> WitnessError:
    log.critical("LOG INTEGRITY ALARM: %s", message)
    return WitnessError(message)
