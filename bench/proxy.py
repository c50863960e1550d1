"""Playback-proxy benchmark: how fast a 1080p proxy is made, and whether making proxies slows ingest.

Usage (from the repository root)::

    python -m bench.proxy                          # 1080p: 20 s clips, 3 rounds of 6 files
    python -m bench.proxy --seconds 10 --rounds 2 --files 4 --json-out var/bench-proxy.json

Two measurements, each against its own baseline in the same run:

1. **Rate.** A 1080p25 HEVC/AAC MP4 and a 1080p25 MJPEG/ADPCM AVI made here
   with ffmpeg get their proxy by the exact recipe the service uses
   (``derived.recipes.proxy``, ``[derived]`` defaults), at normal priority;
   the rate is the clip's length over the wall time (1.0 = real time). On a
   shared machine the wall time says little, so ffmpeg's own CPU time is
   reported too, and the rate the machine's cores would give if ffmpeg had
   them to itself (clip length x cores / CPU seconds: an upper bound).
2. **Ingest beside proxies.** The same number of fresh 1080p HEVC files are
   ingested (``ingest.pipeline``, as the dock's loop does) in rounds that
   alternate between *no proxy work* and *a proxy worker busy all along*
   (``derived.proxies.ProxyWorker`` in a thread, ffmpeg under ``nice 19``, as
   ``evidock run`` has it, with a backlog of recordings to proxy). The verdict
   is the median of the per-round ratios of ingest wall time with / without.
   Goal: at most 1.05.

Everything runs against a throwaway Ceph RGW (``.local/s3-bench-proxy``, port
7592; ``bench/harness.py``), purged at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.harness import (
    BenchError,
    Server,
    add_run_options,
    code_version,
    evidock_env,
    load_now,
    machine,
    purge_on_sigterm,
    run_dir,
    run_server,
    sparse_block_bytes,
    write_config,
)
from derived.ffmpeg import RunOptions, run
from derived.proxies import ProxyWorker
from derived.recipes import EncodeOptions, proxy
from evidock import settings as settings_mod
from evidock.app import open_app
from ingest.pipeline import Pipeline
from ingest.watcher import look

GOAL_RATE = 1.0  # x real time, 1080p, this machine's cores
GOAL_INGEST_RATIO = 1.05  # ingest wall time with proxies being made / without


@dataclass(frozen=True)
class RateResult:
    clip: str
    seconds_of_media: float
    wall_seconds: float
    rate: float  # media seconds per wall second
    cpu_seconds: float  # ffmpeg's user + system time
    rate_if_idle: float  # media seconds x cores / CPU seconds: the rate with every core to itself (an upper bound)


@dataclass(frozen=True)
class IngestRound:
    without_s: float
    with_s: float
    proxies_running: bool  # ffmpeg was working throughout the "with" half

    @property
    def ratio(self) -> float:
        return self.with_s / self.without_s


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.proxy", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=20, help="length of each generated clip (default 20)")
    p.add_argument("--rounds", type=int, default=3, help="ingest rounds, each with and without proxies (default 3)")
    p.add_argument("--files", type=int, default=6, help="files ingested per half round (default 6)")
    p.add_argument("--json-out", type=Path, default=None, help="also write the results as JSON")
    add_run_options(p, name="proxy", port=7592)
    return p.parse_args(argv)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_clips(folder: Path, seconds: int) -> dict[str, Path]:
    """A 1080p25 HEVC/AAC MP4 and a 1080p25 MJPEG/ADPCM AVI of ``seconds`` (testsrc2: moving, detailed)."""
    source = ["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25", "-f", "lavfi", "-i",
              "sine=frequency=300:sample_rate=48000", "-t", str(seconds)]  # fmt: skip
    hevc, avi = folder / "base-hevc.mp4", folder / "base-mjpeg.avi"
    _ffmpeg(*source, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1",
            "-pix_fmt", "yuv420p", "-c:a", "aac", str(hevc))  # fmt: skip
    _ffmpeg(*source, "-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p", "-c:a", "adpcm_ima_wav", str(avi))
    return {"hevc-mp4-1080p": hevc, "mjpeg-avi-1080p": avi}


def measure_rate(name: str, clip: Path, seconds: int, work: Path) -> RateResult:
    target = work / f"proxy-{name}.mp4"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run(proxy(EncodeOptions()), source=clip, target=target, options=RunOptions(nice=0))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    target.unlink()
    cores = len(os.sched_getaffinity(0))
    return RateResult(name, float(seconds), round(wall, 2), round(seconds / wall, 3), round(cpu, 2),
                      round(seconds * cores / cpu, 3))  # fmt: skip


def fresh_copies(base: Path, folder: Path, count: int, tag: str) -> list[Path]:
    """``count`` distinct files of ``base``'s media (remuxed with a unique comment: fast, no re-encoding)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(count):
        target = folder / f"CAM77_P7001_20261120{8 + n // 60:02d}{n % 60:02d}00_{n + 1:04d}.mp4"
        _ffmpeg("-i", str(base), "-map", "0", "-c", "copy", "-metadata", f"comment={tag}-{n}-{uuid.uuid4().hex}",
                str(target))  # fmt: skip
        made.append(target)
    return made


def ingest_all(pipeline: Pipeline, files: Sequence[Path], busy: threading.Event | None = None) -> float:
    """Ingest ``files`` one by one, as the dock's loop does (``busy`` set meanwhile, as the service's flag is)."""
    if busy is not None:
        busy.set()
    started = time.perf_counter()
    for path in files:
        docked = look(path.parent, path, ())
        if docked is None:
            raise BenchError(f"{path} was not seen as a docked file")
        outcome = pipeline.ingest(docked)
        if outcome is None or outcome.recording is None:
            raise BenchError(f"ingest of {path} gave no recording")
    took = time.perf_counter() - started
    if busy is not None:
        busy.clear()
    return took


def keep_making(worker: ProxyWorker, stop: threading.Event) -> None:
    """What the service's scheduler does, without pauses: make proxies until told to stop."""
    while not stop.is_set():
        if worker.run(stop.is_set) == 0:
            stop.wait(0.5)


def measure_ingest(args: argparse.Namespace, base: Path, work: Path, server: Server) -> list[IngestRound]:
    config = write_config(work, server, f"bench-proxy-{uuid.uuid4().hex[:8]}", written_by="bench.proxy")
    settings = settings_mod.load(config, evidock_env(server))
    rounds = []
    with open_app(settings) as evi:
        pipeline = evi.pipeline()
        worker = evi.proxy_worker()
        dock_busy = threading.Event()
        worker.pause_while = dock_busy.is_set  # as `evidock run` sets it: Service.ingest_busy
        # A backlog, so the worker has proxies to make all through each "with" half.
        ingest_all(pipeline, fresh_copies(base, work / "backlog", args.files * args.rounds, "backlog"))
        for number in range(args.rounds):
            without = ingest_all(pipeline, fresh_copies(base, work / f"r{number}-a", args.files, f"a{number}"))
            worker.examine()  # the files just ingested join the backlog; none is made during "without"
            stop = threading.Event()
            busy = threading.Thread(target=keep_making, args=(worker, stop))
            busy.start()
            time.sleep(2)  # ffmpeg under way before the timed ingest starts
            with_ = ingest_all(pipeline, fresh_copies(base, work / f"r{number}-b", args.files, f"b{number}"), dock_busy)
            running = busy.is_alive()
            stop.set()
            busy.join()
            rounds.append(IngestRound(round(without, 2), round(with_, 2), running))
            print(f"bench: round {number + 1}: ingest {without:.2f} s without proxies, {with_:.2f} s with "
                  f"(ratio {with_ / without:.3f})", file=sys.stderr)  # fmt: skip
    return rounds


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    purge_on_sigterm()
    started = datetime.now(UTC)
    with run_dir(args, "bench-proxy-") as work:
        print(f"bench: making 1080p clips of {args.seconds} s", file=sys.stderr)
        clips = make_clips(work, args.seconds)
        rates = [measure_rate(name, clip, args.seconds, work) for name, clip in clips.items()]
        for r in rates:
            print(f"bench: proxy of {r.clip}: {r.wall_seconds} s for {r.seconds_of_media:g} s of media "
                  f"= {r.rate}x real time; ffmpeg used {r.cpu_seconds} CPU-s: {r.rate_if_idle}x with the cores "
                  "to itself", file=sys.stderr)  # fmt: skip
        with run_server(args, sparse_block_bytes(8 * 1024**3)) as server:
            rounds = measure_ingest(args, clips["hevc-mp4-1080p"], work, server)
    ratio = statistics.median(r.ratio for r in rounds)
    slowest_rate = min(r.rate for r in rates)
    met = {"rate": slowest_rate >= GOAL_RATE, "ingest": ratio <= GOAL_INGEST_RATIO}
    result = {
        "started": started.isoformat(),
        "machine": machine(),
        "code": code_version(args.ref),
        "load_at_end": load_now(),
        "cpus": os.cpu_count(),
        "rates": [asdict(r) for r in rates],
        "ingest_rounds": [asdict(r) | {"ratio": round(r.ratio, 3)} for r in rounds],
        "ingest_ratio_median": round(ratio, 3),
        "goals": {"rate_x_real_time": GOAL_RATE, "ingest_ratio": GOAL_INGEST_RATIO, "met": met},
    }
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 2 if args.strict and not all(met.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
