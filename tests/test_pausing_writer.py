"""A writer that pauses longer than ``stable_seconds`` (a real process, a real `evidock run`).

Holding the file open, it never has a prefix taken (the /proc writer check).
Reopening it for every append leaves closed, quiet moments: a prefix can be
taken, and is then linked to the complete file by a SUPERSEDED_PARTIAL finding.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from storage.schema import findings, recordings
from tests.conftest import free_port, raw_config, sqlite_only, station_env, write_config
from tests.service import Service, receipt_rows, wait_until

pytestmark = [pytest.mark.s3, pytest.mark.slow, sqlite_only]  # the receipts are read from the SQLite file

CHUNKS = 4
CHUNK = 64 * 1024
PAUSE = 2.5  # seconds between appends: longer than the 10 x stable_seconds an inotify-seen writer gets

WRITER = """
import os, sys, time
path, chunks, size, pause, reopen = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
if reopen == "hold":
    with open(path, "wb") as f:
        for i in range(chunks):
            f.write(bytes([65 + i]) * size); f.flush(); os.fsync(f.fileno())
            time.sleep(pause)
else:
    for i in range(chunks):
        with open(path, "ab") as f:
            f.write(bytes([65 + i]) * size)
        time.sleep(pause)
"""


def _expected() -> tuple[bytes, str]:
    content = b"".join(bytes([65 + i]) * CHUNK for i in range(CHUNKS))
    return content, hashlib.sha256(content).hexdigest()


def _service_with_writer(tmp_path: Path, s3_env: dict[str, str], bucket: str, mode: str) -> Path:
    (tmp_path / "inbox").mkdir()
    config = write_config(
        tmp_path / "config.toml",
        raw_config(
            tmp_path,
            bucket,
            s3_env["S3_ENDPOINT"],
            watch={"stable_seconds": 0.2, "rescan_seconds": 1},
            checks={"deep_scan": False},
        ),
    )
    target = tmp_path / "inbox" / "CAM05_P1005_20261120080619_0001.mp4"
    service = Service(config, station_env(s3_env), free_port(), log_file=tmp_path / "run.log")
    try:
        service.wait_http()
        writer = subprocess.run(
            [sys.executable, "-c", WRITER, str(target), str(CHUNKS), str(CHUNK), str(PAUSE), mode],
            check=True,
            timeout=60,
        )
        assert writer.returncode == 0
        _, digest = _expected()
        wait_until(
            lambda: any(
                r["sha256"] == digest and r["state"] == "released" for r in receipt_rows(tmp_path / "evidock.db")
            ),
            "the complete file stored",
            service=service,
        )
    finally:
        assert service.stop() == 0, service.log_text()[-3000:]
    return tmp_path / "evidock.db"


def test_a_writer_holding_the_file_open_has_no_prefix_taken(
    tmp_path: Path, s3_env: dict[str, str], bucket: str
) -> None:
    db = _service_with_writer(tmp_path, s3_env, bucket, "hold")
    _, digest = _expected()
    rows = receipt_rows(db)
    assert [(r["size"], r["sha256"]) for r in rows] == [(CHUNKS * CHUNK, digest)]


def test_a_prefix_taken_between_appends_is_linked_to_the_complete_file(
    tmp_path: Path, s3_env: dict[str, str], bucket: str
) -> None:
    db = _service_with_writer(tmp_path, s3_env, bucket, "reopen")
    content, digest = _expected()
    rows = receipt_rows(db)
    sizes = [int(str(r["size"])) for r in rows]
    # The pauses really let prefixes be taken, or this test proves nothing.
    assert len(rows) >= 2, sizes
    assert sizes == sorted(sizes)
    for row in rows:
        size = int(str(row["size"]))
        assert row["sha256"] == hashlib.sha256(content[:size]).hexdigest()
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = set(conn.execute(select(recordings.c.id)).scalars())
        linked = [
            tuple(r.recordings) for r in conn.execute(select(findings).where(findings.c.kind == "superseded_partial"))
        ]
    engine.dispose()
    assert stored == {r["recording"] for r in rows}
    partials = {r["recording"] for r in rows if r["sha256"] != digest}
    # Every partial is marked superseded by the complete file; the complete file is never a partial.
    assert {(p, digest) for p in partials} <= set(linked), linked
    assert all(first != digest for first, _ in linked)
