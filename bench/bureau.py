"""Bureau benchmark: log appends by many stations on PostgreSQL, readers beside them, and a big recordings list.

Usage (from the repository root; PostgreSQL from ``scripts/pg-up.sh``, its URL read from it)::

    python -m bench.bureau                                  # 8 writers x 400 appends, 2 readers, 1,000,000 rows
    python -m bench.bureau --writers 8 --entries 400 --readers 2 --recordings 1000000 --json-out var/bench-bureau.json
    python -m bench.bureau --parts appends                  # one part only

Two parts:

``appends``
    ``--writers`` station processes (fresh interpreters, like stations), each appending ``--entries``
    log entries to one fresh PostgreSQL catalog, **one transaction per entry** through
    ``storage.journal.Journal.append`` (what a station does when it docks a clip: the INGEST entry
    commits with its catalog row), entries about recordings the other stations also log (so custody
    chains interleave). Meanwhile ``--readers`` API-client processes read metadata in a loop: the
    recordings search with filters (``storage.search.search``, what ``GET /api/v1/recordings`` runs)
    and single recordings by id. Reported: aggregate appends/s (all entries over the wall time from the
    common start to the last writer's end), p50/p99 of one append's latency (begin to commit), the
    readers' queries/s and p95. Baseline, the same run: **one** writer (a single dock station) on a
    SQLite catalog (WAL, ``synchronous=FULL``) appending the same number of entries per writer. After
    the run the log is checked: dense indexes, one entry per append.

``list``
    ``--recordings`` synthetic recordings (devices, officers, start times over a year; bulk-inserted, not
    timed) in a fresh PostgreSQL catalog, then ``--samples`` searches with the filters people use: a
    device and a day, an officer and a week, unlabelled recordings of a device (the art. 26 worklist),
    each with the default limit. p50/p95 per kind and overall.

What this does not measure: the S3 upload and hashing of a clip (bench/ingest.py does, against a
throwaway S3 server); here the log and the catalog are what is contended. The catalog databases are
dropped at the end. The load average is recorded at the start and the end: on a shared 2-core
machine the absolute figures move with other work.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, make_url, select, text

from bench.log import load, percentile, workload
from chain.entries import EntryType
from storage.catalog import Catalog
from storage.journal import Journal
from storage.recordings import get
from storage.schema import log_entries, log_head, recordings
from storage.search import CustodyStatus, RecordingFilter, search

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
DEVICES = 2000  # body-worn cameras of a bureau
OFFICERS = 3000


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def postgresql_url() -> str:
    """The local server of scripts/pg-up.sh (started if needed; never restarted)."""
    done = subprocess.run(["bash", str(REPO / "scripts" / "pg-up.sh")], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)["DATABASE_URL"]


def admin(server: str, sql: str) -> None:
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def fresh_database(server: str, prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin(server, f"CREATE DATABASE {name}")
    return name, make_url(server).set(database=name).render_as_string(hide_password=False)


# -- appends -------------------------------------------------------------------------------------


def _writer(url: str, station: str, entries: int, seed: int, start: Barrier, out: Any) -> None:  # noqa: PLR0917 - a Process target takes its arguments by position
    """One station: ``entries`` appends, one transaction each; sends (start, end, latencies) back."""
    catalog = Catalog.open(url)
    journal = Journal(station)
    specs = workload(entries, seed)
    start.wait(timeout=120)
    began = time.time()
    latencies = []
    for spec in specs:
        t = time.perf_counter()
        with catalog.begin() as conn:
            journal.append(conn, EntryType.ACCESS, recording=spec.recording, body=dict(spec.body), time=spec.time)
        latencies.append(time.perf_counter() - t)
    out.send((began, time.time(), latencies))
    out.close()
    catalog.close()


def _reader(url: str, seed: int, start: Barrier, stop: Event, out: Any) -> None:
    """An API client: filtered searches and single reads until told to stop; sends its latencies back."""
    catalog = Catalog.open(url)
    rng = random.Random(seed)  # noqa: S311 - a workload, not a secret
    start.wait(timeout=120)
    latencies = []
    while not stop.is_set():
        t = time.perf_counter()
        with catalog.read() as conn:
            if rng.random() < 0.5:
                found = search(conn, RecordingFilter(device=f"CAM{rng.randrange(DEVICES):04d}", limit=100))
            else:
                found = search(conn, RecordingFilter(status=CustodyStatus.UNLABELLED, limit=50))
            for recording in found[:5]:
                get(conn, recording.id)
        latencies.append(time.perf_counter() - t)
    out.send(latencies)
    out.close()
    catalog.close()


def _seed_recordings(url: str, count: int) -> None:
    """A few recordings for the readers to find (the appends do not add any)."""
    _bulk_recordings(url, count, batch=count)


def run_appends(url: str, writers: int, entries: int, readers: int) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    Catalog.open(url).close()
    if readers:
        _seed_recordings(url, 5000)
    start = spawn.Barrier(writers + readers)
    stop = spawn.Event()
    pipes, procs = [], []
    for w in range(writers):
        mine, theirs = spawn.Pipe(duplex=False)
        procs.append(spawn.Process(target=_writer, args=(url, f"dock-{w:02d}", entries, w, start, theirs)))
        pipes.append(mine)
    reader_pipes = []
    for r in range(readers):
        mine, theirs = spawn.Pipe(duplex=False)
        procs.append(spawn.Process(target=_reader, args=(url, 1000 + r, start, stop, theirs)))
        reader_pipes.append(mine)
    for p in procs:
        p.start()
    results = [pipe.recv() for pipe in pipes]
    stop.set()
    reads: list[float] = []
    for pipe in reader_pipes:
        reads += pipe.recv()
    for p in procs:
        p.join(timeout=120)
        if p.exitcode != 0:
            raise RuntimeError(f"a bench process failed with exit code {p.exitcode}")
    began = min(r[0] for r in results)
    ended = max(r[1] for r in results)
    latencies = [lat for r in results for lat in r[2]]
    total = writers * entries
    _check_dense(url, total)
    wall = ended - began
    out: dict[str, Any] = {
        "writers": writers,
        "entries": total,
        "wall_s": round(wall, 2),
        "appends_per_s": round(total / wall, 1),
        "append_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "append_p99_ms": round(percentile(latencies, 99) * 1000, 2),
    }
    if readers:
        out |= {
            "readers": readers,
            "reads": len(reads),
            "reads_per_s": round(len(reads) / wall, 1),
            "read_p50_ms": round(statistics.median(reads) * 1000, 2),
            "read_p95_ms": round(percentile(reads, 95) * 1000, 2),
        }
    return out


def _check_dense(url: str, total: int) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            size = int(conn.execute(select(log_head.c.size)).scalar_one())
            count, lowest, highest = conn.execute(
                select(func.count(), func.min(log_entries.c.idx), func.max(log_entries.c.idx))
            ).one()
    finally:
        engine.dispose()
    seeded = 1 if size > total else 0  # the readers' recordings hang off one entry
    if not (size == count == total + seeded and lowest == 0 and highest == size - 1):
        raise RuntimeError(f"the log is not dense: size {size}, {count} entries from {lowest} to {highest}")


# -- the recordings list ----------------------------------------------------------------------------


def _bulk_recordings(url: str, count: int, *, batch: int = 20_000) -> None:
    """``count`` synthetic recordings (one log entry they all point at: the foreign key wants one)."""
    catalog = Catalog.open(url)
    rng = random.Random(7)  # noqa: S311 - synthetic rows
    spec = workload(1, 0)[0]
    with catalog.begin() as conn:  # synthetic rows: any entry satisfies the foreign key
        anchor = Journal("dock-seed").append(conn, EntryType.ACCESS, recording=None, body=dict(spec.body), time=T0)
    done = 0
    while done < count:
        rows = []
        for i in range(done, min(count, done + batch)):
            start = T0 + timedelta(seconds=rng.randrange(365 * 86400))
            rows.append(
                {
                    "id": f"{i:064x}",
                    "size": 50_000_000,
                    "object_key": f"sha256/{i:064x}",
                    "version_id": "v1",
                    "retain_until": start + timedelta(days=92),
                    "original_name": f"CAM{i % DEVICES:04d}_{i}.mp4",
                    "station": f"dock-{i % 50:02d}",
                    "device": f"CAM{rng.randrange(DEVICES):04d}",
                    "officer": f"P{rng.randrange(OFFICERS):05d}",
                    "seq": i % 10_000,
                    "start_raw": start,
                    "end_raw": start + timedelta(minutes=10),
                    "duration_ms": 600_000,
                    "kind": "video",
                    "media": {"container": "mp4"},
                    "notes": [],
                    "ingested_at": start + timedelta(hours=1),
                    "ingest_entry": anchor,
                }
            )
        with catalog.begin() as conn:
            conn.execute(insert(recordings), rows)
        done += len(rows)
        if count > batch:
            say(f"  {done:,} recordings")
    with catalog.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    catalog.close()


def run_list(url: str, count: int, samples: int) -> dict[str, Any]:
    t = time.monotonic()
    _bulk_recordings(url, count)
    say(f"  {count:,} recordings inserted in {time.monotonic() - t:.0f} s")
    rng = random.Random(11)  # noqa: S311
    catalog = Catalog.open(url)
    kinds: dict[str, list[float]] = {"device+day": [], "officer+week": [], "device+unlabelled": []}
    rows: dict[str, list[int]] = {k: [] for k in kinds}
    for n in range(samples):
        kind = list(kinds)[n % len(kinds)]
        day = T0 + timedelta(days=rng.randrange(360))
        if kind == "device+day":
            wanted = RecordingFilter(
                device=f"CAM{rng.randrange(DEVICES):04d}", since=day, until=day + timedelta(days=1)
            )
        elif kind == "officer+week":
            wanted = RecordingFilter(
                officer=f"P{rng.randrange(OFFICERS):05d}", since=day, until=day + timedelta(days=7)
            )
        else:
            wanted = RecordingFilter(device=f"CAM{rng.randrange(DEVICES):04d}", status=CustodyStatus.UNLABELLED)
        t = time.perf_counter()
        with catalog.read() as conn:
            found = search(conn, wanted)
        kinds[kind].append(time.perf_counter() - t)
        rows[kind].append(len(found))
    catalog.close()
    every = [x for v in kinds.values() for x in v]
    return {
        "recordings": count,
        "samples": samples,
        "p50_ms": round(statistics.median(every) * 1000, 2),
        "p95_ms": round(percentile(every, 95) * 1000, 2),
        "by_kind": {
            k: {
                "p50_ms": round(statistics.median(v) * 1000, 2),
                "p95_ms": round(percentile(v, 95) * 1000, 2),
                "mean_rows": round(statistics.fmean(rows[k]), 1),
            }
            for k, v in kinds.items()
        },
    }


# -- the run ------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.bureau", description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default="appends,list", help="appends, list, or both (comma-separated)")
    p.add_argument("--writers", type=int, default=8, help="station processes appending at once")
    p.add_argument("--entries", type=int, default=400, help="appends per writer")
    p.add_argument("--readers", type=int, default=2, help="API-client processes reading metadata meanwhile")
    p.add_argument("--recordings", type=int, default=1_000_000, help="synthetic recordings for the list part")
    p.add_argument("--samples", type=int, default=600, help="searches timed in the list part")
    p.add_argument("--database-url", help="a PostgreSQL server URL whose role may create databases (default: pg-up.sh)")
    p.add_argument(
        "--work-dir", type=Path, default=REPO / ".local" / "bench-bureau", help="the SQLite baseline's folder"
    )
    p.add_argument("--json-out", type=Path, help="write the results as JSON here too")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",")}
    server = args.database_url or postgresql_url()
    results: dict[str, Any] = {"load_start": load(), "cpus": os.cpu_count(), "when": datetime.now(UTC).isoformat()}
    made: list[str] = []
    try:
        if "appends" in parts:
            args.work_dir.mkdir(parents=True, exist_ok=True)
            sqlite = args.work_dir / f"single-{uuid.uuid4().hex[:8]}.db"
            say(f"appends: 1 writer on SQLite, {args.entries} entries (the single-station baseline)")
            results["sqlite_single"] = run_appends(f"sqlite:///{sqlite}", 1, args.entries, 0)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{sqlite}{suffix}").unlink(missing_ok=True)
            name, url = fresh_database(server, "bench_appends")
            made.append(name)
            say(f"appends: {args.writers} writers on PostgreSQL x {args.entries} entries, {args.readers} readers")
            results["postgresql_writers"] = run_appends(url, args.writers, args.entries, args.readers)
            say(f"appends: 1 writer on PostgreSQL x {args.entries} entries")
            name, url = fresh_database(server, "bench_appends")
            made.append(name)
            results["postgresql_single"] = run_appends(url, 1, args.entries, 0)
        if "list" in parts:
            name, url = fresh_database(server, "bench_list")
            made.append(name)
            say(f"list: {args.recordings:,} recordings on PostgreSQL, {args.samples} searches")
            results["list_postgresql"] = run_list(url, args.recordings, args.samples)
    finally:
        for name in made:
            admin(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    results["load_end"] = load()
    text_out = json.dumps(results, indent=2, ensure_ascii=False)
    print(text_out)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text_out + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
