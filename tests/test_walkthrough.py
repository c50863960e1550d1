"""The README's first day (its ```sh walkthrough block), run as pasted, against the real S3 server.

The block is taken from README.md itself, so the README cannot drift from what works.
It runs in a temporary folder with its own config.toml (its own bucket and catalog),
after `evidock run --once` has started the station as `make run` would.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, raw_config, station_env, write_config

pytestmark = [pytest.mark.s3, pytest.mark.slow]

CASE = "京朝公(治)行罚决字[2026]1号"


def walkthrough() -> str:
    """The one ```sh walkthrough block of README.md."""
    blocks = re.findall(
        r"^```sh walkthrough\n(.*?)^```$", (REPO / "README.md").read_text(encoding="utf-8"), re.M | re.S
    )
    assert len(blocks) == 1, "README.md has one ```sh walkthrough block"
    return str(blocks[0])


def test_the_readme_keeps_its_two_commands() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert "\nmake run     # " in text
    assert "\nmake test    # " in text


def test_the_readme_walkthrough_works_when_pasted(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> None:
    (tmp_path / "inbox").mkdir()
    write_config(tmp_path / "config.toml", raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"]))
    env = {k: v for k, v in station_env(s3_env).items() if not k.startswith("EVIDOCK_") or k.startswith("EVIDOCK_S3")}
    env.pop("EVIDOCK_S3_ENDPOINT", None)  # the config file names the server, as on a station
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # .venv/bin: the block's first line
    started = subprocess.run(
        [sys.executable, "-m", "evidock.cli", "run", "--once"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert started.returncode == 0, started.stderr

    # bash -e: each line must succeed, as each must for a person pasting them one by one.
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"

    clip = tmp_path / "clips" / "CAM01_P1001_20261120080619_0001.mp4"
    recording = hashlib.sha256(clip.read_bytes()).hexdigest()
    assert hashlib.sha256((tmp_path / "copy.mp4").read_bytes()).hexdigest() == recording
    (image,) = (tmp_path / "discs").glob("evidence-*-disc1of1.iso")
    assert f"disc 1/1: discs/{image.name}" in done.stdout
    assert f"case {CASE}" in done.stdout
    audit = [line for line in done.stdout.splitlines() if "│ li.si " in line]
    assert any("│ copy " in line and "zhao.liu" in line for line in audit), audit
    assert any("│ export " in line and "zhao.liu" in line for line in audit), audit
    assert done.stdout.rstrip().endswith("verify: OK")
