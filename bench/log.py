"""Log benchmark: durable appends, proofs at a million entries, and `verify` over the whole log.

Usage (from the repository root)::

    python -m bench.log                                    # the issue's sizes: 100,000 / 1,000,000 / 100,000
    python -m bench.log --entries 20000 --proof-size 100000 --json-out var/bench-log.json
    python -m bench.log --parts proof --samples 5000       # one part only
    python -m bench.log --profile                          # also cProfile one append batch and one verify
    python -m bench.log --parts append --one-by-one        # Journal.append per entry instead of append_many

Three parts, each judged against a baseline measured in the same run (machines
are noisy: ratios are the verdict, absolute figures are reported beside them):

``append``
    ``Journal.append_many`` of realistic ACCESS entries (~500 bytes each, most
    about a recording so the custody ``prev`` lookup runs, some with a
    committed personal field) into a fresh catalog, with durable commits (WAL,
    ``synchronous=FULL``, as ``storage.catalog`` sets them), one transaction
    (and one ``append_many`` call) per 1, 10 and 100 entries; with
    ``--one-by-one``, one ``Journal.append`` call per entry instead. The report
    names the smallest of these batch sizes that meets the goal. Baseline: stdlib ``sqlite3`` inserting the same
    entry bytes, one row each, into a bare ``(idx INTEGER PRIMARY KEY, data
    BLOB)`` table with the same pragmas and the same transaction sizes. The
    entries are split into rounds; evidock and the baseline alternate round by
    round (each in its own database), and the verdict is the median of the
    per-round time ratios evidock / baseline.

``proof``
    A catalog holding the complete-subtree nodes of a tree of ``--proof-size``
    leaves, bulk-inserted (computed in memory with
    ``chain.merkle.nodes_completed_by_append``; ``log_entries`` stays empty,
    since proofs read only ``log_nodes``). Timed: ``inclusion_proof(i, size,
    SqlNodes(conn))`` for random ``i``, and ``consistency_proof(m, size, ...)``
    for random ``m``. Baseline, interleaved sample by sample on the same
    connection: one SELECT of one ``log_nodes`` row by primary key through
    SQLAlchemy Core (and, reported only, through the raw ``sqlite3`` cursor).
    Every proof is checked afterwards against an independently computed root.

``verify``
    A catalog of ``--entries`` ACCESS entries appended through ``Journal`` (the
    append part's database for the largest batch size when that part ran,
    else a fresh one filled 100 entries per transaction; setup, not timed),
    one checkpoint made by ``storage.checkpoints.Checkpointer`` into a fresh
    bucket of the local S3 server (``scripts/s3-up.sh``), then
    ``evidock.verify.verify(evi, vkey, deep=False)``. There are no recordings,
    so the object part of verify is empty: what is timed is the checkpoint
    reads, the log re-hash and decode, and the stored-node comparison.
    ``verify`` decodes the entries in worker processes at this size (the
    report gives their number). Baseline: re-hashing the same entries' bytes
    (already in memory) into RFC 9162 leaf hashes with ``hashlib`` alone; reported only: reading them with
    raw ``sqlite3`` plus leaf hashes plus the root. The checkpoint object stays
    COMPLIANCE-locked for one day.

Wall times suffer when other work shares the machine; every part also
reports this process's CPU time, and the load average is recorded at the start
and the end. Proof sampling stops after ``--proof-budget`` seconds (at least
30 samples), so a slow proof path cannot make the run endless.

Databases go to a temporary directory under ``--work-dir`` (default
``.local/bench-log``, on the repository's disk: fsync timing matters, so not
a tmpfs) and are removed at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, insert, select, update

from chain import entries as chain_entries
from chain.checkpoint import generate_skey, parse_skey
from chain.entries import EntryType, JsonValue
from chain.merkle import (
    NodeKey,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    nodes_completed_by_append,
    root,
    verify_consistency,
    verify_inclusion,
)
from storage.catalog import Catalog
from storage.journal import Journal, NewEntry, SqlNodes
from storage.schema import log_entries, log_head, log_nodes

REPO = Path(__file__).resolve().parent.parent

# The goals (issue "log benchmark"): absolute, so reported as met / missed beside the ratios.
GOAL_APPEND_PER_S = 2000.0
GOAL_PROOF_MEDIAN_MS = 5.0
GOAL_VERIFY_S = 10.0

STATION = "dock-bench"
PARTS = ("append", "proof", "verify")
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SETUP_BATCH = 100  # entries per transaction when a log is only being filled
NODE_ROWS_PER_TXN = 200_000


class BenchError(Exception):
    """The benchmark cannot run or measured something wrong; the message says why."""


def load() -> float:
    """The 1-minute load average (0 where unknown): other work on the machine shows in wall times."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def cpu_pressure() -> str | None:
    """Linux PSI for the CPU ("some avg10=..."): how often runnable work waited for a CPU."""
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# -- statistics --------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Dist:
    """Milliseconds: median, p95, mean, n."""

    median_ms: float
    p95_ms: float
    mean_ms: float
    n: int

    @classmethod
    def of_seconds(cls, seconds: Sequence[float]) -> Dist:
        ms = [s * 1000 for s in seconds]
        return cls(
            round(statistics.median(ms), 4), round(percentile(ms, 95), 4), round(statistics.fmean(ms), 4), len(ms)
        )


# -- the workload ------------------------------------------------------------------------

_ROLES = ("officer", "squad-leader", "legal-affairs", "records-clerk", "auditor")
_ACTIONS = ("view", "stream", "download", "copy", "export", "metadata")
_CATEGORIES = ("court", "procuratorate", "lawyer", "internal-review", "petition-office")
_REASONS = (
    "案件复核：核对现场执法过程与笔录内容是否一致，确认当事人陈述及处罚依据，供法制部门审核使用",  # noqa: RUF001 - Chinese text uses full-width punctuation
    "Review of the body-worn footage for complaint 2026-1187: checking the officer's warning, the time "
    "of the arrest and the handover of the seized items, as requested by the internal review board.",
    "律师持调查令申请查阅执法视频，核实交通事故发生时的信号灯状态及双方车辆行驶轨迹，经审批后调取",  # noqa: RUF001
    "Prosecutor's request under the evidence-transfer procedure: copy of the recording covering the "
    "search of the vehicle, to be attached to the case file before the pre-trial hearing next week.",
)


@dataclass(frozen=True)
class Spec:
    """One ACCESS entry to append: what ``Journal.append`` is given."""

    recording: str | None
    body: dict[str, JsonValue]
    personal: dict[str, str] | None
    time: datetime


def workload(n: int, seed: int) -> list[Spec]:
    """``n`` realistic ACCESS entries: 85 % about one of ``n/20`` recordings, 30 % with a committed requester."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    recordings = [hashlib.sha256(f"recording {i}".encode()).hexdigest() for i in range(max(1, n // 20))]
    specs = []
    for i in range(n):
        approved = rng.random() < 0.4
        body: dict[str, JsonValue] = {
            "actor": f"P{rng.randrange(10_000):04d}",
            "role": rng.choice(_ROLES),
            "action": rng.choice(_ACTIONS),
            "reason": rng.choice(_REASONS),
            "approver": f"S{rng.randrange(1000):03d}" if approved else None,
            "approval": rng.randrange(max(1, i)) if approved else None,
            "requester_category": rng.choice(_CATEGORIES),
            "document_ref": f"(2026)京0105刑初{rng.randrange(1, 20_000)}号" if rng.random() < 0.5 else None,
        }
        personal = {"requester": f"张{rng.randrange(100_000)} 110101199001011234"} if rng.random() < 0.3 else None
        recording = rng.choice(recordings) if rng.random() < 0.85 else None
        specs.append(Spec(recording, body, personal, T0 + timedelta(seconds=i)))
    return specs


def entry_bytes(specs: Sequence[Spec]) -> list[bytes]:
    """The canonical bytes ``Journal.append`` writes for these specs (salts differ, lengths do not)."""
    last: dict[str, int] = {}
    out = []
    for index, s in enumerate(specs):
        body = dict(s.body)
        for name, value in (s.personal or {}).items():
            body[name] = chain_entries.commit(value, chain_entries.new_salt())
        prev = last.get(s.recording) if s.recording is not None else None
        entry = chain_entries.new_entry(
            EntryType.ACCESS, time=s.time, station=STATION, recording=s.recording, prev=prev, body=body
        )
        out.append(chain_entries.encode(entry))
        if s.recording is not None:
            last[s.recording] = index
    return out


# -- databases ---------------------------------------------------------------------------


def open_catalog(path: Path) -> Catalog:
    catalog = Catalog.open(f"sqlite:///{path}")
    with catalog.read() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    if str(mode).lower() != "wal" or sync != 2:
        raise BenchError(f"the catalog is not durable as configured: journal_mode={mode}, synchronous={sync}")
    return catalog


def open_bare(path: Path) -> sqlite3.Connection:
    """The baseline database: same durability as the catalog, one bare table, explicit transactions."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE entries (idx INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    sync = db.execute("PRAGMA synchronous").fetchone()[0]
    if sync != 2:
        raise BenchError(f"the baseline database is not synchronous=FULL: {sync}")
    return db


def filesystem_of(path: Path) -> str:
    """The filesystem type holding ``path`` (from /proc/mounts), or "unknown"."""
    best, kind = "", "unknown"
    resolved = str(path.resolve())
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    for line in lines:
        fields = line.split()
        inside = len(fields) >= 3 and (resolved == fields[1] or resolved.startswith(fields[1].rstrip("/") + "/"))
        if inside and len(fields[1]) > len(best):
            best, kind = fields[1], fields[2]
    return kind


# -- append ------------------------------------------------------------------------------


@dataclass
class AppendResult:
    batch: int
    entries: int
    rounds: int
    evidock_s: float
    baseline_s: float
    evidock_per_s: float
    baseline_per_s: float
    round_ratios: list[float]
    round_rates: list[float]  # evidock entries/s per round: shows how the rate changes as the log grows
    median_ratio: float
    evidock_txn: Dist
    baseline_txn: Dist
    evidock_cpu_ms_per_entry: float  # this process's CPU: the part that does not depend on the disk
    baseline_cpu_ms_per_entry: float
    goal_met: bool
    method: str  # "append_many" (one call per transaction) or "append" (one call per entry)


def append_specs(
    catalog: Catalog, journal: Journal, specs: Sequence[Spec], batch: int, *, each: bool = False
) -> list[float]:
    """Append in transactions of ``batch`` entries; the wall time of each transaction.

    One ``Journal.append_many`` call per transaction, or (``each``) one ``Journal.append`` per entry.
    """
    times = []
    for start in range(0, len(specs), batch):
        chunk = specs[start : start + batch]
        items = [NewEntry(EntryType.ACCESS, s.recording, s.body, s.time, s.personal) for s in chunk]
        began = time.perf_counter()
        with catalog.begin() as conn:
            if each:
                for item in items:
                    journal.append(
                        conn,
                        item.kind,
                        recording=item.recording,
                        body=item.body,
                        time=item.time,
                        personal=item.personal,
                    )
            else:
                journal.append_many(conn, items)
        times.append(time.perf_counter() - began)
    return times


def insert_bare(db: sqlite3.Connection, data: Sequence[bytes], first: int, batch: int) -> list[float]:
    times = []
    cur = db.cursor()
    for start in range(0, len(data), batch):
        began = time.perf_counter()
        cur.execute("BEGIN IMMEDIATE")
        for offset, blob in enumerate(data[start : start + batch]):
            cur.execute("INSERT INTO entries (idx, data) VALUES (?, ?)", (first + start + offset, blob))
        cur.execute("COMMIT")
        times.append(time.perf_counter() - began)
    return times


def check_log(catalog: Catalog, expected: int) -> None:
    """The log really holds ``expected`` entries and its stored nodes give the root of their bytes."""
    with catalog.read() as conn:
        size = int(conn.execute(select(log_head.c.size)).scalar_one())
        data = [bytes(d) for d in conn.execute(select(log_entries.c.data).order_by(log_entries.c.idx)).scalars()]
        stored_root = root(size, SqlNodes(conn))
    if size != expected or len(data) != expected:
        raise BenchError(f"the log holds {size} entries ({len(data)} rows), expected {expected}")
    if reference_root([leaf_hash(d) for d in data]) != stored_root:
        raise BenchError("the stored Merkle nodes do not give the root of the appended entries")


def append_db(work: Path, batch: int) -> Path:
    return work / f"append-{batch}.db"


def bench_append(
    work: Path, specs: Sequence[Spec], data: Sequence[bytes], batch: int, rounds: int, *, each: bool = False
) -> AppendResult:
    n = len(specs)
    catalog = open_catalog(append_db(work, batch))
    bare = open_bare(work / f"bare-{batch}.db")
    journal = Journal(STATION)
    bounds = [n * r // rounds for r in range(rounds + 1)]
    evi_txn: list[float] = []
    base_txn: list[float] = []
    ratios = []
    rates = []
    cpu_s = {"evidock": 0.0, "baseline": 0.0}
    evi_total = base_total = 0.0
    try:
        for r in range(rounds):
            lo, hi = bounds[r], bounds[r + 1]
            if hi == lo:
                continue
            order = ("evidock", "baseline") if r % 2 == 0 else ("baseline", "evidock")
            took: dict[str, float] = {}
            for side in order:
                cpu = time.process_time()
                if side == "evidock":
                    t = append_specs(catalog, journal, specs[lo:hi], batch, each=each)
                    evi_txn += t
                else:
                    t = insert_bare(bare, data[lo:hi], lo, batch)
                    base_txn += t
                cpu_s[side] += time.process_time() - cpu
                took[side] = sum(t)
            evi_total += took["evidock"]
            base_total += took["baseline"]
            ratios.append(took["evidock"] / took["baseline"])
            rates.append((hi - lo) / took["evidock"])
            say(
                f"append batch {batch}: round {r + 1}/{rounds}: evidock {(hi - lo) / took['evidock']:,.0f}/s, "
                f"baseline {(hi - lo) / took['baseline']:,.0f}/s, ratio {ratios[-1]:.2f} (load {load():.1f})"
            )
        check_log(catalog, n)
    finally:
        catalog.close()
        bare.close()
    evi_rate = n / evi_total
    return AppendResult(
        batch=batch,
        entries=n,
        rounds=len(ratios),
        evidock_s=round(evi_total, 3),
        baseline_s=round(base_total, 3),
        evidock_per_s=round(evi_rate, 1),
        baseline_per_s=round(n / base_total, 1),
        round_ratios=[round(x, 3) for x in ratios],
        round_rates=[round(x, 1) for x in rates],
        median_ratio=round(statistics.median(ratios), 3),
        evidock_txn=Dist.of_seconds(evi_txn),
        baseline_txn=Dist.of_seconds(base_txn),
        evidock_cpu_ms_per_entry=round(cpu_s["evidock"] / n * 1000, 4),
        baseline_cpu_ms_per_entry=round(cpu_s["baseline"] / n * 1000, 4),
        goal_met=evi_rate >= GOAL_APPEND_PER_S,
        method="append" if each else "append_many",
    )


# -- proof -------------------------------------------------------------------------------


class Frontier:
    """A ``NodeSource`` holding only the left siblings a future append still needs (``log2 n`` nodes)."""

    def __init__(self) -> None:
        self._nodes: dict[NodeKey, bytes] = {}

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        return [self._nodes.pop(k) for k in keys]  # each left sibling is read exactly once

    def keep(self, made: Sequence[tuple[int, int, bytes]]) -> None:
        level, index, digest = made[-1]  # the top node made; the ones below it were right children
        if index % 2 == 0:
            self._nodes[(level, index)] = digest


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """The RFC 9162 root computed level by level, independently of ``chain.merkle``'s stored-node plan."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        paired = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])  # a lone right node moves up unchanged
        level = paired
    return level[0]


def build_tree(catalog: Catalog, size: int, rows_per_txn: int = NODE_ROWS_PER_TXN) -> list[bytes]:
    """Store the nodes of a ``size``-leaf tree, ``rows_per_txn`` rows per transaction; returns its leaf hashes."""
    leaves = [leaf_hash(b"bench entry %d" % i) for i in range(size)]
    frontier = Frontier()
    rows: list[dict[str, Any]] = []
    for index, leaf in enumerate(leaves):
        made = nodes_completed_by_append(index, leaf, frontier)
        frontier.keep(made)
        rows += [{"level": lv, "idx": i, "hash": h} for lv, i, h in made]
        if len(rows) >= rows_per_txn or index == size - 1:
            with catalog.begin() as conn:
                conn.execute(insert(log_nodes), rows)
            rows = []
    with catalog.begin() as conn:
        conn.execute(update(log_head).where(log_head.c.id == 1).values(size=size))
    return leaves


@dataclass
class ProofResult:
    size: int
    nodes_stored: int
    samples: int
    inclusion: Dist
    consistency: Dist
    baseline_core: Dist
    baseline_raw: Dist
    inclusion_ratio: float
    consistency_ratio: float
    inclusion_ratio_raw: float
    inclusion_cpu: Dist  # this thread's CPU per call: less disturbed by other load than wall time
    consistency_cpu: Dist
    baseline_core_cpu: Dist
    query_plan: list[str]
    goal_met: bool


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


def _timed_cpu(fn: Callable[[], object]) -> tuple[float, float, object]:
    """Wall and CPU (this thread) seconds of one call, and its value."""
    began, cpu = time.perf_counter(), time.thread_time()
    value = fn()
    return time.perf_counter() - began, time.thread_time() - cpu, value


def bench_proof(work: Path, size: int, samples: int, seed: int, budget_s: float) -> ProofResult:
    path = work / "proof.db"
    catalog = open_catalog(path)
    try:
        began = time.perf_counter()
        leaves = build_tree(catalog, size)
        say(f"proof: stored the nodes of {size:,} leaves in {time.perf_counter() - began:.1f} s")
        expected_root = reference_root(leaves)
        rng = random.Random(seed)  # noqa: S311 - reproducible sample positions
        spent: dict[str, list[float]] = {"incl": [], "cons": [], "core": [], "raw": []}
        cpu: dict[str, list[float]] = {"incl": [], "cons": [], "core": [], "raw": []}
        proofs: list[tuple[int, list[bytes]]] = []
        consistency: list[tuple[int, list[bytes]]] = []
        with catalog.read() as conn:
            nodes_stored = int(conn.exec_driver_sql("SELECT count(*) FROM log_nodes").scalar_one())
            plan = _query_plan(conn)
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            for _ in range(50):  # warm-up: statement caches, the first pages
                inclusion_proof(rng.randrange(size), size, SqlNodes(conn))
                consistency_proof(rng.randrange(1, size), size, SqlNodes(conn))
                _select_core(conn, rng.randrange(size))
                _select_raw(cursor, rng.randrange(size))
            sampling = time.perf_counter()
            for k in range(samples):
                if k >= 30 and time.perf_counter() - sampling > budget_s:
                    say(f"proof: time budget of {budget_s:g} s spent after {k} samples; stopping there")
                    break
                i, j, m, r = rng.randrange(size), rng.randrange(size), rng.randrange(1, size), rng.randrange(size)
                steps: list[tuple[str, Callable[[], object]]] = [
                    ("incl", partial(inclusion_proof, i, size, SqlNodes(conn))),
                    ("cons", partial(consistency_proof, m, size, SqlNodes(conn))),
                    ("core", partial(_select_core, conn, j)),
                    ("raw", partial(_select_raw, cursor, r)),
                ]
                rotate = k % len(steps)
                for name, fn in steps[rotate:] + steps[:rotate]:
                    seconds, cpu_seconds, value = _timed_cpu(fn)
                    spent[name].append(seconds)
                    cpu[name].append(cpu_seconds)
                    if name == "incl":
                        proofs.append((i, value))  # type: ignore[arg-type]
                    elif name == "cons":
                        consistency.append((m, value))  # type: ignore[arg-type]
            cursor.close()
            say(f"proof: {len(proofs)} samples taken; checking every proof")
            if root(size, SqlNodes(conn)) != expected_root:
                raise BenchError("the stored tree's root differs from the reference root")
            for index, proof in proofs:
                verify_inclusion(leaves[index], index, size, proof, expected_root)
            for old, proof in consistency:
                verify_consistency(old, size, root(old, SqlNodes(conn)), expected_root, proof)
    finally:
        catalog.close()
    inclusion, consistency_d = Dist.of_seconds(spent["incl"]), Dist.of_seconds(spent["cons"])
    base_core, base_raw = Dist.of_seconds(spent["core"]), Dist.of_seconds(spent["raw"])
    return ProofResult(
        size=size,
        nodes_stored=nodes_stored,
        samples=len(proofs),
        inclusion=inclusion,
        consistency=consistency_d,
        baseline_core=base_core,
        baseline_raw=base_raw,
        inclusion_ratio=round(inclusion.median_ms / base_core.median_ms, 2),
        consistency_ratio=round(consistency_d.median_ms / base_core.median_ms, 2),
        inclusion_ratio_raw=round(inclusion.median_ms / base_raw.median_ms, 2),
        inclusion_cpu=Dist.of_seconds(cpu["incl"]),
        consistency_cpu=Dist.of_seconds(cpu["cons"]),
        baseline_core_cpu=Dist.of_seconds(cpu["core"]),
        query_plan=plan,
        goal_met=inclusion.median_ms <= GOAL_PROOF_MEDIAN_MS,
    )


def _select_core(conn: Connection, index: int) -> bytes:
    """The baseline: one ``log_nodes`` row by primary key, through SQLAlchemy Core like ``SqlNodes``."""
    digest = conn.execute(select(log_nodes.c.hash).where(log_nodes.c.level == 0, log_nodes.c.idx == index)).scalar_one()
    return bytes(digest)


def _select_raw(cursor: Any, index: int) -> bytes:
    """The same row through the DB-API cursor: the floor under any SQLAlchemy statement."""
    row = cursor.execute("SELECT hash FROM log_nodes WHERE level = 0 AND idx = ?", (index,)).fetchone()
    return bytes(row[0])


def _query_plan(conn: Connection) -> list[str]:
    """SQLite's plan for the statement ``SqlNodes`` really sends (here for 3 keys): does it use the primary key?"""
    sent: list[tuple[str, Any]] = []

    def grab(*args: Any) -> None:  # conn, cursor, statement, parameters, context, executemany
        sent.append((args[2], args[3]))

    event.listen(conn, "before_cursor_execute", grab)
    try:
        SqlNodes(conn).nodes([(0, 5), (1, 3), (4, 0)])
    finally:
        event.remove(conn, "before_cursor_execute", grab)
    statement, parameters = sent[-1]
    return [str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]


# -- verify ------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    entries: int
    checkpoints: int
    rounds: int
    verify_s: list[float]
    baseline_hash_s: list[float]
    baseline_read_s: list[float]
    median_verify_s: float
    median_verify_cpu_s: float
    median_workers_cpu_s: float  # CPU of the decoding worker processes (reaped when verify returns)
    median_baseline_hash_s: float
    median_baseline_read_s: float
    median_ratio: float
    median_ratio_read: float
    checked: dict[str, int]
    goal_met: bool
    workers: int  # processes decoding entries beside the main one
    profile_top: list[str] = field(default_factory=list)


def s3_env() -> dict[str, str]:
    import subprocess

    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "s3-up.sh")], capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode != 0:
        raise BenchError(f"scripts/s3-up.sh failed:\n{done.stderr[-3000:]}")
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


@contextmanager
def verify_app(work: Path, specs: Sequence[Spec], reuse: Path | None) -> Iterator[tuple[Any, str]]:
    """An App over a catalog holding ``specs`` and one stored checkpoint; yields (app, vkey).

    ``reuse``: a catalog the append part already filled with exactly ``specs`` (saves appending them again).
    """
    from evidock import settings as settings_mod
    from evidock.app import App, connect_store
    from storage.checkpoints import Checkpointer

    env = s3_env()
    db = reuse if reuse is not None else work / "verify.db"
    bucket = f"bench-log-{uuid.uuid4().hex[:16]}"
    (work / "inbox").mkdir(exist_ok=True)
    raw = {
        "station": {"id": STATION},
        "watch": {"folders": [str(work / "inbox")]},
        "s3": {"endpoint": env["S3_ENDPOINT"], "bucket": bucket},
        "database": {"url": f"sqlite:///{db}"},
        "log": {"key_file": str(work / "log-signing.key")},
    }
    environ = {"EVIDOCK_S3_ACCESS_KEY": env["S3_ACCESS_KEY"], "EVIDOCK_S3_SECRET_KEY": env["S3_SECRET_KEY"]}
    settings = settings_mod.parse(raw, base=work, source=None, environ=environ)
    store = connect_store(settings)
    store.ensure_bucket()
    catalog = open_catalog(db)
    try:
        if reuse is None:
            began = time.perf_counter()
            append_specs(catalog, Journal(STATION), specs, SETUP_BATCH)
            say(f"verify: appended {len(specs):,} entries in {time.perf_counter() - began:.1f} s (setup)")
        else:
            say(f"verify: reusing {reuse.name}, which the append part filled with the same entries")
        signer = parse_skey(generate_skey(settings.log.origin))
        checkpointer = Checkpointer(
            store=store,
            catalog=catalog,
            signer=signer,
            origin=settings.log.origin,
            retain_until=lambda now: now + timedelta(days=1),
        )
        made = checkpointer.make(datetime.now(UTC))
        say(f"verify: checkpoint of size {made.checkpoint.size} anchored in bucket {bucket}")
        yield App(settings, store, catalog, Journal(STATION)), str(signer.verifier())
    finally:
        catalog.close()


def bench_verify(
    work: Path, specs: Sequence[Spec], rounds: int, *, profile: bool, reuse: Path | None = None
) -> VerifyResult:
    from evidock.verify import decode_workers, verify

    with verify_app(work, specs, reuse) as (evi, vkey):
        with evi.catalog.read() as conn:
            data = [bytes(d) for d in conn.execute(select(log_entries.c.data).order_by(log_entries.c.idx)).scalars()]
        db_path = Path(evi.settings.database_url.removeprefix("sqlite:///"))
        took: list[float] = []
        took_cpu: list[float] = []
        workers_cpu: list[float] = []
        hashed: list[float] = []
        read: list[float] = []
        checked: dict[str, int] = {}
        for r in range(rounds):
            order = ("verify", "hash", "read") if r % 2 == 0 else ("read", "hash", "verify")
            for side in order:
                if side == "verify":
                    children = _children_cpu()
                    seconds, cpu_seconds, report = _timed_cpu(lambda: verify(evi, vkey, deep=False))
                    took_cpu.append(cpu_seconds)
                    workers_cpu.append(_children_cpu() - children)
                    if not report.ok:  # type: ignore[attr-defined]
                        raise BenchError(f"verify failed on the benchmark log: {report.failures[:3]}")  # type: ignore[attr-defined]
                    checked = dict(report.checked)  # type: ignore[attr-defined]
                    took.append(seconds)
                elif side == "hash":
                    hashed.append(_timed(lambda: [hashlib.sha256(b"\x00" + d).digest() for d in data])[0])
                else:
                    read.append(_timed(lambda: _read_and_hash(db_path))[0])
            say(
                f"verify: round {r + 1}/{rounds}: verify {took[-1]:.2f} s (CPU {took_cpu[-1]:.2f} s, "
                f"workers {workers_cpu[-1]:.2f} s), "
                f"hashlib {hashed[-1]:.3f} s, sqlite3 read + hash + root {read[-1]:.3f} s"
            )
        if checked.get("entries") != len(specs) or checked.get("checkpoint_roots") != 1:
            raise BenchError(f"verify did not check what was expected: {checked}")
        top: list[str] = []
        if profile:
            top = profile_call(lambda: verify(evi, vkey, deep=False), "verify")
    ratios = [t / h for t, h in zip(took, hashed, strict=True)]
    ratios_read = [t / h for t, h in zip(took, read, strict=True)]
    median = statistics.median(took)
    return VerifyResult(
        entries=len(specs),
        checkpoints=checked.get("checkpoints", 0),
        rounds=rounds,
        verify_s=[round(x, 3) for x in took],
        baseline_hash_s=[round(x, 4) for x in hashed],
        baseline_read_s=[round(x, 4) for x in read],
        median_verify_s=round(median, 3),
        median_verify_cpu_s=round(statistics.median(took_cpu), 3),
        median_workers_cpu_s=round(statistics.median(workers_cpu), 3),
        median_baseline_hash_s=round(statistics.median(hashed), 4),
        median_baseline_read_s=round(statistics.median(read), 4),
        median_ratio=round(statistics.median(ratios), 1),
        median_ratio_read=round(statistics.median(ratios_read), 1),
        checked=checked,
        goal_met=median <= GOAL_VERIFY_S,
        workers=decode_workers(len(specs)),
        profile_top=top,
    )


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (verify's workers, once reaped)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _read_and_hash(path: Path) -> bytes:
    db = sqlite3.connect(path)
    try:
        leaves = [
            hashlib.sha256(b"\x00" + d).digest() for (d,) in db.execute("SELECT data FROM log_entries ORDER BY idx")
        ]
    finally:
        db.close()
    return reference_root(leaves)


# -- profiling ---------------------------------------------------------------------------


def profile_call(fn: Callable[[], object], label: str, top: int = 25) -> list[str]:
    """cProfile ``fn`` once; returns (and prints to stderr) the top functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    text_out = out.getvalue()
    print(f"---- cProfile: {label} (cumulative) ----\n{text_out}", file=sys.stderr)
    return [line for line in text_out.splitlines() if line.strip()]


def profile_append(work: Path, specs: Sequence[Spec], batch: int) -> list[str]:
    catalog = open_catalog(work / "profile-append.db")
    try:
        return profile_call(lambda: append_specs(catalog, Journal(STATION), specs, batch), f"append batch {batch}")
    finally:
        catalog.close()


# -- report ------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    lines = [
        "| measure | evidock | baseline (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for a in results.get("append", []):
        lines.append(
            f"| {a['method']}, {a['batch']} entr{'y' if a['batch'] == 1 else 'ies'}/txn, {a['entries']:,} entries "
            f"| {a['evidock_per_s']:,.0f} entries/s; txn median {a['evidock_txn']['median_ms']:.2f} ms, "
            f"p95 {a['evidock_txn']['p95_ms']:.2f} ms; CPU {a['evidock_cpu_ms_per_entry']:.2f} ms/entry "
            f"| {a['baseline_per_s']:,.0f} rows/s; txn median {a['baseline_txn']['median_ms']:.2f} ms, "
            f"p95 {a['baseline_txn']['p95_ms']:.2f} ms; CPU {a['baseline_cpu_ms_per_entry']:.3f} ms/row "
            f"| {a['median_ratio']:.1f}x time | >= {GOAL_APPEND_PER_S:,.0f}/s | {'yes' if a['goal_met'] else 'no'} |"
        )
    appended = results.get("append", [])
    if appended:
        met = [a["batch"] for a in appended if a["goal_met"]]
        verdict = (
            f"met from {min(met)} entr{'y' if min(met) == 1 else 'ies'} per durable commit"
            if met
            else "not met at any batch size measured"
        )
        lines.append(
            f"| append goal, {appended[0]['method']} | {verdict} | | | >= {GOAL_APPEND_PER_S:,.0f}/s | "
            f"{'yes, N = ' + str(min(met)) if met else 'no'} |"
        )
    p = results.get("proof")
    if p:
        core, raw = p["baseline_core"], p["baseline_raw"]
        base = (
            f"PK SELECT (Core) median {core['median_ms']:.3f} ms, p95 {core['p95_ms']:.3f} ms; "
            f"raw sqlite3 {raw['median_ms']:.3f} ms"
        )
        lines.append(
            f"| inclusion proof at {p['size']:,} | median {p['inclusion']['median_ms']:.3f} ms, "
            f"p95 {p['inclusion']['p95_ms']:.3f} ms (CPU median {p['inclusion_cpu']['median_ms']:.3f} ms) "
            f"| {base} | {p['inclusion_ratio']:.1f}x "
            f"| median <= {GOAL_PROOF_MEDIAN_MS:g} ms | {'yes' if p['goal_met'] else 'no'} |"
        )
        lines.append(
            f"| consistency proof m..{p['size']:,} | median {p['consistency']['median_ms']:.3f} ms, "
            f"p95 {p['consistency']['p95_ms']:.3f} ms | (same) | {p['consistency_ratio']:.1f}x | - | - |"
        )
    v = results.get("verify")
    if v:
        lines.append(
            f"| verify (no --deep), {v['entries']:,} entries | median {v['median_verify_s']:.2f} s "
            f"(CPU {v['median_verify_cpu_s']:.2f} s + {v['workers']} decoding workers "
            f"{v['median_workers_cpu_s']:.2f} s; "
            f"{v['entries'] / v['median_verify_s']:,.0f} entries/s) "
            f"| hashlib leaf hashes "
            f"{v['median_baseline_hash_s']:.3f} s; sqlite3 read + hash + root {v['median_baseline_read_s']:.3f} s "
            f"| {v['median_ratio']:.0f}x ({v['median_ratio_read']:.0f}x vs read) "
            f"| <= {GOAL_VERIFY_S:g} s | {'yes' if v['goal_met'] else 'no'} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.log",
        description="Log appends (durable), proofs at a million entries and verify, each against a baseline "
        "measured in the same run.",
    )
    p.add_argument("--entries", type=int, default=100_000, help="entries for append and verify (default: 100000)")
    p.add_argument("--proof-size", type=int, default=1_000_000, help="tree size for the proofs (default: 1000000)")
    p.add_argument("--batches", default="1,10,100", help="entries per transaction to measure (default: 1,10,100)")
    p.add_argument("--rounds", type=int, default=10, help="alternating rounds per append batch size (default: 10)")
    p.add_argument("--samples", type=int, default=2000, help="proof samples of each kind (default: 2000)")
    p.add_argument(
        "--proof-budget",
        type=float,
        default=600.0,
        help="stop taking proof samples after this many seconds (at least 30 samples; default: 600)",
    )
    p.add_argument("--verify-rounds", type=int, default=3, help="timed verify runs (default: 3)")
    p.add_argument("--parts", default=",".join(PARTS), help="comma separated: append,proof,verify (default: all)")
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--profile", action="store_true", help="cProfile one append batch run and one verify (stderr)")
    p.add_argument(
        "--one-by-one", action="store_true", help="append with Journal.append per entry, not append_many per batch"
    )
    p.add_argument("--json-out", type=Path, default=None, help="write the results as JSON to this file")
    p.add_argument(
        "--work-dir",
        type=Path,
        default=REPO / ".local" / "bench-log",
        help="where the temporary databases go (default: .local/bench-log; a fresh subdirectory, removed at the end)",
    )
    p.add_argument("--keep", action="store_true", help="keep the databases")
    args = p.parse_args(argv)
    args.parts = [x.strip() for x in str(args.parts).split(",") if x.strip()]
    if not args.parts or any(x not in PARTS for x in args.parts):
        p.error(f"--parts: choose from {', '.join(PARTS)}")
    try:
        args.batches = sorted({int(b) for b in str(args.batches).split(",") if b.strip()})
    except ValueError:
        p.error("--batches: whole numbers, e.g. 1,10,100")
    if not args.batches or min(args.batches) < 1:
        p.error("--batches: at least one size of 1 or more")
    for name in ("entries", "proof_size", "rounds", "samples", "verify_rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.proof_size < 2:
        p.error("--proof-size must be at least 2")
    return args


def save(results: dict[str, Any], path: Path | None) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=args.work_dir))
    fs = filesystem_of(work)
    if fs in ("tmpfs", "ramfs"):
        shutil.rmtree(work, ignore_errors=True)
        raise BenchError(f"{work} is on {fs}: fsync costs nothing there; pass a --work-dir on a real disk")
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "filesystem": fs,
            "load_at_start": round(load(), 2),
            "cpu_pressure_at_start": cpu_pressure(),
        },
        "goals": {
            "append_per_s": GOAL_APPEND_PER_S,
            "proof_median_ms": GOAL_PROOF_MEDIAN_MS,
            "verify_s": GOAL_VERIFY_S,
        },
    }
    say(f"working in {work} ({fs}); load average {load():.1f} on {os.cpu_count()} CPUs")
    if load() > (os.cpu_count() or 1):
        say("the machine is busy: wall times will be inflated; compare the ratios and the CPU figures")
    try:
        specs = workload(args.entries, args.seed)
        if "append" in args.parts:
            data = entry_bytes(specs)
            results["entry_bytes"] = {
                "mean": round(statistics.fmean(len(d) for d in data), 1),
                "min": min(len(d) for d in data),
                "max": max(len(d) for d in data),
            }
            say(f"append: {len(specs):,} ACCESS entries, {results['entry_bytes']['mean']:.0f} bytes on average")
            results["append"] = [
                asdict(bench_append(work, specs, data, batch, min(args.rounds, len(specs)), each=args.one_by_one))
                for batch in args.batches
            ]
            if args.profile:
                results["append_profile"] = profile_append(work, specs[: min(len(specs), 10_000)], args.batches[-1])
            save(results, args.json_out)  # after every part: a later failure keeps what was measured
        if "proof" in args.parts:
            results["proof"] = asdict(bench_proof(work, args.proof_size, args.samples, args.seed, args.proof_budget))
            save(results, args.json_out)  # after every part: a later failure keeps what was measured
        if "verify" in args.parts:
            filled = append_db(work, args.batches[-1]) if "append" in args.parts else None
            results["verify"] = asdict(
                bench_verify(work, specs, args.verify_rounds, profile=args.profile, reuse=filled)
            )
    finally:
        if args.keep:
            say(f"kept the databases in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_at_end"] = round(load(), 2)
    results["machine"]["cpu_pressure_at_end"] = cpu_pressure()
    results["table"] = table(results)
    print(results["table"])
    save(results, args.json_out)
    if args.json_out is not None:
        say(f"results written to {args.json_out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(1)
