"""Deep-scan benchmark: `evidock ingest` of a long 1080p recording with ``[checks] deep_scan`` on vs off.

Usage (from the repository root)::

    python -m bench.checks                          # 30-minute 1080p recording, 3 rounds
    python -m bench.checks --minutes 5 --rounds 2   # a quick look
    python -m bench.checks --ref HEAD --rounds 9 --step-rounds 3 --json-out var/bench-checks.json

The goal (issue "checks benchmark"): the ingest of a 30-minute 1080p recording
with the deep scan (``PacketScan``: ffprobe reads every packet timestamp while
the upload runs) takes at most 1.15x the time of the same ingest without it,
and the metadata checks alone (``probe`` + ``file_findings`` without packets)
take at most 1 s per file.

Method, as in ``bench/ingest.py`` (both use ``bench/harness.py``):

* the test recording is a camera-like H.264/AAC MP4 made once with ffmpeg and
  cached under ``.local/bench-media/<key of its parameters>/``; making it is
  reported, never measured;
* deep scan on and off alternate inside one run, on one throwaway Ceph RGW
  (``.local/s3-bench-checks``, port 7600, purged at the end: every run leaves
  its object COMPLIANCE-locked). Each run is a fresh ``evidock --config <cfg>
  ingest --json FILE`` subprocess with a fresh SQLite catalog and a fresh
  bucket (content addressing would otherwise skip the upload as a duplicate);
  wall time from spawn to exit. The verdict is the **median of the per-round
  ratios** on / off: absolute seconds are only reported, never judged;
* where the time goes: ``--step-rounds`` in-process ingests per setting
  through a ``Pipeline`` subclass that times each step (probe, upload + hash,
  the wait for the packet scan, the CSV parse, lock, verify read-back, the
  checks in the INGEST transaction), and the pieces alone (packet scan, read +
  SHA-256, metadata checks) with no upload beside them;
* ``--ref HEAD`` measures a commit exported with ``git archive`` (this file
  and ``bench/harness.py`` copied in), as ``bench/ingest.py --ref`` does: the
  working tree may change while a run of several minutes goes on.

The deep scan's cost is a few per cent of a ~25 s ingest; on a shared 2-core
machine single runs vary by more than that, so use enough ``--rounds`` and read
the spread and the CPU seconds (reported too) beside the median ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

from sqlalchemy import Connection

import ingest.pipeline as pipeline_module
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
    cpu_seconds,
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
from ingest.checking import CheckOptions, file_findings
from ingest.filenames import BUILTIN_PATTERNS, parse_name
from ingest.findings import Finding
from ingest.pipeline import AfterVerify, Pipeline, _Flight, _Identity
from ingest.probe import PROBE_TIMEOUT_SECONDS, MediaFacts, PacketScan, probe
from ingest.watcher import look
from storage import recordings as recordings_db
from storage.receipts import Receipt

GOAL_RATIO = 1.15  # ingest with the deep scan / without, median of the per-round ratios
GOAL_METADATA_SECONDS = 1.0  # probe + file checks without packets, per file

CAMERA_NAME = "CAM01_P1001_20261120080000_0001.mp4"  # dock pattern; 08:00:00 Asia/Shanghai
CREATION_TIME = "2026-11-20T00:00:00Z"  # the same moment in UTC, as a camera embeds it
TIMEZONE = "Asia/Shanghai"
WARM_UP_MINUTES = 0.25
READ_CHUNK = 16 * MIB
BESIDE = "beside the upload"

T = TypeVar("T")


@dataclass(frozen=True)
class MediaSpec:
    """How the test recording is made; the cache key is derived from all of it."""

    minutes: float
    width: int = 1920
    height: int = 1080
    fps: int = 25
    video_bitrate_kbit: int = 8000  # body cameras record ~4-8 Mbit/s at 1080p
    preset: str = "ultrafast"
    gop: int = 50  # a key frame every 2 s
    audio_rate: int = 16000
    audio_bitrate_kbit: int = 64

    @property
    def seconds(self) -> float:
        return self.minutes * 60

    @property
    def expected_bytes(self) -> int:
        return int((self.video_bitrate_kbit + self.audio_bitrate_kbit) * 1000 / 8 * self.seconds)

    def key(self, ffmpeg_version: str) -> str:
        params = asdict(self)
        if float(self.minutes).is_integer():
            params["minutes"] = int(self.minutes)  # --minutes 30 and --minutes 30.0 are one recording
        text = json.dumps({**params, "name": CAMERA_NAME, "ctime": CREATION_TIME, "ffmpeg": ffmpeg_version})
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def ffmpeg_args(self, target: Path) -> list[str]:
        rate = f"{self.video_bitrate_kbit}k"
        return [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-nostdin",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={self.width}x{self.height}:rate={self.fps}",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=300:sample_rate={self.audio_rate}",
            "-t",
            f"{self.seconds:g}",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-c:v",
            "libx264",
            "-preset",
            self.preset,
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(self.gop),
            "-b:v",
            rate,
            "-maxrate",
            rate,
            "-bufsize",
            f"{2 * self.video_bitrate_kbit}k",
            "-c:a",
            "aac",
            "-b:a",
            f"{self.audio_bitrate_kbit}k",
            "-metadata",
            f"creation_time={CREATION_TIME}",
            # No +faststart: a camera writes the index (moov) at the end, as it records.
            "-f",
            "mp4",
            str(target),
        ]


def ffmpeg_version() -> str:
    try:
        done = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError("ffmpeg is not installed; run `make install` (Debian package ffmpeg)") from exc
    return done.stdout.splitlines()[0] if done.stdout else "unknown"


def ensure_media(spec: MediaSpec, media_dir: Path) -> tuple[Path, float | None]:
    """The cached test recording for ``spec`` (made once, niced); and the seconds it took, if made now."""
    folder = media_dir / spec.key(ffmpeg_version())
    target = folder / CAMERA_NAME
    if target.is_file():
        return target, None
    check_disk(media_dir, int(spec.expected_bytes * 1.3) + GIB)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / (CAMERA_NAME + ".part")
    print(
        f"bench: generating a {spec.minutes:g}-minute {spec.width}x{spec.height} test recording "
        f"(~{spec.expected_bytes / GIB:.2f} GiB) in {folder} ...",
        file=sys.stderr,
    )
    started = time.perf_counter()
    try:
        # niced: the generation is not measured and should disturb others as little as possible
        subprocess.run(["nice", "-n", "19", *spec.ffmpeg_args(partial)], check=True)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if not any(folder.iterdir()):
            folder.rmdir()
        if isinstance(exc, subprocess.CalledProcessError):
            raise BenchError(f"ffmpeg failed with exit code {exc.returncode}") from exc
        raise
    with partial.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(partial, target)
    seconds = time.perf_counter() - started
    made = {
        **asdict(spec),
        "generated_seconds": round(seconds, 1),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (folder / "spec.json").write_text(json.dumps(made, indent=2) + "\n", encoding="utf-8")
    print(f"bench: generated {target.name} ({target.stat().st_size / GIB:.2f} GiB) in {seconds:.0f} s", file=sys.stderr)
    return target, seconds


def media_facts_of(path: Path) -> dict[str, Any]:
    """What ffprobe says about the test recording (for the report)."""
    facts = probe(path)
    return {
        "bytes": path.stat().st_size,
        "duration_s": (facts.duration_ms or 0) / 1000,
        "video": f"{facts.video_codec} {facts.width}x{facts.height} @ {facts.frame_rate}",
        "audio": facts.audio_codec,
        "frames": facts.frames,
        "creation_time": facts.creation_time.isoformat() if facts.creation_time else None,
        "mbit_s": round(path.stat().st_size * 8 / 1e6 / ((facts.duration_ms or 1) / 1000), 2),
    }


# -- timing helpers ---------------------------------------------------------------------


def timed_call(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


class TimedScan(PacketScan):
    """``PacketScan`` that notes when ffprobe exits, its CPU, the wait in ``result()`` and the CSV parse."""

    def __init__(self, path: Path) -> None:
        self.started = time.perf_counter()
        super().__init__(path)
        self.exited_after: float | None = None  # seconds from start to ffprobe's exit
        self.ffprobe_cpu_s: float | None = None
        self.wait_s = 0.0  # how long result() waited for ffprobe
        self.parse_s = 0.0  # reading the CSV into lists of ints
        self.csv_bytes = 0
        self.counts: dict[int, int] | None = None
        # Reaps ffprobe the moment it exits (so its exit time is known even when
        # the upload is still running); result()'s own wait then returns at once.
        self._watch = threading.Thread(target=self._watch_exit, daemon=True)
        self._watch.start()

    def _watch_exit(self) -> None:
        try:
            # Wait for the exit without reaping: the zombie's /proc/<pid>/stat still
            # holds its own CPU time (a header probe running beside it is not counted).
            os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOWAIT)
            self.exited_after = time.perf_counter() - self.started
            self.ffprobe_cpu_s = cpu_seconds([self._proc.pid])
        except ChildProcessError:  # reaped already (cancelled)
            pass
        self._proc.wait()

    def result(self, timeout: float = PROBE_TIMEOUT_SECONDS * 10) -> dict[int, list[int]] | None:
        waiting = time.perf_counter()
        self._watch.join(timeout)
        parsing = time.perf_counter()
        if self._proc.returncode is not None and not self._out.closed:
            self.csv_bytes = self._out.seek(0, os.SEEK_END)
        packets = super().result(timeout)
        self.wait_s = parsing - waiting
        self.parse_s = time.perf_counter() - parsing
        self.counts = {index: len(pts) for index, pts in packets.items()} if packets is not None else None
        return packets


class TimedPipeline(Pipeline):
    """The real pipeline, each step timed (seconds, summed per step name)."""

    def __init__(self, base: Pipeline) -> None:
        super().__init__(store=base.store, catalog=base.catalog, journal=base.journal, options=base.options)
        self.times: dict[str, float] = {}
        self.scan: TimedScan | None = None
        self.steps: list[str] = []  # the main thread's steps running now, outermost first
        # Where the header probe ran: in a step ("hash", "lock") and so part of its time, or
        # BESIDE when the pipeline runs it in a thread beside the upload (not part of any step's own work).
        self.probed_in: str | None = None

    def _timed(self, name: str, fn: Callable[[], T], *, step: bool = True) -> T:
        started = time.perf_counter()
        if step:
            self.steps.append(name)
        try:
            return fn()
        finally:
            if step:
                self.steps.pop()
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - started

    def _hash(self, receipt: Receipt, flight: _Flight) -> Receipt:
        return self._timed("hash", lambda: super(TimedPipeline, self)._hash(receipt, flight))

    def _store(self, receipt: Receipt, progress: Callable[[int], None] | None) -> Receipt:
        return self._timed("store", lambda: super(TimedPipeline, self)._store(receipt, progress))

    def _verify(self, receipt: Receipt) -> Receipt:
        return self._timed("verify", lambda: super(TimedPipeline, self)._verify(receipt))

    def _lock(self, receipt: Receipt, flight: _Flight) -> Receipt:
        return self._timed("lock", lambda: super(TimedPipeline, self)._lock(receipt, flight))

    def _log(self, receipt: Receipt, flight: _Flight) -> tuple[Receipt, tuple[str, ...]]:
        return self._timed("log", lambda: super(TimedPipeline, self)._log(receipt, flight))

    def _release(self, receipt: Receipt) -> Receipt:
        return self._timed("release", lambda: super(TimedPipeline, self)._release(receipt))

    def _identify(self, receipt: Receipt, flight: _Flight) -> _Identity:
        beside = threading.current_thread() is not threading.main_thread()
        if flight.identity is not None or (not beside and flight.probing is not None):
            return super()._identify(receipt, flight)  # probed already, or being probed beside
        self.probed_in = BESIDE if beside else (self.steps[0] if self.steps else None)
        return self._timed("probe", lambda: super(TimedPipeline, self)._identify(receipt, flight), step=False)

    def _start_scan(self, receipt: Receipt) -> PacketScan | None:
        scan = super()._start_scan(receipt)
        if isinstance(scan, TimedScan):
            self.scan = scan
        return scan

    def _check(
        self,
        conn: Connection,
        receipt: Receipt,
        recording: recordings_db.Recording,
        flight: _Flight,
        packets: dict[int, list[int]] | None,
    ) -> None:
        self._timed(
            "checks",
            lambda: super(TimedPipeline, self)._check(conn, receipt, recording, flight, packets),
            step=False,
        )


# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    """One `evidock ingest` subprocess."""

    deep_scan: bool
    seconds: float
    cpu_user_s: float  # evidock and its reaped children (ffprobe)
    cpu_sys_s: float
    peak_rss_mib: float
    server_cpu_s: float | None
    load_before: float
    load_after: float
    findings: dict[str, int]  # kind -> count, from the run's catalog
    entries: dict[str, int]  # log entry type -> count


@dataclass
class CliRound:
    index: int
    order: list[str]
    off: CliRun
    on: CliRun

    @property
    def ratio(self) -> float:
        return self.on.seconds / self.off.seconds


@dataclass(frozen=True)
class StepTimes:
    """One in-process ingest through ``TimedPipeline``."""

    deep_scan: bool
    total_s: float
    steps: dict[str, float]  # raw step times (nested: probe and checks are inside other steps)
    probed_in: str | None  # the step the header probe ran in
    shares: dict[str, float]  # the exclusive pieces, seconds
    scan: dict[str, Any] | None
    findings: dict[str, int]
    load_before: float
    load_after: float


@dataclass
class Pieces:
    """The pieces alone, in-process, with no upload beside them (medians of the repeats)."""

    metadata_s: list[float] = field(default_factory=list)  # probe + file_findings(packets=None)
    probe_s: list[float] = field(default_factory=list)
    file_checks_s: list[float] = field(default_factory=list)
    file_checks_with_packets_s: list[float] = field(default_factory=list)
    scan_wall_s: list[float] = field(default_factory=list)  # PacketScan start to result() returned
    scan_ffprobe_s: list[float] = field(default_factory=list)  # ffprobe start to exit
    scan_ffprobe_cpu_s: list[float] = field(default_factory=list)
    scan_parse_s: list[float] = field(default_factory=list)
    csv_bytes: int = 0
    packets: dict[str, int] = field(default_factory=dict)  # "video:0" -> count
    findings_without_packets: list[str] = field(default_factory=list)
    findings_with_packets: list[str] = field(default_factory=list)
    read_sha256_s: list[float] = field(default_factory=list)
    read_sha256_cpu_s: list[float] = field(default_factory=list)

    def median(self, name: str) -> float | None:
        values = getattr(self, name)
        return round(statistics.median(values), 3) if values else None


# -- arguments ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.checks",
        description="evidock ingest of a long 1080p recording with the deep scan on vs off, alternating, on a "
        "throwaway S3 server; plus the metadata checks alone and where the time goes.",
    )
    p.add_argument("--minutes", type=float, default=30.0, help="length of the test recording (default: 30)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of (deep scan off, deep scan on) (default: 3)")
    p.add_argument("--bitrate-kbit", type=int, default=8000, help="video bitrate of the test recording (default: 8000)")
    p.add_argument("--repeats", type=int, default=5, help="repeats of the in-process metadata checks (default: 5)")
    p.add_argument("--scan-repeats", type=int, default=3, help="repeats of the packet scan alone (default: 3)")
    p.add_argument(
        "--step-rounds",
        type=int,
        default=1,
        help="rounds of in-process step-timed ingests, deep scan off and on (where the time goes); 0 skips them "
        "(default: 1)",
    )
    p.add_argument("--json-out", type=Path, default=None, help="write the results as JSON to this file")
    p.add_argument(
        "--media-dir",
        type=Path,
        default=REPO / ".local" / "bench-media",
        help="cache of generated test recordings (default: .local/bench-media; kept)",
    )
    p.add_argument("--measured-code", default=None, help=argparse.SUPPRESS)  # set by --ref for the re-run
    add_run_options(p, name="checks", port=7600)
    args = p.parse_args(argv)
    if args.minutes <= 0:
        p.error("--minutes must be positive")
    if args.step_rounds < 0:
        p.error("--step-rounds must be 0 or more")
    for name in ("rounds", "repeats", "scan_repeats", "bitrate_kbit"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


# -- the subprocess runs --------------------------------------------------------------------


def catalog_counts(db: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(findings by kind, log entries by type) in one run's SQLite catalog."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        findings = dict(conn.execute("SELECT kind, COUNT(*) FROM findings GROUP BY kind").fetchall())
        entries = dict(conn.execute("SELECT type, COUNT(*) FROM log_entries GROUP BY type").fetchall())
    finally:
        conn.close()
    return {str(k): int(v) for k, v in findings.items()}, {str(k): int(v) for k, v in entries.items()}


class ChecksBench:
    def __init__(self, server: Server, work: Path, evidock: str) -> None:
        self.server = server
        self.work = work
        self.evidock = evidock
        self.client = bench_client(server)
        self.tag = uuid.uuid4().hex[:8]
        self.buckets = 0

    def fresh_bucket(self) -> str:
        """A new bucket with Object Lock, made untimed (a station's bucket exists before it ingests)."""
        self.buckets += 1
        bucket = f"bench-chk-{self.tag}-{self.buckets}"
        self.client.make_bucket(bucket, object_lock=True)
        return bucket

    def config(self, bucket: str, *, deep_scan: bool) -> Path:
        """A fresh config (and so a fresh SQLite catalog) in its own directory."""
        return write_config(
            self.work,
            self.server,
            bucket,
            written_by="bench/checks.py",
            more=f"[checks]\ndeep_scan = {'true' if deep_scan else 'false'}\n",
        )

    def run_cli(self, path: Path, *, deep_scan: bool) -> CliRun:
        config = self.config(self.fresh_bucket(), deep_scan=deep_scan)
        try:
            before = load_now()
            run, stdout = timed(
                [self.evidock, "--config", str(config), "ingest", "--json", str(path)],
                env=evidock_env(self.server),
                cwd=config.parent,
                server=self.server,
                what=f"evidock ingest (deep scan {'on' if deep_scan else 'off'})",
            )
            after = load_now()
            ingest_outcome(stdout)
            findings, entries = catalog_counts(config.parent / "evidock.db")
        finally:
            shutil.rmtree(config.parent, ignore_errors=True)
        return _cli_run(run, deep_scan=deep_scan, before=before, after=after, findings=findings, entries=entries)

    def run_steps(self, path: Path, *, deep_scan: bool) -> StepTimes:
        """One ingest in this process through ``TimedPipeline`` (the CLI's own wiring otherwise)."""
        from evidock import settings as settings_module
        from evidock.app import open_app

        config = self.config(self.fresh_bucket(), deep_scan=deep_scan)
        try:
            settings = settings_module.load(config, environ=evidock_env(self.server))
            docked = look(path.parent, path, ())
            if docked is None:
                raise BenchError(f"{path} is not a regular file")
            before = load_now()
            with open_app(settings) as evi, mock.patch.object(pipeline_module, "PacketScan", TimedScan):
                pipeline = TimedPipeline(evi.pipeline(after_verify=AfterVerify.KEEP))
                outcome, total = timed_call(lambda: pipeline.ingest(docked))
            after = load_now()
            if outcome is None or outcome.receipt.state.value != "released" or outcome.duplicate:
                raise BenchError(f"in-process ingest did not store new content: {outcome}")
            findings, _ = catalog_counts(config.parent / "evidock.db")
        finally:
            shutil.rmtree(config.parent, ignore_errors=True)
        steps = {k: round(v, 3) for k, v in pipeline.times.items()}
        scan = pipeline.scan
        wait = scan.wait_s if scan else 0.0
        parse = scan.parse_s if scan else 0.0
        probe_s = pipeline.times.get("probe", 0.0)
        # The header probe runs beside the hash (a thread started by _hash); only a resumed
        # receipt probes in the first step that needs the media facts (_lock: the retain-until).
        hash_probe = probe_s if pipeline.probed_in == "hash" else 0.0
        lock_probe = probe_s if pipeline.probed_in == "lock" else 0.0
        checks = pipeline.times.get("checks", 0.0)
        shares = {
            "probe": probe_s,
            "hash": pipeline.times["hash"] - hash_probe,  # (the scan and the probe start here)
            "upload": pipeline.times["store"],  # abort leftovers, upload straight to the content key
            "verify": pipeline.times["verify"],
            "lock": pipeline.times["lock"] - lock_probe,
            "scan_wait": wait,  # in _log, before its transaction
            "scan_parse": parse,
            "checks": checks,
            "log_other": pipeline.times["log"] - checks - wait - parse,
            "release": pipeline.times["release"],
        }
        # A probe beside the upload overlaps it: not added again.
        shares["other"] = total - sum(v for k, v in shares.items() if k != "probe" or pipeline.probed_in != BESIDE)
        return StepTimes(
            deep_scan=deep_scan,
            total_s=round(total, 3),
            steps=steps,
            probed_in=pipeline.probed_in,
            shares={k: round(v, 3) for k, v in shares.items()},
            scan=_scan_facts(scan, shares["hash"] + shares["upload"]) if scan else None,
            findings=findings,
            load_before=before,
            load_after=after,
        )


def _scan_facts(scan: TimedScan, upload_s: float) -> dict[str, Any]:
    return {
        "ffprobe_exited_after_s": round(scan.exited_after, 3) if scan.exited_after is not None else None,
        "hash_upload_s": round(upload_s, 3),
        "ffprobe_cpu_s": round(scan.ffprobe_cpu_s, 3) if scan.ffprobe_cpu_s is not None else None,
        "wait_s": round(scan.wait_s, 3),
        "parse_s": round(scan.parse_s, 3),
        "csv_bytes": scan.csv_bytes,
        "packets": scan.counts,
    }


def _cli_run(
    run: Run, *, deep_scan: bool, before: float, after: float, findings: dict[str, int], entries: dict[str, int]
) -> CliRun:
    return CliRun(
        deep_scan=deep_scan,
        seconds=round(run.seconds, 3),
        cpu_user_s=run.cpu_user_s,
        cpu_sys_s=run.cpu_sys_s,
        peak_rss_mib=round(run.peak_rss_mib, 1),
        server_cpu_s=run.server_cpu_s,
        load_before=before,
        load_after=after,
        findings=findings,
        entries=entries,
    )


def show(run: CliRun, label: str) -> None:
    print(
        f"bench: {label} deep scan {'on ' if run.deep_scan else 'off'}: {run.seconds:7.2f} s, "
        f"CPU {run.cpu_user_s + run.cpu_sys_s:6.2f} s, server CPU {run.server_cpu_s} s, "
        f"load {run.load_before:.1f}->{run.load_after:.1f}, findings {run.findings}",
        file=sys.stderr,
    )


# -- the pieces alone ---------------------------------------------------------------------------


def measure_pieces(path: Path, repeats: int, scan_repeats: int) -> Pieces:
    from zoneinfo import ZoneInfo

    pieces = Pieces()
    named = parse_name(path.name, BUILTIN_PATTERNS, ZoneInfo(TIMEZONE))
    if named is None:
        raise BenchError(f"{path.name} matches none of the built-in name patterns")
    mtime = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    options = CheckOptions()

    def checks(media: MediaFacts, packets: dict[int, list[int]] | None) -> list[Finding]:
        return file_findings(
            "0" * 64,
            name=path.name,
            named=named,
            media=media,
            packets=packets,
            mtime=mtime,
            patterns=BUILTIN_PATTERNS,
            options=options,
        )

    media = probe(path)  # untimed: warms the page cache for the header reads
    for _ in range(repeats):
        started = time.perf_counter()
        media = probe(path)
        probed = time.perf_counter()
        found = checks(media, None)
        checked = time.perf_counter()
        pieces.probe_s.append(probed - started)
        pieces.file_checks_s.append(checked - probed)
        pieces.metadata_s.append(checked - started)
        pieces.findings_without_packets = sorted(f.kind.value for f in found)
    packets: dict[int, list[int]] | None = None
    for _ in range(scan_repeats):
        scan = TimedScan(path)
        packets = scan.result()  # called at once: the wall time runs from the scan's start
        if packets is None:
            raise BenchError("the packet scan failed on the test recording")
        pieces.scan_wall_s.append(time.perf_counter() - scan.started)
        pieces.scan_ffprobe_s.append(scan.exited_after or 0.0)
        pieces.scan_ffprobe_cpu_s.append(scan.ffprobe_cpu_s or 0.0)
        pieces.scan_parse_s.append(scan.parse_s)
        pieces.csv_bytes = scan.csv_bytes
    assert packets is not None
    kinds = {s.index: s.kind for s in media.streams}
    pieces.packets = {f"{kinds.get(i, '?')}:{i}": len(pts) for i, pts in sorted(packets.items())}
    for _ in range(repeats):
        started = time.perf_counter()
        found = checks(media, packets)
        pieces.file_checks_with_packets_s.append(time.perf_counter() - started)
        pieces.findings_with_packets = sorted(f.kind.value for f in found)
    for _ in range(2):
        cpu = time.process_time()
        _, seconds = timed_call(lambda: sha256_of(path))
        pieces.read_sha256_s.append(seconds)
        pieces.read_sha256_cpu_s.append(time.process_time() - cpu)
    return pieces


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_once(path: Path) -> float:
    """Read the file once (untimed by the caller's measure): every run then finds it in the page cache."""
    started = time.perf_counter()
    with path.open("rb") as f:
        while f.read(READ_CHUNK):
            pass
    return time.perf_counter() - started


# -- report ------------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3)


def _median_of(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _list(values: Sequence[float | None]) -> str:
    return ", ".join(_fmt(v) for v in values)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary(rounds: Sequence[CliRound], pieces: Pieces) -> dict[str, Any]:
    ratios = [r.ratio for r in rounds]
    off = _median([r.off.seconds for r in rounds])
    on = _median([r.on.seconds for r in rounds])
    median_ratio = _median(ratios)
    metadata = pieces.median("metadata_s")
    internal_gaps = [r.on.findings.get("internal_gap", 0) for r in rounds]
    return {
        "ratios": [round(x, 3) for x in ratios],
        "median_ratio": median_ratio,
        "ratio_of_medians": round(on / off, 3),
        "off_median_s": off,
        "on_median_s": on,
        "off_cpu_median_s": _median([r.off.cpu_user_s + r.off.cpu_sys_s for r in rounds]),
        "on_cpu_median_s": _median([r.on.cpu_user_s + r.on.cpu_sys_s for r in rounds]),
        "internal_gap_findings_on": internal_gaps,
        "metadata_median_s": metadata,
        "ratio_ok": median_ratio <= GOAL_RATIO,
        "metadata_ok": metadata is not None and metadata <= GOAL_METADATA_SECONDS,
    }


SHARE_LABELS = {
    "probe": "probe (ffprobe headers)",
    "hash": "SHA-256 of the file (first read)",
    "upload": "upload to the content key (second read)",
    "verify": "verify (read-back + SHA-256)",
    "lock": "lock (retention set + read back)",
    "scan_wait": "wait for the packet scan before logging",
    "scan_parse": "packet CSV → lists (PacketScan.result)",
    "checks": "checks in the INGEST transaction",
    "log_other": "rest of the log step",
    "release": "release",
    "other": "other (receipts, resume)",
}


def markdown(report: dict[str, Any]) -> str:
    s = report["summary"]
    m = report["machine"]
    rec = report["recording"]
    pieces = report["pieces"]
    rounds = report["rounds"]
    gen = report["generation"]
    loads = [r[k]["load_before"] for r in rounds for k in ("off", "on")]
    lines = [
        f"### Deep scan on vs off (`python -m bench.checks`), {report['started_at'][:10]}",
        "",
        f"Machine: {m.get('cpus')} cores ({m.get('cpu', '?')}), {m.get('memory_gib', '?')} GiB RAM; "
        f"load average (1 min) {report['load_at_start']:.1f} at the start, {min(loads):.1f} to {max(loads):.1f} "
        f"at the runs' starts. Commit {str(report['code'].get('commit'))[:10]}"
        + (f" (+ modified: {', '.join(report['code']['modified'])})" if report["code"].get("modified") else "")
        + (f" (exported with git archive from {report['code']['ref']})" if report["code"].get("ref") else "")
        + "."
        + (" **The working tree changed during the run.**" if report.get("code_changed_during_run") else ""),
        "",
        f"Test recording: {rec['duration_s'] / 60:g} min, {rec['video']}, {rec['mbit_s']} Mbit/s, "
        f"{rec['audio']}; {rec['bytes'] / GIB:.2f} GiB, {rec['frames']} video frames "
        f"(made once with ffmpeg in {_fmt(gen.get('seconds'), 0)} s, not measured).",
        "",
        "| round | order | deep scan off (s) | deep scan on (s) | on / off |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in rounds:
        lines.append(
            f"| {r['index']} | {' → '.join(r['order'])} | {r['off']['seconds']:.2f} | {r['on']['seconds']:.2f} "
            f"| {r['on']['seconds'] / r['off']['seconds']:.3f} |"
        )
    lines += [
        f"| median | | {s['off_median_s']:.2f} | {s['on_median_s']:.2f} | **{s['median_ratio']:.3f}** |",
        "",
        f"Per-round ratios {min(s['ratios']):.3f} to {max(s['ratios']):.3f}; ratio of the medians "
        f"{s['ratio_of_medians']:.3f}. CPU of the `evidock ingest` process and its ffprobe children (median): "
        f"off {s['off_cpu_median_s']:.1f} s, on {s['on_cpu_median_s']:.1f} s.",
        "",
        "| goal | measured | met |",
        "|---|---:|---|",
        f"| ingest time deep scan on / off ≤ {GOAL_RATIO} (median of per-round ratios) | "
        f"{s['median_ratio']:.3f} | {'yes' if s['ratio_ok'] else '**no**'} |",
        f"| metadata checks alone (probe + file checks, no packets) ≤ {GOAL_METADATA_SECONDS:g} s per file | "
        f"{_fmt(s['metadata_median_s'], 3)} s | {'yes' if s['metadata_ok'] else '**no**'} |",
        "",
    ]
    steps = report.get("steps") or []
    if steps:
        off_runs = [st for st in steps if not st["deep_scan"]]
        on_runs = [st for st in steps if st["deep_scan"]]
        n = max(len(off_runs), len(on_runs))
        lines += [
            f"Where the time goes ({'one in-process ingest' if n == 1 else f'median of {n} in-process ingests'} "
            "per setting, step-timed `Pipeline`):",
            "",
            "| step | deep scan off (s) | deep scan on (s) |",
            "|---|---:|---:|",
        ]
        for key, label in SHARE_LABELS.items():
            a = _median_of([st["shares"].get(key) for st in off_runs])
            b = _median_of([st["shares"].get(key) for st in on_runs])
            lines.append(f"| {label} | {_fmt(a)} | {_fmt(b)} |")
        total_off = _median_of([st["total_s"] for st in off_runs])
        total_on = _median_of([st["total_s"] for st in on_runs])
        lines.append(f"| **total** | **{_fmt(total_off)}** | **{_fmt(total_on)}** |")
        if n > 1:
            lines.append(
                f"| totals of the runs | {_list([st['total_s'] for st in off_runs])} | "
                f"{_list([st['total_s'] for st in on_runs])} |"
            )
        lines += [
            "",
            f"Where the header probe ran: {', '.join(sorted({str(st['probed_in']) for st in steps}))} "
            f"(in a step: part of that step's time, subtracted from it above; {BESIDE}: overlapping it, "
            "not part of the total).",
        ]
        scans = [st["scan"] for st in on_runs if st.get("scan")]
        if scans:
            lines += [
                "With the deep scan, ffprobe exited "
                f"{_list([sc['ffprobe_exited_after_s'] for sc in scans])} s after it started, while the upload beside "
                f"it took {_list([sc['hash_upload_s'] for sc in scans])} s; ffprobe used "
                f"{_list([sc['ffprobe_cpu_s'] for sc in scans])} s CPU; packets {scans[0]['packets']}.",
            ]
        lines.append("")
    lines += [
        "The pieces alone, in-process, nothing beside them (medians):",
        "",
        "| piece | seconds |",
        "|---|---:|",
        f"| probe (ffprobe headers) | {_fmt(pieces['probe_s'], 3)} |",
        f"| file checks, no packets | {_fmt(pieces['file_checks_s'], 3)} |",
        f"| **metadata checks (probe + file checks)** | **{_fmt(pieces['metadata_s'], 3)}** |",
        f"| packet scan: ffprobe start → exit (CPU {_fmt(pieces['scan_ffprobe_cpu_s'])} s) | "
        f"{_fmt(pieces['scan_ffprobe_s'])} |",
        f"| packet scan: CSV parse ({pieces['csv_bytes'] / MIB:.1f} MiB) | {_fmt(pieces['scan_parse_s'])} |",
        f"| packet scan total (PacketScan start → result) | {_fmt(pieces['scan_wall_s'])} |",
        f"| file checks with packets | {_fmt(pieces['file_checks_with_packets_s'], 3)} |",
        f"| read + SHA-256 of the file (page cache; CPU {_fmt(pieces['read_sha256_cpu_s'])} s) | "
        f"{_fmt(pieces['read_sha256_s'])} |",
        "",
        f"Packets: {pieces['packets']}. Findings of the clean file — without packets: "
        f"{pieces['findings_without_packets'] or 'none'}; with packets: {pieces['findings_with_packets'] or 'none'}; "
        f"internal_gap findings in the deep-scan runs' catalogs: {s['internal_gap_findings_on']}.",
    ]
    return "\n".join(lines)


def pieces_json(p: Pieces) -> dict[str, Any]:
    out: dict[str, Any] = {
        name: p.median(name)
        for name in (
            "metadata_s",
            "probe_s",
            "file_checks_s",
            "file_checks_with_packets_s",
            "scan_wall_s",
            "scan_ffprobe_s",
            "scan_ffprobe_cpu_s",
            "scan_parse_s",
            "read_sha256_s",
            "read_sha256_cpu_s",
        )
    }
    out["all"] = {k: [round(x, 3) for x in v] for k, v in asdict(p).items() if isinstance(v, list) and v}
    out["csv_bytes"] = p.csv_bytes
    out["packets"] = p.packets
    out["findings_without_packets"] = p.findings_without_packets
    out["findings_with_packets"] = p.findings_with_packets
    return out


# -- main -----------------------------------------------------------------------------------------


def run_rounds(bench: ChecksBench, path: Path, rounds: int) -> list[CliRound]:
    result: list[CliRound] = []
    for index in range(rounds):
        order = ["off", "on"] if index % 2 == 0 else ["on", "off"]  # alternate who goes first
        runs: dict[str, CliRun] = {}
        for side in order:
            runs[side] = bench.run_cli(path, deep_scan=side == "on")
            show(runs[side], f"round {index + 1}/{rounds}")
        result.append(CliRound(index + 1, order, runs["off"], runs["on"]))
        print(f"bench: round {index + 1}: on / off = {result[-1].ratio:.3f}", file=sys.stderr)
    return result


def run_at_ref(args: argparse.Namespace) -> int:
    """Run this benchmark again inside an export of ``args.ref``: both the CLI runs and the in-process parts."""
    with run_dir(args, prefix="src-") as snapshot:
        src = export_commit(args.ref, snapshot / "src")
        (src / "bench").mkdir(exist_ok=True)
        for name in ("__init__.py", "harness.py", "checks.py"):  # the harness as it is here
            shutil.copy2(REPO / "bench" / name, src / "bench" / name)
        argv = [
            *("--minutes", f"{args.minutes:g}", "--rounds", str(args.rounds)),
            *("--bitrate-kbit", str(args.bitrate_kbit), "--repeats", str(args.repeats)),
            *("--scan-repeats", str(args.scan_repeats), "--port", str(args.port), "--evidock", args.evidock),
            *("--media-dir", str(args.media_dir.resolve()), "--work-dir", str(args.work_dir.resolve())),
            *("--s3-dir", str(args.s3_dir.resolve())),
            *("--measured-code", json.dumps(code_version(args.ref))),
            *(["--json-out", str(args.json_out.resolve())] if args.json_out else []),
            *("--step-rounds", str(args.step_rounds)),
            *(["--keep-server"] if args.keep_server else []),
            *(["--strict"] if args.strict else []),
        ]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
        print(f"bench: measuring {args.ref} exported to {src}", file=sys.stderr)
        child = subprocess.Popen([sys.executable, "-m", "bench.checks", *argv], cwd=src, env=env)
        try:
            return child.wait()
        except BaseException:
            child.send_signal(signal.SIGTERM)  # it purges its server on the way out
            child.wait()
            raise


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Everything measured (raises BenchError)."""
    spec = MediaSpec(minutes=args.minutes, video_bitrate_kbit=args.bitrate_kbit)
    warm_spec = MediaSpec(minutes=WARM_UP_MINUTES, video_bitrate_kbit=args.bitrate_kbit)
    runs = 2 * (args.rounds + args.step_rounds)
    if not Path(args.evidock).is_file():
        raise BenchError(f"no evidock executable at {args.evidock}; install first (make install) or pass --evidock")
    path, generated = ensure_media(spec, args.media_dir)
    warm, _ = ensure_media(warm_spec, args.media_dir)
    size = path.stat().st_size
    # Every run keeps its object locked; +10 % for BlueStore.
    server_bytes = int((runs * size + 2 * runs * warm.stat().st_size) * 1.1)
    check_disk(args.work_dir.parent, server_bytes + MARGIN_BYTES)
    recording = media_facts_of(path)
    print(f"bench: test recording {path} ({size / GIB:.2f} GiB): {recording}", file=sys.stderr)
    steps: list[StepTimes] = []
    with run_dir(args) as work:
        compile_bytecode(REPO)  # the measured tree: this one, or the --ref export this re-run lives in
        with run_server(args, sparse_block_bytes(server_bytes)) as server:
            bench = ChecksBench(server, work, args.evidock)
            for deep_scan in (False, True):  # untimed: imports, RGW pools, bucket index, connections
                bench.run_cli(warm, deep_scan=deep_scan)
            print(f"bench: read the recording once into the page cache in {read_once(path):.1f} s", file=sys.stderr)
            rounds = run_rounds(bench, path, args.rounds)
            for index in range(args.step_rounds):
                for deep_scan in (False, True) if index % 2 == 0 else (True, False):
                    step = bench.run_steps(path, deep_scan=deep_scan)
                    print(f"bench: step-timed ingest {index + 1}/{args.step_rounds}: {step}", file=sys.stderr)
                    steps.append(step)
            server_disk = block_file_bytes(server.data_dir)
    print("bench: the pieces alone (in-process) ...", file=sys.stderr)
    pieces = measure_pieces(path, args.repeats, args.scan_repeats)
    return {
        "recording": recording,
        "recording_path": str(path),
        "generation": _generation(path, generated),
        "summary": summary(rounds, pieces),
        "rounds": [asdict(r) for r in rounds],
        "steps": [asdict(s) for s in steps],
        "pieces": pieces_json(pieces),
        "server_block_file_bytes": server_disk,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    purge_on_sigterm()
    try:
        if args.ref is not None:
            return run_at_ref(args)
        started_at = datetime.now(UTC)
        load_at_start = load_now()
        code = json.loads(args.measured_code) if args.measured_code else code_version(None)
        measured = measure(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    code_at_end = code if args.measured_code else code_version(None)
    report: dict[str, Any] = {
        "benchmark": "checks",
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_at_start": load_at_start,
        "load_at_end": load_now(),
        "machine": machine(),
        "code": code,
        # The working tree is measured as it is on disk when each run starts: edits during the run count.
        "code_changed_during_run": code_at_end != code,
        "goal": {"median_ratio_max": GOAL_RATIO, "metadata_checks_max_s": GOAL_METADATA_SECONDS},
        "method": {
            "runs": "evidock --config <fresh config, fresh catalog, fresh bucket> ingest --json FILE, "
            "[checks] deep_scan = false / true alternating, first side alternating per round",
            "ratio": "median over rounds of (deep scan on seconds / deep scan off seconds) of the same round",
            "metadata": "in-process ingest.probe.probe(path) + ingest.checking.file_findings(packets=None)",
        },
        **measured,
    }
    report["markdown"] = markdown(report)
    print(report["markdown"])
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"bench: results written to {args.json_out}", file=sys.stderr)
    result = measured["summary"]
    missed = not (result["ratio_ok"] and result["metadata_ok"])
    return 2 if args.strict and missed else 0


def _generation(path: Path, generated: float | None) -> dict[str, Any]:
    """How long making the recording took: now, or as noted when it was made and cached."""
    if generated is not None:
        return {"seconds": round(generated, 1), "cached": False}
    try:
        noted = json.loads((path.parent / "spec.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        noted = {}
    return {"seconds": noted.get("generated_seconds"), "at": noted.get("generated_at"), "cached": True}


if __name__ == "__main__":
    raise SystemExit(main())
