"""Burst benchmark: a dock's worth of files dropped at once into the folder `evidock run` watches.

Usage (from the repository root)::

    python -m bench.burst                                  # 16 files x 256 MiB, the default parallel_files, 3 rounds
    python -m bench.burst --size-mib 64 --parallel 1,2,3,4 --rounds 2   # which watch.parallel_files to default to
    python -m bench.burst --ref HEAD                       # a committed snapshot, not the working tree

When a shift ends, 16 body cameras land their files together. This measures how
long the service takes from the moment the files appear in its watch folder
until every one is logged (receipt ``logged`` or ``released``: stored, verified
by re-reading, locked, and in the log), against the same files uploaded bare
with minio's ``fput_object``, the same number at a time (``watch.parallel_files``
of them), in the same run, on the same throwaway server (``bench/harness.py``).

* **evidock**: one `evidock run` per ``parallel_files`` value, started once with
  a fresh config and catalog (default settings but that value and
  ``after_verify = "keep"``, so its file-stability wait, ``watch.stable_seconds``
  = 2 s, counts) and warmed up with one small file. For each round every file
  gets 32 fresh random bytes at its start (new content each round), then all are
  renamed into the watch folder one after the other; the clock runs from the
  first rename until the catalog shows them all logged (polled every 20 ms), and
  then they are moved out again. Its peak RSS over all rounds is read from
  ``wait4`` when it is stopped at the end (the harness's launcher).
* **baseline**: one fresh ``python -c`` process that uploads the same files with
  ``fput_object`` (minio's defaults), ``parallel_files`` at a time from a thread
  pool, into a bucket without Object Lock (deleted after, untimed). Its
  interpreter start-up (~0.3 s) counts; evidock's does not (the service is up).

Rounds alternate who goes first; the verdict is the median of the per-round
ratios evidock / baseline (goal: at most 1.3). The machine's load average is
reported with every round: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import (
    GIB,
    LAUNCHER,
    MARGIN_BYTES,
    MIB,
    REPO,
    BenchError,
    Run,
    Server,
    add_run_options,
    bench_client,
    check_disk,
    code_version,
    compile_bytecode,
    cpu_seconds,
    evidock_env,
    export_commit,
    load_now,
    machine,
    purge_on_sigterm,
    server_pids,
    throwaway_server,
    timed,
    write_config,
)
from bench.ingest import SNAPSHOT_MAIN, fresh_head, make_file

GOAL_RATIO = 1.3
GOAL_RSS_MIB = 250.0  # with the default parallel_files
POLL_SECONDS = 0.02
ROUND_TIMEOUT_SECONDS = 1800.0

BASELINE_SCRIPT = """\
import os, sys
from concurrent.futures import ThreadPoolExecutor
from minio import Minio
host, bucket, prefix, workers, *paths = sys.argv[1:]
client = Minio(host, access_key=os.environ["BENCH_S3_ACCESS_KEY"],
               secret_key=os.environ["BENCH_S3_SECRET_KEY"], secure=False)
with ThreadPoolExecutor(int(workers)) as pool:
    for _ in pool.map(lambda p: client.fput_object(bucket, prefix + os.path.basename(p), p), paths):
        pass
"""


@dataclass(frozen=True)
class Burst:
    """One evidock burst: files dropped to all logged."""

    seconds: float
    evidock_cpu_s: float  # the service and its reaped children (ffprobe)
    server_cpu_s: float | None
    failed: int


@dataclass
class Round:
    index: int
    order: list[str]
    load_1min: float
    baseline: dict[int, Run] = field(default_factory=dict)  # by parallel_files
    evidock: dict[int, Burst] = field(default_factory=dict)

    def ratio(self, parallel: int) -> float:
        return self.evidock[parallel].seconds / self.baseline[parallel].seconds


@dataclass(frozen=True)
class Summary:
    parallel_files: int
    files: int
    size_mib: int
    rounds: int
    ratios: list[float]
    median_ratio: float
    baseline_median_s: float
    evidock_median_s: float
    cpu_ratios: list[float | None]
    evidock_peak_rss_mib: float | None
    ratio_ok: bool
    rss_ok: bool | None  # judged for the default parallel_files only


class Service:
    """`evidock run` under the harness's launcher, so its peak RSS is known when it stops."""

    def __init__(self, cmd: Sequence[str], config: Path, env: dict[str, str], report: Path) -> None:
        self.config = config
        self.db = config.parent / "evidock.db"
        self.report = report
        self._log = (config.parent / "service.log").open("wb")
        http = ["--http-port", str(_free_port())]
        self.launcher = subprocess.Popen(
            # As a station runs: with its HTTP API and pages loaded.
            [sys.executable, "-I", "-S", "-c", LAUNCHER, str(report), *cmd, "--config", str(config), "run", *http],
            env=env,
            cwd=config.parent,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.pid = self._child()

    def _child(self) -> int:
        deadline = time.monotonic() + 10
        children = Path(f"/proc/{self.launcher.pid}/task/{self.launcher.pid}/children")
        while time.monotonic() < deadline:
            found = children.read_text().split() if children.exists() else []
            if found:
                return int(found[0])
            time.sleep(0.01)
        raise BenchError("evidock run did not start")

    def cpu(self) -> float:
        """The service's CPU seconds so far, with its reaped children (ffprobe)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime

    def stop(self) -> float | None:
        """SIGTERM (the files in flight finish), then the peak RSS in MiB the launcher saw."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        try:
            self.launcher.wait(timeout=300)
        finally:
            self._log.close()
        try:
            return int(json.loads(self.report.read_text())["maxrss_kib"]) / 1024
        except (OSError, ValueError, KeyError):
            return None

    def log_tail(self) -> str:
        return (self.config.parent / "service.log").read_text(errors="replace")[-3000:]


class Bench:
    def __init__(self, server: Server, work: Path, evidock: Sequence[str], files: list[Path]) -> None:
        self.server = server
        self.work = work
        self.evidock = list(evidock)
        self.files = files
        self.client = bench_client(server)
        self.tag = uuid.uuid4().hex[:8]
        self.baseline_bucket = f"bench-burst-base-{self.tag}"
        self.client.make_bucket(self.baseline_bucket)
        self.services: dict[int, Service] = {}
        self.inboxes: dict[int, Path] = {}

    def start(self, parallel: int) -> None:
        bucket = f"bench-burst-{self.tag}-p{parallel}"
        self.client.make_bucket(bucket, object_lock=True)
        config = write_config(self.work, self.server, bucket, written_by="bench/burst.py")
        text = config.read_text(encoding="utf-8")
        text = text.replace('after_verify = "keep"\n', f'after_verify = "keep"\nparallel_files = {parallel}\n')
        config.write_text(text, encoding="utf-8")
        inbox = config.parent / "inbox"
        inbox.mkdir()
        service = Service(self.evidock, config, evidock_env(self.server), config.parent / "usage.json")
        self.services[parallel] = service
        self.inboxes[parallel] = inbox
        warm = config.parent / "warm-up.bin"
        warm.write_bytes(os.urandom(MIB))
        warm.rename(inbox / warm.name)
        self._wait_logged(service, 0, 1, started=time.monotonic())
        (inbox / warm.name).unlink()

    def burst(self, parallel: int) -> Burst:
        service = self.services[parallel]
        inbox = self.inboxes[parallel]
        for path in self.files:
            fresh_head(path)
        before = self._max_receipt(service)
        pids = server_pids(self.server.data_dir)
        server_before = cpu_seconds(pids)
        cpu_before = service.cpu()
        started = time.monotonic()
        for path in self.files:
            path.rename(inbox / path.name)
        failed = self._wait_logged(service, before, len(self.files), started=started)
        seconds = time.monotonic() - started
        cpu = service.cpu() - cpu_before
        server_after = cpu_seconds(pids)
        server = None if server_before is None or server_after is None else round(server_after - server_before, 2)
        for path in self.files:
            (inbox / path.name).rename(path)
        return Burst(
            seconds=round(seconds, 3),
            evidock_cpu_s=round(cpu, 2),
            server_cpu_s=server,
            failed=failed,
        )

    def _max_receipt(self, service: Service) -> int:
        with sqlite3.connect(f"file:{service.db}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT coalesce(max(id), 0) FROM receipts").fetchone()[0])

    def _wait_logged(self, service: Service, after: int, count: int, *, started: float) -> int:
        """Poll the catalog until ``count`` receipts after id ``after`` are logged; how many failed."""
        query = (
            "SELECT sum(state IN ('logged', 'released')), sum(state IN ('failed', 'quarantined')) "
            "FROM receipts WHERE id > ?"
        )
        while time.monotonic() - started < ROUND_TIMEOUT_SECONDS:
            if service.launcher.poll() is not None:
                raise BenchError(f"evidock run exited:\n{service.log_tail()}")
            if service.db.exists():
                try:
                    with sqlite3.connect(f"file:{service.db}?mode=ro", uri=True, timeout=5) as db:
                        logged, failed = db.execute(query, (after,)).fetchone()
                except sqlite3.OperationalError:
                    logged, failed = 0, 0  # the schema is not there yet
                if (logged or 0) + (failed or 0) >= count:
                    if failed:
                        raise BenchError(f"{failed} files failed to ingest:\n{service.log_tail()}")
                    return 0
            time.sleep(POLL_SECONDS)
        raise BenchError(f"the burst was not logged within {ROUND_TIMEOUT_SECONDS:.0f} s:\n{service.log_tail()}")

    def baseline(self, parallel: int) -> Run:
        prefix = f"base-{uuid.uuid4().hex[:8]}/"
        env = dict(os.environ)
        env["BENCH_S3_ACCESS_KEY"] = self.server.access_key
        env["BENCH_S3_SECRET_KEY"] = self.server.secret_key
        run, _ = timed(
            [sys.executable, "-c", BASELINE_SCRIPT, self.server.host, self.baseline_bucket, prefix, str(parallel)]
            + [str(p) for p in self.files],
            env=env,
            cwd=self.work,
            server=self.server,
            what=f"baseline: {len(self.files)} fput_object, {parallel} at a time",
        )
        for path in self.files:
            self.client.remove_object(self.baseline_bucket, prefix + path.name)  # untimed
        return run

    def stop(self) -> dict[int, float | None]:
        return {parallel: service.stop() for parallel, service in self.services.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.burst",
        description="Files dropped at once into the folder `evidock run` watches, until all are logged, "
        "vs the same files uploaded bare with fput_object, as many at a time; throwaway S3 server.",
    )
    p.add_argument("--files", type=int, default=16, help="files per burst (default: 16, a dock of cameras)")
    p.add_argument("--size-mib", type=int, default=256, help="size of each file in MiB (default: 256)")
    p.add_argument(
        "--parallel",
        default=None,
        help="watch.parallel_files values to measure, comma separated (default: the settings' default)",
    )
    p.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    p.add_argument("--json-out", type=Path, default=None, help="write the results as JSON to this file")
    add_run_options(p, name="burst", port=7594)
    args = p.parse_args(argv)
    if args.files < 1 or args.size_mib < 1 or args.rounds < 1:
        p.error("--files, --size-mib and --rounds must be at least 1")
    if args.parallel is not None:
        try:
            args.parallel = sorted({int(x) for x in args.parallel.split(",") if x.strip()})
        except ValueError:
            p.error(f"--parallel {args.parallel!r}: use whole numbers, e.g. 1,2,3")
        if not args.parallel or min(args.parallel) < 1:
            p.error("--parallel: values of 1 or more")
    return args


def default_parallel(source: Path | None) -> int:
    """The settings' default watch.parallel_files, of the code measured."""
    script = (
        "import sys\nif sys.argv[1]:\n    sys.path.insert(0, sys.argv[1])\n"
        "from evidock.settings import WatchSettings\n"
        "print(WatchSettings.__dataclass_fields__['parallel_files'].default)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(source or "")], capture_output=True, text=True, check=True, cwd=REPO
    )
    return int(done.stdout.strip())


def summarise(rounds: list[Round], parallel: int, args: argparse.Namespace, rss: float | None) -> Summary:
    ratios = [r.ratio(parallel) for r in rounds]
    cpu_ratios = []
    for r in rounds:
        base, evi = r.baseline[parallel], r.evidock[parallel]
        base_cpu = base.cpu_user_s + base.cpu_sys_s + (base.server_cpu_s or 0.0)
        evi_cpu = evi.evidock_cpu_s + (evi.server_cpu_s or 0.0)
        cpu_ratios.append(round(evi_cpu / base_cpu, 3) if base_cpu else None)
    median = statistics.median(ratios)
    return Summary(
        parallel_files=parallel,
        files=args.files,
        size_mib=args.size_mib,
        rounds=len(rounds),
        ratios=[round(x, 3) for x in ratios],
        median_ratio=round(median, 3),
        baseline_median_s=round(statistics.median(r.baseline[parallel].seconds for r in rounds), 2),
        evidock_median_s=round(statistics.median(r.evidock[parallel].seconds for r in rounds), 2),
        cpu_ratios=cpu_ratios,
        evidock_peak_rss_mib=None if rss is None else round(rss, 1),
        ratio_ok=median <= GOAL_RATIO,
        rss_ok=(rss is not None and rss <= GOAL_RSS_MIB) if parallel == args.default else None,
    )


def table(summaries: Sequence[Summary], rounds: Sequence[Round]) -> str:
    lines = []
    for r in rounds:
        cells = [
            f"p{p}: base {r.baseline[p].seconds:6.2f} s, evidock {r.evidock[p].seconds:6.2f} s (x{r.ratio(p):.2f})"
            for p in sorted(r.evidock)
        ]
        lines.append(f"  round {r.index} (load {r.load_1min:.1f}): " + "; ".join(cells))
    header = (
        f"{'parallel_files':>14} {'rounds':>6} {'baseline s':>10} {'evidock s':>9} {'ratio':>6} {'CPU ratio':>9} "
        f"{'evidock RSS':>11}  goal (ratio<={GOAL_RATIO}; RSS<={GOAL_RSS_MIB:g} MiB at the default)"
    )
    lines += ["", header, "-" * len(header)]
    for s in summaries:
        cpu = [c for c in s.cpu_ratios if c is not None]
        rss = f"{s.evidock_peak_rss_mib:7.1f} MiB" if s.evidock_peak_rss_mib is not None else f"{'?':>11}"
        verdict = "met" if s.ratio_ok and s.rss_ok is not False else "MISSED"
        lines.append(
            f"{s.parallel_files:>14} {s.rounds:>6} {s.baseline_median_s:>10.2f} {s.evidock_median_s:>9.2f} "
            f"{s.median_ratio:>6.2f} {statistics.median(cpu) if cpu else float('nan'):>9.2f} {rss}  {verdict}"
        )
    return "\n".join(lines)


def measure(bench: Bench, parallel: Sequence[int], rounds: int) -> list[Round]:
    """Every side in every round, the order rotating from round to round."""
    for p in parallel:
        bench.start(p)
    sides = [("baseline", p) for p in parallel] + [("evidock", p) for p in parallel]
    done = []
    for index in range(rounds):
        shift = index % len(sides)
        order = sides[shift:] + sides[:shift]
        r = Round(index + 1, [f"{side}:{p}" for side, p in order], load_now())
        for side, p in order:
            if side == "baseline":
                r.baseline[p] = bench.baseline(p)
                shown = r.baseline[p].seconds
            else:
                r.evidock[p] = bench.burst(p)
                shown = r.evidock[p].seconds
            print(
                f"bench: round {index + 1}/{rounds} {side:>8} parallel {p}: {shown:7.2f} s (load {load_now():.1f})",
                file=sys.stderr,
            )
        done.append(r)
    return done


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir()
    files = []
    for n in range(count):
        path = folder / f"CAM{n + 1:02d}_P{1000 + n}_20261120080000_0001.mp4"
        make_file(path, size)
        files.append(path)
    return files


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    purge_on_sigterm()
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    code = code_version(args.ref)
    rounds: list[Round] = []
    rss: dict[int, float | None] = {}
    try:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="burst-", dir=args.work_dir))
        try:
            source = export_commit(args.ref, work / "src") if args.ref is not None else None
            evidock = [sys.executable, "-c", SNAPSHOT_MAIN, str(source)] if source else [args.evidock]
            if source is None and not Path(args.evidock).is_file():
                raise BenchError(f"no evidock executable at {args.evidock}; install first (make install)")
            args.default = default_parallel(source)
            parallel = args.parallel or [args.default]
            size = args.size_mib * MIB
            # Locked evidock objects and (until RGW's GC) deleted baseline objects, +10 %; the files once.
            server_bytes = 2 * args.files * size * args.rounds * len(parallel) * 11 // 10
            check_disk(args.work_dir.parent, server_bytes + args.files * size + MARGIN_BYTES)
            compile_bytecode(source or REPO)
            files = make_files(work / "files", args.files, size)
            block = max(64 * GIB, 2 * server_bytes)  # sparse: only what is written takes space
            with throwaway_server(args.s3_dir, args.port, block, keep=args.keep_server) as server:
                bench = Bench(server, work, evidock, files)
                try:
                    rounds = measure(bench, parallel, args.rounds)
                finally:
                    rss = bench.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    summaries = [summarise(rounds, p, args, rss.get(p)) for p in parallel]
    print(table(summaries, rounds))
    if args.json_out:
        report = {
            "benchmark": "burst",
            "started_at": started_at.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "code": code,
            "load_average_1_5_15": {"start": load_before, "end": os.getloadavg()},
            "goal": {"median_ratio_max": GOAL_RATIO, "evidock_peak_rss_mib_max_at_default": GOAL_RSS_MIB},
            "default_parallel_files": args.default,
            "summaries": [asdict(s) for s in summaries],
            "rounds": [asdict(r) for r in rounds],
        }
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"bench: results written to {args.json_out}", file=sys.stderr)
    missed = any(not s.ratio_ok or s.rss_ok is False for s in summaries)
    return 2 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
