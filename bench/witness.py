"""Witness throughput: add-checkpoint requests per second against one ``evidock witness serve``.

Goal (issue 14): at least 200 add-checkpoint requests/s on this machine. The
baseline, measured in the same run, is a bare endpoint on the same server stack
(uvicorn + FastAPI, one process, the same route reading the same bodies) that
answers a fixed cosignature-sized line without checking or storing anything:
the ratio says what the witness's own work (signature check, consistency proof,
an fsynced SQLite commit, the cosignature) costs on top of HTTP.

Every request is real: ``--logs`` logs (one client thread each, one keep-alive
connection each) submit checkpoints that grow by one entry, each with the
consistency proof from the previous one, so every request is cosigned and
committed. Request bodies are built before the clock starts.

It also measures what outside trust adds to one checkpoint (issue 14: at most
100 ms median), two ways, ``--checkpoints`` times each, median per step:

* the parts alone: sign the note, get cosignatures from two witnesses (one after
  the other, each over its keep-alive connection) and an RFC 3161 token from the
  local OpenSSL TSA (``evidock.local_tsa``), verifying each answer;
* the station's checkpoint path as it runs: on a throwaway S3 server (its own
  Ceph RGW, ``--s3-dir``/``--port``, purged at the end: the objects stay
  COMPLIANCE-locked) and a SQLite catalog, each round appends one entry, then
  ``Checkpointer.make`` signs, stores, locks and records the checkpoint (the
  baseline: the path without outside trust), then ``OutsideTrust.gather`` asks
  both witnesses and the TSA at once, verifies the answers, stores each beside
  the checkpoint under its lock and records it (what outside trust adds).

    python -m bench.witness [--logs 4] [--requests 400] [--checkpoints 50] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from chain.checkpoint import Checkpoint, generate_skey, parse_skey, sign_checkpoint, vkey_of
from chain.merkle import MemoryNodes, consistency_proof, leaf_hash
from chain.witness_request import format_add_checkpoint

REPO = Path(__file__).resolve().parent.parent

BASELINE_APP = """
import sys, uvicorn
from fastapi import FastAPI, Request, Response
app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
LINE = ("\\u2014 witness.example/w1 " + "A" * 100 + "\\n").encode()
@app.post("/add-checkpoint")
async def add_checkpoint(request: Request) -> Response:
    await request.body()
    return Response(LINE, status_code=200, headers={"Content-Type": "text/plain; charset=utf-8"})
@app.get("/")
async def identity() -> Response:
    return Response(b"baseline\\n", headers={"Content-Type": "text/plain"})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.latencies_ms)
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "requests_per_second": round(self.per_second, 1),
            "latency_median_ms": round(statistics.median(ordered), 2),
            "latency_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bodies(skey: str, count: int) -> list[bytes]:
    """``count`` add-checkpoint bodies for one log, each one entry larger, with the proof from the previous."""
    signer = parse_skey(skey)
    tree = MemoryNodes()
    bodies = []
    for number in range(count):
        tree.append(leaf_hash(f"{signer.name} entry {number}".encode()))
        old = tree.size - 1
        proof = consistency_proof(old, tree.size, tree) if old else []
        note = sign_checkpoint(Checkpoint(signer.name, tree.size, tree.root()), signer)
        bodies.append(format_add_checkpoint(old, proof, note))
    return bodies


def _wait(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start within 60 s")


def _drive(port: int, per_log: list[list[bytes]]) -> Run:
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(per_log) + 1)

    def client(bodies: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        barrier.wait()
        for body in bodies:
            started = time.perf_counter()
            connection.request("POST", "/add-checkpoint", body=body)
            response = connection.getresponse()
            answer = response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200 or not answer.startswith("\u2014 ".encode()):
                failures.append(f"HTTP {response.status}: {answer[:200]!r}")
                break
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(bodies,)) for bodies in per_log]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} request(s) failed, first: {failures[0]}")
    return Run(len(latencies), seconds, latencies)


def _serve(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, env=dict(os.environ))
    try:
        _wait(port, process)
    except BaseException:
        process.terminate()
        process.wait(timeout=30)
        raise
    return process


def _checkpoint_path(scratch: Path, count: int) -> dict[str, float]:
    """Median milliseconds per step of one checkpoint: sign, cosign by two witnesses, timestamp; all verified."""
    from chain.cosignature import verify_cosignature
    from evidock import local_tsa
    from storage.timestamping import load_chain, request_timestamp
    from storage.witness_client import WitnessClient
    from witness import config as witness_config

    skey = generate_skey("bench.evidock/path-log")
    signer = parse_skey(skey)
    chain = load_chain(local_tsa.init(scratch / "tsa", name="bench TSA").read_bytes())
    processes: list[subprocess.Popen[bytes]] = []
    clients: list[tuple[WitnessClient, str]] = []
    try:
        tsa_port = _free_port()
        tsa_command = [sys.executable, "-m", "evidock.local_tsa", "serve", str(scratch / "tsa")]
        tsa = subprocess.Popen([*tsa_command, "--listen", f"127.0.0.1:{tsa_port}"], cwd=REPO, stdout=subprocess.DEVNULL)
        processes.append(tsa)
        for number in (1, 2):
            directory = scratch / f"path-witness-{number}"
            made = witness_config.init(directory, f"bench.witness/p{number}", logs=[(signer.name, vkey_of(skey))])
            port = _free_port()
            command = [sys.executable, "-m", "evidock.cli", "witness", "serve", "--dir", str(directory)]
            processes.append(_serve([*command, "--listen", f"127.0.0.1:{port}"], port))
            clients.append((WitnessClient(f"http://127.0.0.1:{port}"), made.vkey))
        tree = MemoryNodes()
        steps: dict[str, list[float]] = {"sign": [], "cosign_2_witnesses": [], "timestamp": [], "total": []}
        for number in range(count + 1):
            tree.append(leaf_hash(f"path entry {number}".encode()))
            old = tree.size - 1
            proof = consistency_proof(old, tree.size, tree) if old else []
            started = time.perf_counter()
            note = sign_checkpoint(Checkpoint(signer.name, tree.size, tree.root()), signer)
            signed = time.perf_counter()
            for client, vkey in clients:
                lines = client.add_checkpoint(old, proof, note)
                if not isinstance(lines, list):
                    raise RuntimeError(f"witness answered {lines}")
                verify_cosignature(note, lines[0], vkey)
            cosigned = time.perf_counter()
            request_timestamp(f"http://127.0.0.1:{tsa_port}/", note, chain)
            stamped = time.perf_counter()
            if number == 0:
                continue  # the first round opens connections and warms caches
            steps["sign"].append((signed - started) * 1000)
            steps["cosign_2_witnesses"].append((cosigned - signed) * 1000)
            steps["timestamp"].append((stamped - cosigned) * 1000)
            steps["total"].append((stamped - started) * 1000)
        return {f"{name}_median_ms": round(statistics.median(values), 2) for name, values in steps.items()}
    finally:
        for client, _ in clients:
            client.close()
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def _station_path(scratch: Path, count: int, *, s3_dir: Path, port: int, keep: bool) -> dict[str, float]:
    """Median milliseconds of ``Checkpointer.make`` and of ``OutsideTrust.gather`` after it, on a real station."""
    from bench.harness import evidock_env, throwaway_server, write_config
    from evidock import local_tsa
    from evidock import settings as settings_mod
    from evidock.app import checkpointer_for, open_app, outside_trust_for
    from evidock.keys import init_key
    from witness import config as witness_config

    processes: list[subprocess.Popen[bytes]] = []
    with throwaway_server(s3_dir, port, 2 * 1024**3, keep=keep) as server:
        try:
            chain = local_tsa.init(scratch / "station-tsa", name="bench station TSA")
            tsa_port = _free_port()
            tsa_command = [sys.executable, "-m", "evidock.local_tsa", "serve", str(scratch / "station-tsa")]
            processes.append(
                subprocess.Popen(
                    [*tsa_command, "--listen", f"127.0.0.1:{tsa_port}"], cwd=REPO, stdout=subprocess.DEVNULL
                )
            )
            config = write_config(scratch, server, "bench-witness", written_by="bench.witness")
            settings = settings_mod.load(config, evidock_env(server))
            vkey, _ = init_key(settings)
            tables = []
            for number in (1, 2):
                directory = scratch / f"station-witness-{number}"
                made = witness_config.init(directory, f"bench.witness/s{number}", logs=[(settings.log.origin, vkey)])
                witness_port = _free_port()
                command = [sys.executable, "-m", "evidock.cli", "witness", "serve", "--dir", str(directory)]
                processes.append(_serve([*command, "--listen", f"127.0.0.1:{witness_port}"], witness_port))
                tables.append(
                    f'[[log.witnesses]]\nname = "office {number}"\nurl = "http://127.0.0.1:{witness_port}"\n'
                    f'vkey = "{made.vkey}"\n'
                )
            tables.append(
                f'[[log.timestamping]]\nname = "bench TSA"\nurl = "http://127.0.0.1:{tsa_port}/"\nchain = "{chain}"\n'
            )
            config.write_text(config.read_text(encoding="utf-8") + "\n[log]\n" + "\n".join(tables), encoding="utf-8")
            settings = settings_mod.load(config, evidock_env(server))
            steps: dict[str, list[float]] = {"make": [], "gather": []}
            with open_app(settings) as evi:
                checkpointer, trust = checkpointer_for(evi), outside_trust_for(evi)
                try:
                    for number in range(count + 1):
                        evi.log_key(vkey)  # one new entry (a KEY entry: the simplest to append)
                        started = time.perf_counter()
                        made_checkpoint = checkpointer.make(evi.now())
                        signed = time.perf_counter()
                        gathering = trust.gather(made_checkpoint, now=evi.now(), pause=False)
                        gathered = time.perf_counter()
                        if gathering.failures or not gathering.has_quorum or len(gathering.stamped) != 1:
                            raise RuntimeError(f"checkpoint {made_checkpoint.checkpoint.size}: {gathering.failures}")
                        if number == 0:
                            continue  # the first round opens connections and warms caches
                        steps["make"].append((signed - started) * 1000)
                        steps["gather"].append((gathered - signed) * 1000)
                finally:
                    trust.close()
            return {f"{name}_median_ms": round(statistics.median(values), 2) for name, values in steps.items()}
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.witness", description=__doc__.split("\n")[0])
    parser.add_argument("--logs", type=int, default=4, help="logs submitting at once (one client thread each)")
    parser.add_argument("--requests", type=int, default=400, help="add-checkpoint requests per log")
    parser.add_argument("--checkpoints", type=int, default=50, help="checkpoints timed on the checkpoint path")
    parser.add_argument(
        "--s3-dir",
        type=Path,
        default=REPO / ".local" / "s3-bench-witness",
        help="data dir of the throwaway S3 server of the station path (purged at the end)",
    )
    parser.add_argument("--port", type=int, default=7620, help="S3 port of that throwaway server")
    parser.add_argument("--keep-server", action="store_true", help="leave the throwaway server running")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from witness import config as witness_config  # the bench drives the real witness's own folder

    skeys = [generate_skey(f"bench.evidock/log-{number}") for number in range(args.logs)]
    per_log = [_bodies(skey, args.requests) for skey in skeys]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-witness-") as scratch:
        directory = Path(scratch) / "witness"
        witness_config.init(directory, "bench.witness/w1", logs=[(parse_skey(s).name, vkey_of(s)) for s in skeys])
        for label, command in (
            ("baseline", [sys.executable, "-c", BASELINE_APP]),
            ("witness", [sys.executable, "-m", "evidock.cli", "witness", "serve", "--dir", str(directory), "--listen"]),
        ):
            port = _free_port()
            process = _serve([*command, str(port)] if label == "baseline" else [*command, f"127.0.0.1:{port}"], port)
            try:
                results[label] = _drive(port, per_log).summary()
            finally:
                process.terminate()
                process.wait(timeout=30)
        path = _checkpoint_path(Path(scratch), args.checkpoints)
        station = _station_path(
            Path(scratch), args.checkpoints, s3_dir=args.s3_dir, port=args.port, keep=args.keep_server
        )
    ratio = results["witness"]["requests_per_second"] / results["baseline"]["requests_per_second"]
    report = {
        "logs": args.logs,
        "requests_per_log": args.requests,
        "cpus": os.cpu_count(),
        **results,
        "witness_over_baseline": round(ratio, 3),
        "goal_requests_per_second": 200,
        "goal_met": results["witness"]["requests_per_second"] >= 200,
        "checkpoint_path": path,
        "checkpoint_path_goal_met": path["total_median_ms"] <= 100,
        "station_path": station,
        "station_path_goal_met": station["gather_median_ms"] <= 100,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for label in ("baseline", "witness"):
            row = results[label]
            print(
                f"{label:9} {row['requests_per_second']:8.1f} req/s   median {row['latency_median_ms']:6.2f} ms   "
                f"p99 {row['latency_p99_ms']:6.2f} ms   ({int(row['requests'])} requests)"
            )
        print(
            f"witness/baseline throughput {ratio:.2f}; goal >= 200 req/s: {'met' if report['goal_met'] else 'NOT met'}"
        )
        steps = ", ".join(f"{name.removesuffix('_median_ms')} {value} ms" for name, value in path.items())
        print(f"checkpoint path, medians: {steps}")
        print(f"goal total <= 100 ms: {'met' if report['checkpoint_path_goal_met'] else 'NOT met'}")
        print(
            f"station path, medians: make (sign, store, lock, record) {station['make_median_ms']} ms, "
            f"gather (2 witnesses + TSA, stored and locked beside it) {station['gather_median_ms']} ms"
        )
        print(f"goal: outside trust adds <= 100 ms: {'met' if report['station_path_goal_met'] else 'NOT met'}")
    met = report["goal_met"] and report["checkpoint_path_goal_met"] and report["station_path_goal_met"]
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
