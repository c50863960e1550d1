"""What the benchmarks share: a throwaway S3 server, timed subprocess runs, and the facts of a run.

Every benchmark that ingests runs against its own throwaway Ceph RGW
(``scripts/s3-up.sh`` with its own data dir and port), purged at the end, also
on Ctrl-C/SIGTERM: every evidock run leaves its object COMPLIANCE-locked for
months, which no one can delete, so the development server must not be used.

Measured commands run in a fresh subprocess started by a small launcher (see
``LAUNCHER``), which reports wall time, peak RSS and CPU from ``wait4``; the
server's CPU over the same interval comes from ``/proc``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from minio import Minio

GIB = 1024**3
MIB = 1024**2
REPO = Path(__file__).resolve().parent.parent
MARGIN_BYTES = 4 * GIB  # Ceph's own metadata, logs, SQLite files, slack
# evidock's own code, as installed
PACKAGES = ("chain", "storage", "access", "cases", "ingest", "retention", "derived", "evidock")

# Starts one measured command and reports its wall time and rusage as JSON to
# argv[1]; its stdout/stderr pass through. Run with -I -S: no site packages,
# so the launcher stays at ~10 MiB, which bounds the smallest RSS it can report.
LAUNCHER = """\
import json, os, sys, time
report, cmd = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawn(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - started
with open(report, "w") as f:
    json.dump({"seconds": seconds, "maxrss_kib": usage.ru_maxrss, "utime": usage.ru_utime,
               "stime": usage.ru_stime}, f)
sys.exit(os.waitstatus_to_exitcode(status))
"""


class BenchError(Exception):
    """The benchmark cannot run or a run failed; the message says why."""


# -- a measured run ---------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One subprocess: wall seconds, peak RSS, its own CPU and the S3 server's CPU while it ran."""

    seconds: float
    peak_rss_mib: float
    cpu_user_s: float
    cpu_sys_s: float
    server_cpu_s: float | None


def timed(cmd: Sequence[str], *, env: dict[str, str], cwd: Path, server: Server, what: str) -> tuple[Run, str]:
    """Run ``cmd`` to completion; its wall time, peak RSS and CPU (from ``wait4``), and its stdout.

    ``cmd`` is started by a small launcher process (see ``LAUNCHER``), not by
    this one: Linux carries the RSS high-water mark of the forking process's
    address space into the child's ``ru_maxrss`` across ``exec``, so a child of
    this (large) process would report at least this process's peak.
    """
    pids = server_pids(server.data_dir)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "usage.json"
        server_before = cpu_seconds(pids)
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, str(report), *cmd],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=err,
            check=False,
        )
        server_after = cpu_seconds(pids)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        try:
            usage = json.loads(report.read_text())
        except (OSError, ValueError) as exc:
            raise BenchError(f"{what}: the launcher reported nothing (exit {done.returncode}): {stderr}") from exc
    if done.returncode != 0:
        raise BenchError(f"{what} exited with {done.returncode}:\n{stderr.strip() or stdout.strip()}")
    server_cpu = None
    if server_before is not None and server_after is not None:
        server_cpu = round(server_after - server_before, 2)
    run = Run(
        seconds=float(usage["seconds"]),
        peak_rss_mib=int(usage["maxrss_kib"]) / 1024,  # ru_maxrss is in KiB on Linux
        cpu_user_s=round(float(usage["utime"]), 2),
        cpu_sys_s=round(float(usage["stime"]), 2),
        server_cpu_s=server_cpu,
    )
    return run, stdout


# -- the throwaway S3 server -----------------------------------------------------------


@dataclass(frozen=True)
class Server:
    endpoint: str  # http://127.0.0.1:7590
    host: str  # 127.0.0.1:7590
    access_key: str
    secret_key: str
    data_dir: Path


def _s3_env(data_dir: Path, port: int, block_bytes: int) -> dict[str, str]:
    env = dict(os.environ)
    env["EVIDOCK_S3_DIR"] = str(data_dir)
    env["EVIDOCK_S3_PORT"] = str(port)
    env["EVIDOCK_S3_BLOCK_SIZE"] = str(block_bytes)
    for name in ("EVIDOCK_S3_MON_PORT", "EVIDOCK_S3_ACCESS_KEY", "EVIDOCK_S3_SECRET_KEY"):
        env.pop(name, None)  # the throwaway server uses its own defaults
    return env


@contextmanager
def throwaway_server(data_dir: Path, port: int, block_bytes: int, *, keep: bool) -> Iterator[Server]:
    env = _s3_env(data_dir, port, block_bytes)
    scripts = REPO / "scripts"
    if data_dir.exists():
        print(f"bench: purging a leftover benchmark server in {data_dir}", file=sys.stderr)
        subprocess.run(["bash", str(scripts / "s3-down.sh"), "--purge"], env=env, check=True, stdout=sys.stderr)
    print(f"bench: starting a throwaway S3 server in {data_dir} on :{port}", file=sys.stderr)
    try:
        up = subprocess.run(["bash", str(scripts / "s3-up.sh")], env=env, check=True, stdout=subprocess.PIPE, text=True)
        lines = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
        endpoint = lines["S3_ENDPOINT"]
        yield Server(
            endpoint=endpoint,
            host=endpoint.split("://", 1)[1].rstrip("/"),
            access_key=lines["S3_ACCESS_KEY"],
            secret_key=lines["S3_SECRET_KEY"],
            data_dir=data_dir,
        )
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"{exc.cmd} failed with exit code {exc.returncode}; see its messages above") from exc
    finally:
        if keep:
            print(f"bench: leaving the server in {data_dir} running (--keep-server)", file=sys.stderr)
        else:
            print(f"bench: stopping and purging the server in {data_dir}", file=sys.stderr)
            subprocess.run(["bash", str(scripts / "s3-down.sh"), "--purge"], env=env, check=False, stdout=sys.stderr)


def run_server(args: argparse.Namespace, block_bytes: int) -> AbstractContextManager[Server]:
    """The run's throwaway server, where ``add_run_options`` says: ``--s3-dir``, ``--port``, ``--keep-server``."""
    return throwaway_server(args.s3_dir, args.port, block_bytes, keep=args.keep_server)


def sparse_block_bytes(holds: int) -> int:
    """The block file of a server that will hold ``holds`` bytes: sparse, so only what is written takes space."""
    return max(64 * GIB, 2 * holds)


@contextmanager
def run_dir(args: argparse.Namespace, prefix: str = "bench-") -> Iterator[Path]:
    """A fresh folder under ``--work-dir`` for the run's configs, catalogs and test files; removed at the end."""
    args.work_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=args.work_dir))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ingest_outcome(stdout: str) -> dict[str, Any]:
    """The outcome ``evidock ingest --json FILE`` printed; refuses one that did not store new content."""
    try:
        outcome: dict[str, Any] = json.loads(stdout)[0]
    except (ValueError, IndexError, KeyError) as exc:
        raise BenchError(f"evidock ingest printed no JSON outcome: {stdout[:500]!r}") from exc
    if outcome.get("state") != "released" or outcome.get("duplicate"):
        raise BenchError(f"evidock ingest did not store new content: {outcome}")
    return outcome


def server_pids(data_dir: Path) -> list[int]:
    pids = []
    for name in ("client.rgw.a", "osd.0"):
        try:
            pids.append(int((data_dir / "run" / f"{name}.pid").read_text().strip()))
        except (OSError, ValueError):
            continue
    return pids


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User + system CPU seconds of these processes so far (from /proc), or None if unreadable."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    except (OSError, ValueError, IndexError):
        return None
    return total / ticks


def block_file_bytes(data_dir: Path) -> int | None:
    """Bytes the OSD's sparse block file really occupies on disk."""
    try:
        return (data_dir / "osd" / "block").stat().st_blocks * 512
    except OSError:
        return None


# -- disk, code, machine -----------------------------------------------------------------


def check_disk(path: Path, need: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path).free
    if free < need:
        raise BenchError(
            f"not enough free disk at {path}: {free / GIB:.1f} GiB free, this run needs up to "
            f"{need / GIB:.1f} GiB (the data really is written, and evidock's objects stay COMPLIANCE-locked "
            "until the throwaway server is purged at the end). Free space, or run fewer --sizes / --rounds"
        )


def export_commit(ref: str, target: Path) -> Path:
    """The tree of ``ref`` extracted to ``target`` (read-only use of the repository: git archive)."""
    target.mkdir(parents=True)
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=REPO, capture_output=True, check=True)
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"--ref {ref}: git archive failed: {exc.stderr.decode(errors='replace').strip()}") from exc
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def code_version(ref: str | None) -> dict[str, Any]:
    """The commit measured and, for the working tree, which of its files were modified."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", f"{ref or 'HEAD'}^{{commit}}"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        if ref is not None:
            return {"commit": commit, "ref": ref, "modified": []}
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "modified": None}
    return {"commit": commit, "modified": [line[3:] for line in status.splitlines()]}


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        info["minio"] = version("minio")
    except PackageNotFoundError:
        info["minio"] = None
    return info


# -- what every ingesting benchmark takes and does ----------------------------------------


def add_run_options(p: argparse.ArgumentParser, *, name: str, port: int) -> None:
    """The options of the throwaway server, the measured evidock and the outcome; ``name`` names the dirs."""
    p.add_argument(
        "--work-dir",
        type=Path,
        default=REPO / ".local" / f"bench-{name}",
        help=f"per-run configs, catalogs and test files (default: .local/bench-{name}; removed at the end)",
    )
    p.add_argument(
        "--s3-dir",
        type=Path,
        default=REPO / ".local" / f"s3-bench-{name}",
        help=f"data dir of the throwaway S3 server (default: .local/s3-bench-{name}; purged at the end)",
    )
    p.add_argument("--port", type=int, default=port, help=f"S3 port of the throwaway server (default: {port})")
    p.add_argument(
        "--evidock",
        default=str(Path(sys.executable).parent / "evidock"),
        help="the evidock executable (default: the one next to this Python)",
    )
    p.add_argument(
        "--ref",
        default=None,
        help="measure this commit (exported with git archive) instead of the working tree, e.g. HEAD: "
        "immune to edits made while the benchmark runs",
    )
    p.add_argument("--keep-server", action="store_true", help="leave the throwaway server running (not purged)")
    p.add_argument("--strict", action="store_true", help="exit 2 if a goal is missed")


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: the server is purged


def purge_on_sigterm() -> None:
    """SIGTERM ends the benchmark like Ctrl-C does, through the ``finally`` that purges the server."""
    signal.signal(signal.SIGTERM, _terminate)


def load_now() -> float:
    return round(os.getloadavg()[0], 2)


def compile_bytecode(source: Path) -> None:
    """Byte-compile evidock's packages under ``source``, as an installed package is.

    pip compiles what it installs (minio, the baseline's only import, comes
    compiled), but the working tree and a ``--ref`` export are plain sources, and
    with ``PYTHONDONTWRITEBYTECODE`` set every evidock run would compile ~10,000
    lines again (~0.3 CPU-s), a cost no installed evidock pays.
    """
    for package in PACKAGES:
        if not (source / package).is_dir():  # a ``--ref`` from before the package existed
            continue
        if not compileall.compile_dir(source / package, quiet=1):
            raise BenchError(f"byte-compiling {source / package} failed")


def bench_client(server: Server) -> Minio:
    """A minio client of the throwaway server, for the benchmark's own untimed set-up."""
    return Minio(server.host, access_key=server.access_key, secret_key=server.secret_key, secure=False)


def evidock_env(server: Server) -> dict[str, str]:
    """The environment of a measured evidock run: the server's keys, no config or log level from outside."""
    env = dict(os.environ)
    env["EVIDOCK_S3_ACCESS_KEY"] = server.access_key
    env["EVIDOCK_S3_SECRET_KEY"] = server.secret_key
    env.pop("EVIDOCK_CONFIG", None)
    env.pop("EVIDOCK_LOG_LEVEL", None)
    return env


def write_config(work: Path, server: Server, bucket: str, *, written_by: str, s3: str = "", more: str = "") -> Path:
    """A fresh config.toml (and so a fresh SQLite catalog) in its own directory under ``work``.

    ``s3`` adds lines to ``[s3]``; ``more`` adds whole tables at the end.
    """
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    path = run_dir / "config.toml"
    path.write_text(
        f"# written by {written_by} for one run\n"
        '[station]\nid = "bench"\ntimezone = "Asia/Shanghai"\n\n'
        '[watch]\nfolders = ["inbox"]\nafter_verify = "keep"\n\n'
        f'[s3]\nendpoint = "{server.endpoint}"\nbucket = "{bucket}"\nregion = "us-east-1"\n{s3}\n'
        '[database]\nurl = "sqlite:///evidock.db"\n\n'
        "[retention]\nminimum_days = 92\n" + (f"\n{more}" if more else ""),
        encoding="utf-8",
    )
    return path
