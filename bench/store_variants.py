"""How to store a recording: the variants measured before choosing (issue 21), in one process, at the S3 level.

Usage (from the repository root)::

    python -m bench.store_variants                   # 1 GiB, 4 rounds
    python -m bench.store_variants --size-mib 256 --rounds 6 --json-out var/store-variants.json

Each variant does everything the ingest pipeline does with the object store for
one new file, nothing of the catalog: the bytes up, the SHA-256 known, the
stored version re-read and compared, COMPLIANCE retention set on it (one day:
the throwaway server is purged anyway). The variants:

* ``staging+copy signed``: the path before issue 21. minio ``put_object``
  (8 MiB x 3, SigV4-signed payload) of the file to a staging key, hashing it
  as minio reads it; server-side copy to the content key; lock; re-read;
  delete the staging version;
* ``staging+copy unsigned``: the same, the parts sent by the chosen upload
  loop instead (``UNSIGNED-PAYLOAD``), hashed in order as they are read;
* ``direct signed``: SHA-256 of the file first, then minio ``put_object``
  straight to the content key; re-read; lock;
* ``direct unsigned`` (**chosen**): SHA-256 first, then ``ObjectStore.upload_parts``
  straight to the content key; ``fixity_sha256``; ``ObjectStore.lock``, the
  code the pipeline runs.

The baseline is minio's ``fput_object`` with its defaults in the same process.
All run alternately against one throwaway server (``bench/harness.py``); the
verdict is the median of per-round ratios, and each run's client and server CPU
seconds are kept (less sensitive to other tenants than wall time).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from minio import Minio
from minio.commonconfig import ComposeSource

from bench.harness import (
    GIB,
    MARGIN_BYTES,
    MIB,
    BenchError,
    Server,
    check_disk,
    code_version,
    cpu_seconds,
    load_now,
    machine,
    purge_on_sigterm,
    server_pids,
    throwaway_server,
)
from bench.ingest import make_file
from ingest.hashing import digest_file
from storage.objects import ObjectStore, StoredVersion

PART = 8 * MIB
PARALLEL = 3


@dataclass(frozen=True)
class Sample:
    variant: str
    round: int
    seconds: float
    client_cpu_s: float
    server_cpu_s: float | None
    load_1min: float


class _HashingReader:
    """What the pre-issue-21 pipeline gave minio: a reader that hashes every byte minio reads."""

    def __init__(self, raw: io.BufferedReader) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self.digest.update(chunk)
        return chunk


class Variants:
    def __init__(self, server: Server, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.store = ObjectStore.connect(
            host=server.host,
            access_key=server.access_key,
            secret_key=server.secret_key,
            bucket=f"bench-variants-{uuid.uuid4().hex[:8]}",
            part_size=PART,
            parallel_uploads=PARALLEL,
        )
        self.store.ensure_bucket()
        self.bucket = self.store.bucket
        self.client: Minio = self.store._client
        self.plain = f"bench-variants-base-{uuid.uuid4().hex[:8]}"
        self.client.make_bucket(self.plain)
        self.retain = datetime.now(UTC) + timedelta(days=1)

    def sides(self) -> dict[str, Callable[[], None]]:
        return {
            "baseline fput_object": self.baseline,
            "staging+copy signed": self.staging_signed,
            "staging+copy unsigned": self.staging_unsigned,
            "direct signed": self.direct_signed,
            "direct unsigned (chosen)": self.direct_unsigned,
        }

    def _key(self) -> str:
        return f"sha256/bench/{uuid.uuid4().hex}"  # a fresh key per run: no run finds another's object

    def _hash_first(self) -> str:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            return digest_file(fd).sha256
        finally:
            os.close(fd)

    def _read(self, offset: int, view: memoryview) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.preadv(fd, [view], offset)
        finally:
            os.close(fd)

    def _verify_lock(self, version: StoredVersion, sha256: str) -> None:
        if self.store.fixity_sha256(version) != (sha256, self.size):
            raise BenchError(f"{version.key} does not read back as the file")
        self.store.lock(version, self.retain)

    def _copy(self, staged: StoredVersion, sha256: str) -> None:
        key = self._key()
        copied = self.client.compose_object(
            self.bucket, key, [ComposeSource(self.bucket, staged.key, version_id=staged.version_id)]
        )
        version = StoredVersion(key, copied.version_id or "", self.size)
        self.store.lock(version, self.retain)  # the old order: locked, then re-read
        if self.store.fixity_sha256(version) != (sha256, self.size):
            raise BenchError(f"{key} does not read back as the file")
        self.store.delete_version(staged)

    def baseline(self) -> None:
        key = f"base/{uuid.uuid4().hex}"
        self.client.fput_object(self.plain, key, str(self.path))
        self.client.remove_object(self.plain, key)

    def staging_signed(self) -> None:
        key = f"staging/bench/{uuid.uuid4().hex}"
        with self.path.open("rb") as raw:
            reader = _HashingReader(raw)
            result = self.client.put_object(
                self.bucket,
                key,
                reader,  # type: ignore[arg-type]  # minio only calls read()
                self.size,
                part_size=PART,
                num_parallel_uploads=PARALLEL,
            )
        self._copy(StoredVersion(key, result.version_id or "", self.size), reader.digest.hexdigest())

    def staging_unsigned(self) -> None:
        key = f"staging/bench/{uuid.uuid4().hex}"
        digest = hashlib.sha256()
        turn = threading.Condition()
        hashed = [0]  # parts are read by several threads: hashed in file order, each waiting its turn

        def read(offset: int, view: memoryview) -> None:
            self._read(offset, view)
            with turn:
                turn.wait_for(lambda: hashed[0] == offset)
                digest.update(view)
                hashed[0] += len(view)
                turn.notify_all()

        staged = self.store.upload_parts(key, self.size, read, metadata={})
        self._copy(staged, digest.hexdigest())

    def direct_signed(self) -> None:
        sha256 = self._hash_first()
        key = self._key()
        with self.path.open("rb") as raw:
            result = self.client.put_object(
                self.bucket, key, raw, self.size, part_size=PART, num_parallel_uploads=PARALLEL
            )
        self._verify_lock(StoredVersion(key, result.version_id or "", self.size), sha256)

    def direct_unsigned(self) -> None:
        sha256 = self._hash_first()
        stored = self.store.upload_parts(self._key(), self.size, self._read, metadata={})
        self._verify_lock(stored, sha256)


def measure(variants: Variants, server: Server, rounds: int) -> list[Sample]:
    sides = variants.sides()
    names = list(sides)
    pids = server_pids(server.data_dir)
    samples = []
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            load = load_now()
            before = resource.getrusage(resource.RUSAGE_SELF)
            server_before = cpu_seconds(pids)
            started = time.perf_counter()
            sides[name]()
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_SELF)
            server_after = cpu_seconds(pids)
            client = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            server_cpu = None if server_before is None or server_after is None else server_after - server_before
            samples.append(Sample(name, index + 1, round(seconds, 3), round(client, 2), _round(server_cpu), load))
            print(
                f"bench: round {index + 1}/{rounds} {name:>26}: {seconds:6.2f} s, CPU client {client:5.2f} "
                f"server {server_cpu or 0:5.2f} (load {load:.1f})",
                file=sys.stderr,
            )
    return samples


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def summary(samples: Sequence[Sample]) -> list[dict[str, object]]:
    base = {s.round: s for s in samples if s.variant == "baseline fput_object"}
    rows = []
    for name in dict.fromkeys(s.variant for s in samples):
        mine = [s for s in samples if s.variant == name]
        ratios = [s.seconds / base[s.round].seconds for s in mine]
        cpu = [
            (s.client_cpu_s + (s.server_cpu_s or 0)) / (base[s.round].client_cpu_s + (base[s.round].server_cpu_s or 0))
            for s in mine
        ]
        rows.append(
            {
                "variant": name,
                "median_s": round(statistics.median(s.seconds for s in mine), 2),
                "median_ratio": round(statistics.median(ratios), 3),
                "ratios": [round(r, 2) for r in ratios],
                "client_cpu_s": round(statistics.median(s.client_cpu_s for s in mine), 2),
                "server_cpu_s": round(statistics.median(s.server_cpu_s or 0 for s in mine), 2),
                "cpu_ratio": round(statistics.median(cpu), 3),
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.store_variants", description=__doc__.split("\n\n")[0])
    p.add_argument("--size-mib", type=int, default=1024, help="file size in MiB (default: 1024)")
    p.add_argument("--rounds", type=int, default=4, help="rounds (default: 4)")
    p.add_argument("--json-out", type=Path, default=None)
    p.add_argument("--s3-dir", type=Path, default=Path(".local/s3-bench-variants"))
    p.add_argument("--work-dir", type=Path, default=Path(".local/bench-variants"))
    p.add_argument("--port", type=int, default=7596)
    args = p.parse_args(argv)
    purge_on_sigterm()
    size = args.size_mib * MIB
    # Four locked variants per round, the staging copies and baseline objects until RGW's GC: +10 %.
    need = 6 * size * args.rounds * 11 // 10 + size + MARGIN_BYTES
    started_at = datetime.now(UTC)
    try:
        check_disk(args.work_dir.resolve().parent, need)
        args.work_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="variants-", dir=args.work_dir))
        try:
            path = work / "file.bin"
            make_file(path, size)
            with throwaway_server(args.s3_dir.resolve(), args.port, max(64 * GIB, 2 * need), keep=False) as server:
                samples = measure(Variants(server, path), server, args.rounds)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    rows = summary(samples)
    print(
        f"{'variant':>26} {'median s':>9} {'ratio':>6} {'CPU ratio':>9} {'client CPU':>10} {'server CPU':>10}  rounds"
    )
    for row in rows:
        print(
            f"{row['variant']:>26} {row['median_s']:>9} {row['median_ratio']:>6} {row['cpu_ratio']:>9} "
            f"{row['client_cpu_s']:>10} {row['server_cpu_s']:>10}  {row['ratios']}"
        )
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(
            json.dumps(
                {
                    "benchmark": "store_variants",
                    "started_at": started_at.isoformat(timespec="seconds"),
                    "machine": machine(),
                    "code": code_version(None),
                    "size_mib": args.size_mib,
                    "summary": rows,
                    "samples": [asdict(s) for s in samples],
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
