"""Soak: many small files through a real `evidock run`, with web and API traffic alongside.

Goal (issue 19): the service's RSS at the end is within 1.2x of its RSS after
the first 1,000 files; every file is stored exactly once (one receipt, one
recording, one INGEST entry each); `evidock verify` passes afterwards.

Runs against its own throwaway S3 server (bench.harness; never the development
server: locked objects cannot be deleted). Files are written as ``.part`` and
renamed (as a careful dock driver does), in bursts, keeping at most
``--backlog`` waiting in the dock folder; the dock copy is deleted after
verification so the folder stays small. A traffic thread calls ``/health`` and
``/metrics``, lists recordings through the API (each call an ACCESS entry) and
fetches the login page, about once a second. RSS is read from
``/proc/<pid>/status`` of the service.

    python -m bench.soak --files 20000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from bench import harness
from bench.harness import BenchError, Server

WARM_FILES = 1000  # RSS is compared with its value once this many files are done
GOAL_RATIO = 1.2


@dataclass
class Traffic:
    requests: int = 0
    failures: list[str] = field(default_factory=list)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=20_000, help="files to dock (default 20000)")
    p.add_argument("--file-bytes", type=int, default=4096, help="size of each file (default 4096)")
    p.add_argument("--backlog", type=int, default=300, help="at most this many files waiting in the dock folder")
    p.add_argument("--http-port", type=int, default=8097, help="the service's HTTP port (default 8097)")
    p.add_argument("--deep-scan", action="store_true", help="run the packet scan too (two ffprobe per file)")
    harness.add_run_options(p, name="soak", port=7610)
    return p.parse_args(argv)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def released(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return int(conn.execute("select count(*) from receipts where state = 'released'").fetchone()[0])
    except sqlite3.Error:
        return 0


def evidock(args: argparse.Namespace, config: Path, env: dict[str, str], *cmd: str) -> str:
    done = subprocess.run(
        [args.evidock, "--config", str(config), *cmd], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"evidock {' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def traffic(url: str, token: str, stop: threading.Event, seen: Traffic) -> None:
    api = {"Authorization": f"Bearer {token}", "X-Evidock-User": "soak.custodian"}
    with httpx2.Client(timeout=30) as client:
        while not stop.wait(1.0):
            calls: tuple[tuple[str, str, dict[str, str]], ...] = (
                ("GET", f"{url}/health", api),
                ("GET", f"{url}/metrics", {}),
                ("GET", f"{url}/api/v1/recordings?reason=soak%20check&limit=20", api),
                ("GET", f"{url}/login", {}),
            )
            for method, target, headers in calls:
                try:
                    answer = client.request(method, target, headers=headers)
                    seen.requests += 1
                    if answer.status_code >= 500 and not target.endswith("/health"):
                        seen.failures.append(f"{target}: {answer.status_code}")
                except httpx2.TransportError as exc:
                    seen.failures.append(f"{target}: {exc}")


def feed(inbox: Path, total: int, size: int, backlog: int, stop: threading.Event) -> None:
    """Write ``total`` distinct files, as ``.part`` then renamed, never more than ``backlog`` waiting."""
    block = os.urandom(size)
    n = 0
    while n < total and not stop.is_set():
        waiting = sum(1 for _ in os.scandir(inbox))
        for _ in range(max(0, min(backlog - waiting, total - n))):
            name = f"SOAK{n % 50:02d}_P{n % 7:04d}_2026112008{n // 3600 % 60:02d}{n // 60 % 60:02d}_{n:06d}.mp4"
            part = inbox / f"{name}.part"
            part.write_bytes(n.to_bytes(8, "big") + block[8:])  # distinct content per file
            part.rename(inbox / name)
            n += 1
        time.sleep(0.2)


def _users(args: argparse.Namespace, config: Path, env: dict[str, str]) -> dict[str, str]:
    """The first admin (no login needed), then a custodian (API traffic) and an auditor (verify): their tokens."""
    admin = json.loads(
        evidock(args, config, {**env, "EVIDOCK_USER": "admin"}, "users", "add", "admin", "--role", "admin", "--json")
    )
    as_admin = {**env, "EVIDOCK_USER": "admin", "EVIDOCK_TOKEN": admin["token"]}
    tokens = {}
    for name, role in (("soak.custodian", "custodian"), ("soak.auditor", "auditor")):
        added = json.loads(evidock(args, config, as_admin, "users", "add", name, "--role", role, "--json"))
        tokens[name] = str(added["token"])
    return tokens


def _counts(db: Path) -> dict[str, int]:
    queries = {
        "receipts": "select count(*) from receipts",
        "released": "select count(*) from receipts where state = 'released'",
        "recordings": "select count(*) from recordings",
        "ingest_entries": "select count(*) from log_entries where type = 'INGEST'",
        "duplicates": "select count(*) from receipts where duplicate = 1",
        "log_entries": "select count(*) from log_entries",
    }
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {name: int(conn.execute(sql).fetchone()[0]) for name, sql in queries.items()}


def _wait_up(url: str, service: subprocess.Popen[bytes], run_dir: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx2.get(f"{url}/health", timeout=5)
            return
        except httpx2.TransportError as exc:
            if time.monotonic() > deadline or service.poll() is not None:
                raise BenchError(f"evidock run did not come up; see {run_dir / 'service.log'}") from exc
            time.sleep(0.3)


def _measure(
    args: argparse.Namespace,
    service: subprocess.Popen[bytes],
    db: Path,
    started: float,
    samples: list[tuple[int, float, int]],
) -> tuple[int, int]:
    """Sample (files done, seconds, RSS KiB) every 2 s until all files are done; the warm (files, RSS)."""
    warm: tuple[int, int] | None = None
    last_print = 0.0
    while True:
        if service.poll() is not None:
            raise BenchError(f"evidock run exited with {service.returncode}; see its service.log")
        done = released(db)
        rss = rss_kib(service.pid)
        now = time.monotonic() - started
        samples.append((done, round(now, 1), rss))
        if warm is None and done >= min(WARM_FILES, args.files):
            warm = (done, rss)
        if now - last_print > 30:
            print(f"soak: {done}/{args.files} files, RSS {rss / 1024:.1f} MiB, {now:.0f} s", file=sys.stderr)
            last_print = now
        if done >= args.files and warm is not None:
            return warm
        time.sleep(2.0)


def soak(args: argparse.Namespace, server: Server, work: Path) -> dict[str, Any]:
    env = harness.evidock_env(server)
    bucket = f"soak-{int(time.time())}"
    more = f"[checks]\ndeep_scan = {'true' if args.deep_scan else 'false'}\n"
    config = harness.write_config(work, server, bucket, written_by="bench.soak", more=more)
    text = config.read_text().replace('after_verify = "keep"', 'after_verify = "delete"\nstable_seconds = 0.5')
    config.write_text(text)
    run_dir = config.parent
    inbox = run_dir / "inbox"
    inbox.mkdir()
    db = run_dir / "evidock.db"

    tokens = _users(args, config, env)

    log_file = (run_dir / "service.log").open("wb")
    service = subprocess.Popen(
        [args.evidock, "--config", str(config), "run", "--http-port", str(args.http_port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    url = f"http://127.0.0.1:{args.http_port}"
    stop = threading.Event()
    seen = Traffic()
    samples: list[tuple[int, float, int]] = []  # (files done, seconds, RSS KiB)
    started = time.monotonic()
    threads: list[threading.Thread] = []
    try:
        _wait_up(url, service, run_dir)
        writer = threading.Thread(target=feed, args=(inbox, args.files, args.file_bytes, args.backlog, stop))
        talker = threading.Thread(target=traffic, args=(url, tokens["soak.custodian"], stop, seen))
        threads = [writer, talker]
        for thread in threads:
            thread.start()
        warm = _measure(args, service, db, started, samples)
        time.sleep(5)  # let the last checkpoint and traffic settle
        end_rss = rss_kib(service.pid)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)  # traffic ends before the service does: no refused request counted
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
            try:
                service.wait(timeout=120)
            except subprocess.TimeoutExpired:
                service.kill()
        log_file.close()
    counts = _counts(db)
    as_auditor = {**env, "EVIDOCK_USER": "soak.auditor", "EVIDOCK_TOKEN": tokens["soak.auditor"]}
    verify_started = time.monotonic()
    verify = subprocess.run(
        [args.evidock, "--config", str(config), "verify", "--json"],
        env=as_auditor,
        capture_output=True,
        text=True,
        check=False,
    )
    return {
        "files": args.files,
        "file_bytes": args.file_bytes,
        "deep_scan": args.deep_scan,
        "seconds": round(elapsed, 1),
        "files_per_second": round(args.files / elapsed, 2),
        "rss_after_warm_mib": round(warm[1] / 1024, 1),
        "warm_files": warm[0],
        "rss_end_mib": round(end_rss / 1024, 1),
        "rss_max_mib": round(max(s[2] for s in samples) / 1024, 1),
        "ratio": round(end_rss / warm[1], 3),
        "goal_ratio": GOAL_RATIO,
        "counts": counts,
        "stored_once": counts["receipts"]
        == counts["released"]
        == counts["recordings"]
        == counts["ingest_entries"]
        == args.files
        and counts["duplicates"] == 0,
        "traffic_requests": seen.requests,
        "traffic_failures": seen.failures[:20],
        "verify_exit": verify.returncode,
        "verify_seconds": round(time.monotonic() - verify_started, 1),
        "verify_tail": verify.stderr.strip()[-500:] if verify.returncode else "",
        "rss_samples": samples[:: max(1, len(samples) // 40)],
        "machine": harness.machine(),
        "code": harness.code_version(None),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    harness.purge_on_sigterm()
    work = args.work_dir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    harness.check_disk(args.s3_dir.parent, args.files * max(args.file_bytes, 64 * 1024) + harness.MARGIN_BYTES)
    try:
        with harness.run_server(args, 16 * harness.GIB) as server:
            result = soak(args, server, work)
    except BenchError as exc:
        print(f"bench.soak: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    missed = result["ratio"] > GOAL_RATIO or not result["stored_once"] or result["verify_exit"] != 0
    return 2 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
