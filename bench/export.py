"""Disc export benchmark: evidock's image building vs `xorriso -as mkisofs` on the same files, same run.

Usage (from the repository root)::

    python -m bench.export                          # 1 GiB and 4 GiB images, 3 rounds each
    python -m bench.export --sizes 4 --rounds 5 --json-out var/bench-export.json

Four sides, each a fresh process, alternating within every round:

* **baseline**: ``xorriso -as mkisofs -J -joliet-long -R -o IMAGE DIR`` on the
  original files, already on the local disk (and in the page cache: they were
  just written);
* **image**: evidock's image writer on *the same files* (``bench/export_image.py``:
  ``build_image`` as ``export disc`` calls it, every file's SHA-256 checked
  against its recording as the gate does, the image's SHA-256 taken as it is
  written). **The goal (1.3x at most) is judged on image / baseline**: it is the same
  work as xorriso's, plus evidock's two hashes;
* **evidock**: the whole ``evidock export disc`` on the same files *ingested into
  the S3 server*: the access gate's checks and ACCESS entries, the EXPORT
  entries, a signed checkpoint, the proofs, manifest and label sheet, the image
  with every original streamed from S3, the EXPORT_SEALED entry. Reported
  against the baseline too, but on this kind of machine the local S3 server
  shares the two cores and spends ~2.7 CPU-s per GiB served, so this ratio
  measures mostly the server;
* **staged**: download every original from S3 with minio's ``fget_object``,
  then the same xorriso command: what an exporter built on xorriso would have
  to do, and the fair baseline for the whole export.

All are measured as in ``bench.ingest``: a fresh subprocess started by a
small launcher (so interpreter start-up counts), wall time, peak RSS from
``wait4``; the sides alternate within each round (the order flips every round),
and the verdict is the median of the per-round ratios evidock / baseline.
Memory is judged flat when the peak RSS at the largest size is within 20 %
of the peak RSS at the smallest.

Everything runs against a throwaway Ceph RGW (``.local/s3-bench-export``, port
7592), purged at the end (the ingested originals are COMPLIANCE-locked).
See docs/performance.md ("Disc export").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import (
    GIB,
    BenchError,
    Run,
    Server,
    check_disk,
    code_version,
    evidock_env,
    machine,
    purge_on_sigterm,
    run_dir,
    run_server,
    timed,
)
from bench.ingest import make_file

REPO = Path(__file__).resolve().parent.parent
GOAL_RATIO = 1.3
FLAT_RSS = 1.2  # peak RSS at the largest size at most this many times the smallest's
FILES_PER_IMAGE = 4  # an image holds this many recordings, of equal size

# The staged baseline's download step: each original (key=version) to BENCH_STAGE, as minio does it.
STAGE_SCRIPT = """\
import os, sys
from minio import Minio
client = Minio(os.environ["BENCH_HOST"], access_key=os.environ["EVIDOCK_S3_ACCESS_KEY"],
               secret_key=os.environ["EVIDOCK_S3_SECRET_KEY"], secure=False)
os.makedirs(os.environ["BENCH_STAGE"], exist_ok=True)
for n, item in enumerate(sys.argv[1:]):
    key, version = item.split("=", 1)
    client.fget_object(os.environ["BENCH_BUCKET"], key, os.path.join(os.environ["BENCH_STAGE"], f"{n}.bin"),
                       version_id=version)
"""


@dataclass
class SizeResult:
    size_gib: int
    baseline: list[Run] = field(default_factory=list)
    image: list[Run] = field(default_factory=list)
    evidock: list[Run] = field(default_factory=list)
    staged: list[Run] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def median_s(runs: list[Run]) -> float:
            return round(statistics.median(r.seconds for r in runs), 2)

        def ratios(runs: list[Run], against: list[Run]) -> list[float]:
            return [round(r.seconds / a.seconds, 3) for r, a in zip(runs, against, strict=True)]

        image, export = ratios(self.image, self.baseline), ratios(self.evidock, self.baseline)
        return {
            "size_gib": self.size_gib,
            "rounds": len(self.baseline),
            "baseline_median_s": median_s(self.baseline),
            "image_median_s": median_s(self.image),
            "ratio_median": round(statistics.median(image), 3),
            "ratios": image,
            "evidock_median_s": median_s(self.evidock),
            "export_ratio_median": round(statistics.median(export), 3),
            "export_ratios": export,
            "staged_median_s": median_s(self.staged),
            "export_ratio_to_staged_median": round(statistics.median(ratios(self.evidock, self.staged)), 3),
            "baseline_peak_rss_mib": round(max(r.peak_rss_mib for r in self.baseline), 1),
            "image_peak_rss_mib": round(max(r.peak_rss_mib for r in self.image), 1),
            "evidock_peak_rss_mib": round(max(r.peak_rss_mib for r in self.evidock), 1),
            "evidock_server_cpu_s": round(statistics.median(r.server_cpu_s or 0.0 for r in self.evidock), 2),
        }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 4], help="image sizes in GiB (default: 1 4)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per size (default: 3)")
    p.add_argument("--evidock", default=str(REPO / ".venv" / "bin" / "evidock"), help="the evidock executable")
    p.add_argument("--work-dir", type=Path, default=REPO / "var" / "bench", help="scratch space (default: var/bench)")
    p.add_argument("--s3-dir", type=Path, default=REPO / ".local" / "s3-bench-export")
    p.add_argument("--port", type=int, default=7592, help="S3 port of the throwaway server (default: 7592)")
    p.add_argument("--keep-server", action="store_true", help="leave the throwaway server running")
    p.add_argument("--json-out", type=Path, help="write the results as JSON here")
    return p.parse_args(argv)


class Bench:
    """One catalog and bucket on the throwaway server; people c1 (requests) and c2 (approves)."""

    def __init__(self, server: Server, work: Path, evidock: str) -> None:
        from access.people import Person, Role, add_user, issue_token
        from evidock import settings as settings_mod
        from evidock.app import open_app
        from evidock.keys import init_key

        self.server = server
        self.work = work
        self.evidock = evidock
        self.config = work / "config.toml"
        self.config.write_text(
            "# written by bench/export.py\n"
            '[station]\nid = "bench"\ntimezone = "Asia/Shanghai"\n\n'
            '[watch]\nfolders = ["inbox"]\nafter_verify = "keep"\n\n'
            f'[s3]\nendpoint = "{server.endpoint}"\nbucket = "bench-export-{uuid.uuid4().hex[:8]}"\n'
            'region = "us-east-1"\n\n'
            f'[database]\nurl = "sqlite:///{work / "evidock.db"}"\n\n'
            f'[log]\nkey_file = "{work / "log.key"}"\n\n'
            "[retention]\nminimum_days = 92\n",
            encoding="utf-8",
        )
        self.env = evidock_env(server)
        self.settings = settings_mod.load(self.config, self.env)
        vkey, _ = init_key(self.settings)
        now = datetime.now(UTC)
        self.tokens: dict[str, str] = {}
        self.checked = False  # the image writer's reported SHA-256 is compared with its file once
        with open_app(self.settings) as evi:
            evi.log_key(vkey)
            admin = Person("(bench)", Role.ADMIN)
            for name in ("c1", "c2"):
                with evi.catalog.begin() as conn:
                    add_user(conn, journal=evi.journal, actor=admin, name=name, role=Role.CUSTODIAN, time=now)
                    self.tokens[name] = issue_token(conn, journal=evi.journal, actor=admin, name=name, time=now)

    def ingest_case(self, size_gib: int) -> tuple[str, Path]:
        """FILES_PER_IMAGE files making ``size_gib`` GiB, on disk and ingested, labelled with a new case."""
        from evidock.app import open_app, retention_context
        from ingest.watcher import look
        from retention import labelling
        from storage import recordings as recordings_db

        case = f"京朝公(治)行罚决字[2026]{size_gib}0{uuid.uuid4().hex[:4]}号"
        folder = self.work / f"files-{size_gib}g"
        folder.mkdir()
        ids: list[str] = []
        with open_app(self.settings) as evi:
            pipeline = evi.pipeline()
            for n in range(FILES_PER_IMAGE):
                path = folder / f"CAM0{size_gib}_P0001_2026112009{n:02d}00_{n + 1:04d}.bin"
                make_file(path, size_gib * GIB // FILES_PER_IMAGE)
                file = look(folder, path, ())
                if file is None:
                    raise BenchError(f"{path} was not seen as a docked file")
                outcome = pipeline.ingest(file)
                if outcome is None or outcome.recording is None:
                    raise BenchError(f"{path} was not ingested: {outcome}")
                ids.append(outcome.recording)
            labelling.label(
                retention_context(evi), ids, case_number=case, parties=["张三"], handler="李四", by="c1", now=evi.now()
            )
        self.ids = ids
        names = sorted(p.name for p in folder.iterdir())
        sums_of(folder).write_text(json.dumps(dict(zip(names, ids, strict=True))))
        with open_app(self.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
            found = [recordings_db.get(conn, rid) for rid in ids]
        self.objects = [(r.object_key, r.version_id) for r in found if r is not None]
        return case, folder

    def approved_request(self) -> int:
        from access.people import Person, Role
        from evidock.app import open_app
        from storage.access_terms import Action, Category

        with open_app(self.settings, ensure_bucket=False) as evi:
            gate = evi.gate()
            made = gate.request(
                Person("c1", Role.CUSTODIAN),
                self.ids,
                action=Action.EXPORT,
                reason="benchmark",
                category=Category.INTERNAL,
                document_ref=None,
            )
            gate.decide(Person("c2", Role.CUSTODIAN), made.id, approve=True, reason="benchmark")
        return made.id

    def run_baseline(self, folder: Path) -> Run:
        out = self.work / "baseline.iso"
        try:
            run, _ = timed(
                [
                    "/usr/bin/xorriso",
                    "-as",
                    "mkisofs",
                    "-quiet",
                    "-J",
                    "-joliet-long",
                    "-R",
                    "-o",
                    str(out),
                    str(folder),
                ],
                env=self.env,
                cwd=self.work,
                server=self.server,
                what="xorriso -as mkisofs",
            )
        finally:
            out.unlink(missing_ok=True)
        return run

    def run_image(self, folder: Path) -> Run:
        """evidock's image writer on the baseline's files (``bench/export_image.py``); its digest is checked."""
        out = self.work / "image.iso"
        try:
            run, stdout = timed(
                [sys.executable, "-m", "bench.export_image", str(folder), str(sums_of(folder)), str(out)],
                env={**self.env, "PYTHONPATH": str(REPO)},
                cwd=self.work,
                server=self.server,
                what="evidock's image writer",
            )
            if not self.checked:
                self.checked = True
                with out.open("rb") as image:
                    digest = hashlib.file_digest(image, "sha256").hexdigest()
                if json.loads(stdout)["sha256"] != digest:
                    raise BenchError(f"the image writer reported SHA-256 {stdout.strip()}, the file has {digest}")
        finally:
            out.unlink(missing_ok=True)
        return run

    def run_staged(self) -> Run:
        """The design evidock does not use: download the originals from S3 to a folder, then xorriso."""
        stage = self.work / "stage"
        out = self.work / "staged.iso"
        objects = " ".join(f"{key}={version}" for key, version in self.objects)
        try:
            run, _ = timed(
                [
                    "/bin/sh",
                    "-c",
                    f'"$0" -c "$1" {objects} && exec /usr/bin/xorriso -as mkisofs -quiet -J '
                    f"-joliet-long -R -o {out} {stage}",
                    sys.executable,
                    STAGE_SCRIPT,
                ],
                env={
                    **self.env,
                    "BENCH_HOST": self.server.host,
                    "BENCH_STAGE": str(stage),
                    "BENCH_BUCKET": self.settings.s3.bucket,
                },
                cwd=self.work,
                server=self.server,
                what="S3 download + xorriso",
            )
        finally:
            shutil.rmtree(stage, ignore_errors=True)
            out.unlink(missing_ok=True)
        return run

    def run_evidock(self, case: str) -> Run:
        request = self.approved_request()
        out = Path(tempfile.mkdtemp(prefix="images-", dir=self.work))
        env = {**self.env, "EVIDOCK_USER": "c1", "EVIDOCK_TOKEN": self.tokens["c1"]}
        try:
            run, stdout = timed(
                [
                    *(self.evidock, "--config", str(self.config), "export", "disc", "--case", case),
                    *("--maker", "王五", "--extractor", "赵六", "--request", str(request)),
                    *("--media", "bd", "--out", str(out), "--json"),
                ],
                env=env,
                cwd=self.work,
                server=self.server,
                what="evidock export disc",
            )
            discs = json.loads(stdout)["discs"]
            if len(discs) != 1:
                raise BenchError(f"expected one disc, got {len(discs)}")
        finally:
            shutil.rmtree(out, ignore_errors=True)
        return run


def sums_of(folder: Path) -> Path:
    """The JSON file naming the SHA-256 (= recording id) of each file in ``folder``."""
    return folder.with_name(f"{folder.name}.sha256.json")


def measure(bench: Bench, size_gib: int, rounds: int) -> SizeResult:
    case, folder = bench.ingest_case(size_gib)
    result = SizeResult(size_gib)
    try:
        for index in range(rounds):
            order = ("baseline", "image", "evidock", "staged")
            for side in order if index % 2 == 0 else reversed(order):
                os.sync()  # the last side's image is on disk: no side pays for another's writeback
                if side == "baseline":
                    result.baseline.append(bench.run_baseline(folder))
                elif side == "image":
                    result.image.append(bench.run_image(folder))
                elif side == "staged":
                    result.staged.append(bench.run_staged())
                else:
                    result.evidock.append(bench.run_evidock(case))
                print(f"bench: {size_gib} GiB round {index + 1}: {side} done", file=sys.stderr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    purge_on_sigterm()
    try:
        largest = max(args.sizes)
        check_disk(args.work_dir.parent, 3 * sum(args.sizes) * GIB + largest * GIB + 4 * GIB)
        started_at = datetime.now(UTC)
        load_before = os.getloadavg()
        block_bytes = 4 * GIB * (sum(args.sizes) + 4)
        with run_dir(args, prefix="bench-export-") as work, run_server(args, block_bytes) as server:
            bench = Bench(server, work, args.evidock)
            results = [measure(bench, size, args.rounds) for size in args.sizes]
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 1
    summaries = [r.summary() for r in results]
    flat = True
    for side in ("image", "evidock"):
        rss = [s[f"{side}_peak_rss_mib"] for s in summaries]
        flat = flat and max(rss) <= FLAT_RSS * min(rss)
        print(f"{side} peak RSS across sizes: {rss} MiB -> {'flat' if flat else 'GROWS with size'}")
    for s in summaries:
        verdict = "meets" if s["ratio_median"] <= GOAL_RATIO else "misses"
        print(
            f"{s['size_gib']} GiB: xorriso {s['baseline_median_s']} s, evidock's image writer on the same files "
            f"{s['image_median_s']} s, ratio {s['ratio_median']} (rounds {s['ratios']}; {verdict} the "
            f"{GOAL_RATIO}x goal); peak RSS xorriso {s['baseline_peak_rss_mib']} MiB, "
            f"image writer {s['image_peak_rss_mib']} MiB"
        )
        print(
            f"{s['size_gib']} GiB: whole `export disc` from S3 {s['evidock_median_s']} s "
            f"({s['export_ratio_median']}x xorriso, rounds {s['export_ratios']}; the S3 server used "
            f"{s['evidock_server_cpu_s']} CPU-s of it), peak RSS {s['evidock_peak_rss_mib']} MiB; "
            f"S3 download + xorriso {s['staged_median_s']} s (export / that: {s['export_ratio_to_staged_median']})"
        )
    if args.json_out:
        report = {
            "benchmark": "export",
            "started_at": started_at.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "code": code_version(None),
            "load_average_1_5_15": {"start": load_before, "end": os.getloadavg()},
            "goal": {"median_ratio_max": GOAL_RATIO, "rss_flat_within": FLAT_RSS},
            "summaries": summaries,
            "rounds": [
                {
                    "size_gib": r.size_gib,
                    "baseline": [asdict(x) for x in r.baseline],
                    "image": [asdict(x) for x in r.image],
                    "evidock": [asdict(x) for x in r.evidock],
                    "staged": [asdict(x) for x in r.staged],
                }
                for r in results
            ],
            "rss_flat": flat,
        }
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
