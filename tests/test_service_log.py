"""`evidock run`'s own output, read as a person reads a station's log.

A real service (subprocess, the real S3 server) at ``EVIDOCK_LOG_LEVEL=INFO``:
every line starts with the station's local time and offset, and the scheduler
writes nothing while its jobs only look (the checkpoint poll runs every 5 s) —
what the jobs do (a checkpoint signed) is there. A port already taken by
another program is one clear error line, without uvicorn's ``[Errno 98]``.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evidock.service_log import SCHEDULER_LOGGER
from tests import media
from tests.conftest import free_port, raw_config, station_env, write_config
from tests.service import Service, wait_until

pytestmark = pytest.mark.s3

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\+08:00 ")  # Asia/Shanghai, the default zone
RUN_SECONDS = 12.0  # two checkpoint polls and more


@pytest.mark.slow
def test_every_line_is_stamped_and_the_scheduler_speaks_only_through_its_jobs(
    tmp_path: Path, s3_env: dict[str, str], bucket: str
) -> None:
    (tmp_path / "inbox").mkdir()
    raw = raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"], log={"checkpoint_every_seconds": 1})
    config = write_config(tmp_path / "config.toml", raw)
    before = datetime.now(UTC)
    service = Service(config, station_env(s3_env), free_port(), log_file=tmp_path / "run.log")
    try:
        service.wait_http()
        media.clip(tmp_path / "inbox" / "CAM01_P1001_20261120080619_0001.mp4", seconds=1, mark="log")
        wait_until(lambda: "checkpoint" in service.log_text() and "signed" in service.log_text(), "a checkpoint")
        time.sleep(RUN_SECONDS)  # the jobs keep polling; nothing more is to be done
    finally:
        assert service.stop() == 0, service.log_text()[-3000:]
    after = datetime.now(UTC)

    lines = service.log_text().splitlines()
    unstamped = [line for line in lines if not STAMP.match(line)]
    assert not unstamped, unstamped
    for line in lines:
        match = STAMP.match(line)
        assert match is not None
        moment = datetime.fromisoformat(match.group(1) + "+08:00")
        assert before - timedelta(seconds=1) <= moment <= after, line
    assert not [line for line in lines if f" {SCHEDULER_LOGGER}" in line], "the scheduler's own chatter"
    said = "\n".join(lines)
    assert "evidock run: S3 endpoint" in lines[0]
    assert "ingested" in said
    assert re.search(r"INFO storage\.checkpoints: checkpoint \d+ signed and anchored", said), said
    # Start, key, HTTP, watching, the file, its checkpoint, the stop: a handful of lines, not one per 5 s poll.
    assert len(lines) <= 15, said


def test_a_taken_port_is_one_clear_line(config_file: Path, s3_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = subprocess.run(
            [sys.executable, "-m", "evidock.cli", "--config", str(config_file), "run", "--http-port", str(port)],
            env={**station_env(s3_env), "EVIDOCK_LOG_LEVEL": "INFO"},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    assert ran.returncode == 1, ran.stderr
    assert "Errno" not in ran.stderr
    assert "Traceback" not in ran.stderr
    errors = [line for line in ran.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: the HTTP API could not listen on 127.0.0.1:{port}: another program already listens there; "
        "choose another port with --http-port or another address with --http-host"
    ]
    assert sum(str(port) in line for line in ran.stderr.splitlines()) == 1, ran.stderr
