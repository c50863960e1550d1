"""Ingest benchmark: `evidock ingest` vs a bare minio `fput_object` of the same file.

Usage (from the repository root)::

    python -m bench.ingest                         # 1 GiB x 5 rounds, 4 GiB x 4 rounds
    python -m bench.ingest --sizes 1 --rounds 5 --json-out var/bench.json
    python -m bench.ingest --sizes 1 --variant 16:2 --variant 32:3   # compare part size x parallel uploads
    python -m bench.ingest --ref HEAD              # a committed snapshot, not the (changing) working tree

Both sides are measured the same way: a fresh subprocess (so interpreter
start-up and imports count on both sides), wall time from spawn to exit, and
the child's peak RSS from ``wait4``. Baseline and evidock runs alternate inside
one run, on one server, and the verdict is the **median of the per-round
ratios** evidock / baseline: machines are noisy, absolute seconds are only
reported, never judged.

Everything runs against a separate, throwaway Ceph RGW instance
(``.local/s3-bench-ingest``, port 7590; ``bench/harness.py``) that is purged
at the end: every evidock run leaves its file COMPLIANCE-locked for three
months, which no one can delete. evidock's packages are byte-compiled first,
as an installed package is (the baseline's minio is).
Each evidock run first overwrites the file's first 32 bytes with fresh random
bytes, so it really uploads (content addressing would otherwise skip the
upload as a duplicate). The baseline uploads to a bucket without Object Lock
and its object is deleted after each run.

See docs/performance.md ("Ingest") for the results and how to read them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import (
    GIB,
    MARGIN_BYTES,
    MIB,
    REPO,
    BenchError,
    Run,
    Server,
    add_run_options,
    bench_client,
    block_file_bytes,
    check_disk,
    code_version,
    compile_bytecode,
    evidock_env,
    export_commit,
    ingest_outcome,
    load_now,
    machine,
    purge_on_sigterm,
    run_dir,
    run_server,
    sparse_block_bytes,
    timed,
    write_config,
)

# The goal (issue 21, "ingest at the speed of the store"): with verification included.
GOAL_RATIO = 1.25
STRETCH_RATIO = 1.15
GOAL_RSS_MIB = 150.0

DEFAULT_ROUNDS = {1: 5, 4: 4}  # sizes not listed get 4
FILL_BLOCK = 64 * MIB  # the test file is one random block repeated, each copy with its own counter

# evidock from an exported commit (--ref): the same entry point as the console script.
SNAPSHOT_MAIN = "import sys; sys.path.insert(0, sys.argv.pop(1)); from evidock.cli import main; sys.exit(main())"
# The part size (MiB) and parallel uploads a config file really gives.
EFFECTIVE_SCRIPT = """\
import sys
from pathlib import Path
if sys.argv[2]:
    sys.path.insert(0, sys.argv[2])
from evidock import settings
s3 = settings.load(Path(sys.argv[1])).s3
print(s3.part_size // (1024 * 1024), s3.parallel_uploads)
"""

BASELINE_SCRIPT = """\
import os, sys
from minio import Minio
host, bucket, key, path = sys.argv[1:5]
client = Minio(host, access_key=os.environ["BENCH_S3_ACCESS_KEY"],
               secret_key=os.environ["BENCH_S3_SECRET_KEY"], secure=False)
client.fput_object(bucket, key, path)
"""


# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """evidock's upload settings for a run; None means the settings' defaults (not written to the config)."""

    part_size_mib: int | None = None
    parallel_uploads: int | None = None

    @property
    def label(self) -> str:
        if self.part_size_mib is None and self.parallel_uploads is None:
            return "default"
        part = f"{self.part_size_mib}" if self.part_size_mib is not None else "dflt"
        par = f"{self.parallel_uploads}" if self.parallel_uploads is not None else "dflt"
        return f"{part}MiB x {par}"


@dataclass
class Round:
    index: int
    order: list[str]
    baseline: Run
    evidock: dict[str, Run] = field(default_factory=dict)  # by variant label
    load_1min: float = 0.0  # the machine's load average as the round began (other tenants included)

    def ratio(self, label: str) -> float:
        return self.evidock[label].seconds / self.baseline.seconds

    def cpu_ratio(self, label: str) -> float | None:
        """(client + server CPU seconds) of evidock / of the baseline: less sensitive to other tenants."""
        return _cpu(self.evidock[label]) / _cpu(self.baseline) if _cpu(self.baseline) else None


def _cpu(run: Run) -> float:
    return run.cpu_user_s + run.cpu_sys_s + (run.server_cpu_s or 0.0)


@dataclass
class SizeResult:
    size_gib: int
    rounds: list[Round] = field(default_factory=list)


@dataclass(frozen=True)
class Summary:
    size_gib: int
    variant: str
    part_size_mib: int
    parallel_uploads: int
    rounds: int
    ratios: list[float]
    median_ratio: float
    median_ratio_of_medians: float
    baseline_median_s: float
    evidock_median_s: float
    baseline_mib_s: float
    evidock_mib_s: float
    evidock_peak_rss_mib: float
    baseline_peak_rss_mib: float
    cpu_ratios: list[float | None]
    loads_1min: list[float]
    ratio_ok: bool
    stretch_ok: bool
    rss_ok: bool


def summarise(result: SizeResult, variant: Variant, effective: tuple[int, int]) -> Summary:
    label = variant.label
    ratios = [r.ratio(label) for r in result.rounds]
    base = statistics.median(r.baseline.seconds for r in result.rounds)
    evi = statistics.median(r.evidock[label].seconds for r in result.rounds)
    evi_rss = max(r.evidock[label].peak_rss_mib for r in result.rounds)
    base_rss = max(r.baseline.peak_rss_mib for r in result.rounds)
    size_mib = result.size_gib * 1024
    median_ratio = statistics.median(ratios)
    return Summary(
        size_gib=result.size_gib,
        variant=label,
        part_size_mib=effective[0],
        parallel_uploads=effective[1],
        rounds=len(result.rounds),
        ratios=[round(x, 3) for x in ratios],
        median_ratio=round(median_ratio, 3),
        median_ratio_of_medians=round(evi / base, 3),
        baseline_median_s=round(base, 2),
        evidock_median_s=round(evi, 2),
        baseline_mib_s=round(size_mib / base, 1),
        evidock_mib_s=round(size_mib / evi, 1),
        evidock_peak_rss_mib=round(evi_rss, 1),
        baseline_peak_rss_mib=round(base_rss, 1),
        cpu_ratios=[None if (c := r.cpu_ratio(label)) is None else round(c, 3) for r in result.rounds],
        loads_1min=[r.load_1min for r in result.rounds],
        ratio_ok=median_ratio <= GOAL_RATIO,
        stretch_ok=median_ratio <= STRETCH_RATIO,
        rss_ok=evi_rss <= GOAL_RSS_MIB,
    )


# -- arguments -------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description="evidock ingest vs bare minio fput_object of the same file, alternating, on a throwaway "
        "S3 server. Reports the median time ratio and peak RSS per file size.",
    )
    p.add_argument("--sizes", default="1,4", help="file sizes in GiB, comma separated (default: 1,4)")
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="rounds per size (default: 5 for 1 GiB, 4 for 4 GiB, 4 otherwise)",
    )
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="PART_MIB:PARALLEL",
        help="evidock s3.part_size_mib:s3.parallel_uploads to measure (repeatable; either side may be empty "
        "for the default); every variant runs in every round against the same baseline. "
        "Default: one variant with the settings' defaults",
    )
    p.add_argument("--json-out", type=Path, default=None, help="write the results as JSON to this file")
    add_run_options(p, name="ingest", port=7590)
    args = p.parse_args(argv)
    try:
        args.sizes = sorted({int(s) for s in str(args.sizes).split(",") if s.strip()})
    except ValueError:
        p.error(f"--sizes {args.sizes!r}: use whole GiB, e.g. 1,4")
    if not args.sizes or min(args.sizes) < 1:
        p.error("--sizes: at least one size of 1 GiB or more")
    if args.rounds is not None and args.rounds < 1:
        p.error("--rounds must be at least 1")
    args.variants = [_variant(p, v) for v in args.variant] or [Variant()]
    if len({v.label for v in args.variants}) != len(args.variants):
        p.error("--variant: each variant only once")
    return args


def _variant(p: argparse.ArgumentParser, text: str) -> Variant:
    part, sep, par = text.partition(":")
    if not sep:
        p.error(f"--variant {text!r}: use PART_MIB:PARALLEL, e.g. 32:3 (or 32: / :3)")
    try:
        return Variant(int(part) if part else None, int(par) if par else None)
    except ValueError:
        p.error(f"--variant {text!r}: use whole numbers, e.g. 32:3")


def rounds_for(size_gib: int, override: int | None) -> int:
    return override if override is not None else DEFAULT_ROUNDS.get(size_gib, 4)


# -- disk --------------------------------------------------------------------------------


def needed_bytes(sizes: Sequence[int], rounds: dict[int, int], variants: int) -> tuple[int, int]:
    """(bytes the server may hold at the end, bytes needed on disk in all).

    Every evidock run keeps its object locked, and deleted baseline objects
    keep their space until RGW's garbage collector runs, hours later: count
    them all. Plus 10 % for BlueStore's own overhead.
    The test files exist one at a time.
    """
    server = 0
    for size in sizes:
        n = rounds[size]
        server += size * GIB * (n * variants + n)  # evidock objects, baseline objects
        server += (variants + 1) * 2 * MIB  # warm-up objects
    server += server // 10
    return server, server + max(sizes) * GIB + MARGIN_BYTES


# -- the throwaway S3 server -----------------------------------------------------------


# -- test file -------------------------------------------------------------------------


def make_file(path: Path, size: int) -> None:
    """``size`` bytes: one 64 MiB random block repeated, each copy stamped with its index."""
    block = bytearray(os.urandom(FILL_BLOCK))
    started = time.perf_counter()
    with path.open("wb") as f:
        written = 0
        index = 0
        while written < size:
            block[:16] = index.to_bytes(16, "big")
            chunk = memoryview(block)[: min(FILL_BLOCK, size - written)]
            f.write(chunk)
            written += len(chunk)
            index += 1
        f.flush()
        os.fsync(f.fileno())  # no write-back of this file during the timed runs
    print(f"bench: wrote {path.name} ({size / GIB:g} GiB) in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def fresh_head(path: Path) -> None:
    """New content for the next evidock run: 32 fresh random bytes at the start (the rest stays cached)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, os.urandom(32), 0)
        os.fsync(fd)
    finally:
        os.close(fd)


# -- timed subprocesses --------------------------------------------------------------------


class Bench:
    def __init__(self, server: Server, work: Path, evidock: Sequence[str], source: Path | None) -> None:
        self.server = server
        self.work = work
        self.evidock = list(evidock)  # the command that is `evidock`
        self.source = source  # an exported commit, or None for the installed working tree
        self.client = bench_client(server)
        self.tag = uuid.uuid4().hex[:8]
        self.baseline_bucket = f"bench-base-{self.tag}"
        self.client.make_bucket(self.baseline_bucket)  # no versioning, no Object Lock: objects can be deleted

    def evidock_bucket(self, size_gib: int, index: int) -> str:
        return f"bench-evi-{self.tag}-{size_gib}g-v{index}"

    def make_evidock_bucket(self, bucket: str) -> None:
        """Created up front (as a dock station's bucket exists), so no run pays for bucket creation."""
        self.client.make_bucket(bucket, object_lock=True)

    def config(self, bucket: str, variant: Variant) -> Path:
        """A fresh config (and so a fresh SQLite catalog) in its own directory."""
        s3 = ""
        if variant.part_size_mib is not None:
            s3 += f"part_size_mib = {variant.part_size_mib}\n"
        if variant.parallel_uploads is not None:
            s3 += f"parallel_uploads = {variant.parallel_uploads}\n"
        return write_config(self.work, self.server, bucket, written_by="bench/ingest.py", s3=s3)

    def effective(self, variant: Variant) -> tuple[int, int]:
        """The part size (MiB) and parallel uploads evidock really uses for this variant."""
        path = self.config("bench-probe", variant)
        try:
            done = subprocess.run(
                [sys.executable, "-c", EFFECTIVE_SCRIPT, str(path), str(self.source or "")],
                env=evidock_env(self.server),
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            shutil.rmtree(path.parent)
        if done.returncode != 0:
            raise BenchError(f"evidock does not accept the config of variant {variant.label}: {done.stderr.strip()}")
        part, parallel = done.stdout.split()
        return int(part), int(parallel)

    def run_evidock(self, path: Path, bucket: str, variant: Variant) -> Run:
        fresh_head(path)
        config = self.config(bucket, variant)
        try:
            run, stdout = timed(
                [*self.evidock, "--config", str(config), "ingest", "--json", str(path)],
                env=evidock_env(self.server),
                cwd=config.parent,
                server=self.server,
                what=f"evidock ingest ({variant.label})",
            )
        finally:
            shutil.rmtree(config.parent, ignore_errors=True)
        ingest_outcome(stdout)
        return run

    def run_baseline(self, path: Path) -> Run:
        key = f"baseline/{uuid.uuid4().hex}"
        env = dict(os.environ)
        env["BENCH_S3_ACCESS_KEY"] = self.server.access_key
        env["BENCH_S3_SECRET_KEY"] = self.server.secret_key
        run, _ = timed(
            [sys.executable, "-c", BASELINE_SCRIPT, self.server.host, self.baseline_bucket, key, str(path)],
            env=env,
            cwd=self.work,
            server=self.server,
            what="baseline fput_object",
        )
        stat = self.client.stat_object(self.baseline_bucket, key)
        if stat.size != path.stat().st_size:
            raise BenchError(f"baseline object has {stat.size} bytes, the file {path.stat().st_size}")
        self.client.remove_object(self.baseline_bucket, key)  # untimed; no lock, so it can go
        return run

    def warm_up(self, buckets: Sequence[tuple[str, Variant]]) -> None:
        """Untimed: imports into the page cache, RGW pools and bucket indexes created, connections tried."""
        small = self.work / "warm-up.bin"
        small.write_bytes(os.urandom(MIB))
        self.run_baseline(small)
        for bucket, variant in buckets:
            self.run_evidock(small, bucket, variant)
        small.unlink()

    def measure(self, size_gib: int, rounds: int, variants: Sequence[Variant]) -> SizeResult:
        path = self.work / f"bench-{size_gib}GiB.bin"
        make_file(path, size_gib * GIB)
        buckets = {v.label: self.evidock_bucket(size_gib, i) for i, v in enumerate(variants)}
        for bucket in buckets.values():
            self.make_evidock_bucket(bucket)
        self.warm_up([(buckets[v.label], v) for v in variants])
        result = SizeResult(size_gib)
        sides: list[str] = ["baseline", *(v.label for v in variants)]
        try:
            for index in range(rounds):
                shift = index % len(sides)
                order = sides[shift:] + sides[:shift]  # alternate who goes first
                load = load_now()
                baseline: Run | None = None
                evidock: dict[str, Run] = {}
                for side in order:
                    if side == "baseline":
                        baseline = self.run_baseline(path)
                        shown = baseline
                    else:
                        variant = next(v for v in variants if v.label == side)
                        evidock[side] = shown = self.run_evidock(path, buckets[side], variant)
                    print(
                        f"bench: {size_gib} GiB round {index + 1}/{rounds} {side:>15}: {shown.seconds:7.2f} s, "
                        f"peak RSS {shown.peak_rss_mib:6.1f} MiB",
                        file=sys.stderr,
                    )
                assert baseline is not None
                result.rounds.append(Round(index + 1, order, baseline, evidock, load))
        finally:
            path.unlink(missing_ok=True)
        return result


# -- report ---------------------------------------------------------------------------------


def table(summaries: Sequence[Summary], results: Sequence[SizeResult]) -> str:
    lines = []
    for result in results:
        for r in result.rounds:
            cells = [f"baseline {r.baseline.seconds:6.2f} s"]
            cells += [
                f"{label} {run.seconds:6.2f} s (x{run.seconds / r.baseline.seconds:.2f})"
                for label, run in r.evidock.items()
            ]
            lines.append(f"  {result.size_gib} GiB round {r.index}: " + ", ".join(cells))
    header = (
        f"{'size':>5} {'evidock variant':>16} {'rounds':>6} {'baseline s':>10} {'evidock s':>9} "
        f"{'ratio':>6} {'CPU ratio':>9} {'evidock RSS':>11} {'baseline RSS':>12}  "
        f"goal (ratio<={GOAL_RATIO}, stretch {STRETCH_RATIO}; RSS<={GOAL_RSS_MIB:g} MiB)"
    )
    lines += ["", header, "-" * len(header)]
    for s in summaries:
        verdict = (
            ("met (stretch too)" if s.stretch_ok else "met")
            if s.ratio_ok and s.rss_ok
            else "MISSED: " + ", ".join(x for x, ok in (("ratio", s.ratio_ok), ("RSS", s.rss_ok)) if not ok)
        )
        cpu = [c for c in s.cpu_ratios if c is not None]
        cpu_text = f"{statistics.median(cpu):9.2f}" if cpu else f"{'-':>9}"
        lines.append(
            f"{s.size_gib:>3} GiB {s.part_size_mib:>4} MiB x {s.parallel_uploads:<3} {s.rounds:>8} "
            f"{s.baseline_median_s:>10.2f} {s.evidock_median_s:>9.2f} {s.median_ratio:>6.2f} {cpu_text} "
            f"{s.evidock_peak_rss_mib:>7.1f} MiB {s.baseline_peak_rss_mib:>8.1f} MiB  {verdict}"
        )
        lines.append(f"{'':>6} load (1 min) at each round's start: {', '.join(f'{x:.1f}' for x in s.loads_1min)}")
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    purge_on_sigterm()
    rounds = {size: rounds_for(size, args.rounds) for size in args.sizes}
    server_bytes, need = needed_bytes(args.sizes, rounds, len(args.variants))
    try:
        check_disk(args.work_dir.parent, need)
        if args.ref is None and not Path(args.evidock).is_file():
            raise BenchError(f"no evidock executable at {args.evidock}; install first (make install) or pass --evidock")
        with run_dir(args) as work:
            started_at = datetime.now(UTC)
            code = code_version(args.ref)
            load_before = os.getloadavg()
            source: Path | None = None
            evidock = [args.evidock]
            results: list[SizeResult] = []
            summaries: list[Summary] = []
            if args.ref is not None:
                source = export_commit(args.ref, work / "src")
                evidock = [sys.executable, "-c", SNAPSHOT_MAIN, str(source)]
            compile_bytecode(source or REPO)
            with run_server(args, sparse_block_bytes(server_bytes)) as server:
                bench = Bench(server, work, evidock, source)
                effective = {v.label: bench.effective(v) for v in args.variants}
                for size in args.sizes:
                    result = bench.measure(size, rounds[size], args.variants)
                    results.append(result)
                    summaries += [summarise(result, v, effective[v.label]) for v in args.variants]
                server_disk = block_file_bytes(server.data_dir)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    print(table(summaries, results))
    if args.json_out:
        report = {
            "benchmark": "ingest",
            "started_at": started_at.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "code": code,
            "load_average_1_5_15": {"start": load_before, "end": os.getloadavg()},
            "goal": {
                "median_ratio_max": GOAL_RATIO,
                "stretch_median_ratio_max": STRETCH_RATIO,
                "evidock_peak_rss_mib_max": GOAL_RSS_MIB,
            },
            "method": {
                "baseline": "python -c: Minio(...).fput_object(bucket, key, file), minio defaults",
                "evidock": "evidock --config <fresh config> ingest --json FILE",
                "ratio": "median over rounds of evidock seconds / baseline seconds of the same round",
            },
            "summaries": [asdict(s) for s in summaries],
            "rounds": [{"size_gib": r.size_gib, "rounds": [asdict(x) for x in r.rounds]} for r in results],
            "server_block_file_bytes": server_disk,
        }
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"bench: results written to {args.json_out}", file=sys.stderr)
    missed = any(not (s.ratio_ok and s.rss_ok) for s in summaries)
    return 2 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
