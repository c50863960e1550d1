"""What the CLI prints for people: whole values when piped, readable blocks instead of Python reprs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.table import Table
from typer.testing import CliRunner

from evidock.cli import app, main
from evidock.cli_common import _Console
from evidock.settings import Settings
from tests import media
from tests.conftest import add_person, station_env

pytestmark = pytest.mark.s3

HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@dataclass(frozen=True)
class Station:
    config: Path
    env: dict[str, str]  # the environment of a custodian's shell
    recordings: list[str]  # ids, in file order

    def evidock(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI as a person's shell runs it, its output piped (not a terminal)."""
        return subprocess.run(
            [sys.executable, "-m", "evidock.cli", "--config", str(self.config), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


@pytest.fixture
def station(
    config_file: Path, tmp_path: Path, settings: Settings, s3_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> Station:
    """Two clips of CAM01 ten seconds apart (a GAP finding naming both), a signed checkpoint, a custodian."""
    created = datetime(2026, 11, 20, 0, 0, 0, tzinfo=UTC)
    for n, second in enumerate((0, 10), start=1):
        media.clip(
            tmp_path / "inbox" / f"CAM01_P1001_202611200800{second:02d}_{n:04d}.mp4",
            seconds=2,
            created=created.replace(second=second),
            mark=f"out{n}",
        )
    cfg = ["--config", str(config_file)]
    assert main([*cfg, "ingest", "--json", str(tmp_path / "inbox")]) == 0
    ingested = [r["recording"] for r in json.loads(capsys.readouterr().out)]
    assert main([*cfg, "keys", "init"]) == 0
    assert main([*cfg, "log", "checkpoint", "--new"]) == 0
    capsys.readouterr()
    token = add_person(settings, "li.si", "custodian")
    env = {**station_env(s3_env), "EVIDOCK_USER": "li.si", "EVIDOCK_TOKEN": token, "COLUMNS": "80"}
    env.pop("EVIDOCK_PASSWORD", None)
    return Station(config_file, env, ingested)


def test_piped_tables_carry_whole_values(station: Station) -> None:
    """COLUMNS=80 as a terminal of 80 columns would say: a pipe is not one, nothing is cut or wrapped."""
    listed = station.evidock("recordings", "list")
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout
    ids = re.findall(r"│ ([0-9a-f]{12}) │", listed.stdout)
    assert sorted(ids) == sorted(r[:12] for r in station.recordings)
    shown = station.evidock("recordings", "show", ids[0])  # the printed id can be pasted
    assert shown.returncode == 0, shown.stderr
    assert f"id: {ids[0]}" in shown.stdout

    findings = station.evidock("findings", "list")
    assert findings.returncode == 0, findings.stderr
    assert "│ gap " in findings.stdout
    assert "…" not in findings.stdout
    assert set(HEX64.findall(findings.stdout)) == set(station.recordings), "the message's hashes are whole"

    as_json = station.evidock("log", "proof", "--entry", "0", "--json")
    assert as_json.returncode == 0, as_json.stderr
    proof = json.loads(as_json.stdout)
    printed = station.evidock("log", "proof", "--entry", "0")
    assert printed.returncode == 0, printed.stderr
    first = printed.stdout.splitlines()[0]
    # Each `log proof` logs (and anchors) its own read, so the second sees a larger tree: compare the form.
    assert re.fullmatch(r"entry 0 in tree of size \d+, root [0-9a-f]{64}", first), "the root is on one line"
    assert len(proof["root"]) == 64


def test_cli_runner_output_is_not_cut_either(station: Station) -> None:
    result = CliRunner().invoke(
        app, ["--config", str(station.config), "findings", "list"], env=station.env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    assert set(HEX64.findall(result.output)) == set(station.recordings)
    assert max(len(line) for line in result.output.splitlines()) > 200, "one row, not wrapped to 80 columns"


def test_a_terminal_still_gets_a_table_that_fits() -> None:
    """On a terminal the layout follows its width as before (Rich shortens or folds cells)."""
    console = _Console(force_terminal=True, width=40, color_system=None)
    table = Table("id", "what")
    table.add_row("a" * 64, "b" * 64)
    with console.capture() as captured:
        console.print(table)
    assert max(len(line) for line in captured.get().splitlines()) <= 40


def test_recordings_show_prints_blocks_not_python_reprs(station: Station) -> None:
    shown = station.evidock("recordings", "show", station.recordings[0])
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "{'" not in text
    assert "[{" not in text
    assert "None" not in text
    lines = text.splitlines()
    media_at = lines.index("media:")
    assert lines[media_at + 1] == "  kind: video"
    assert "  video_codec: h264" in lines
    assert "  duration: 2.0 s" in lines
    assert "  creation_time: 2026-11-20 08:00:00 (Asia/Shanghai)" in lines, "the embedded UTC time, shown locally"
    assert "  problem: —" in lines
    receipts_at = lines.index("receipts:")
    assert lines[receipts_at + 1] == "  - id: 1"
    assert lines[receipts_at + 2].startswith("    path: ")
    assert lines[receipts_at + 2].endswith("_0001.mp4")
    assert "    state: released" in lines
    assert "    duplicate: no" in lines
    assert "label: —" in lines
    assert "notes: none" in lines

    as_json = station.evidock("recordings", "show", station.recordings[0], "--json")
    data = json.loads(as_json.stdout)
    assert data["media"]["kind"] == "video"
    assert data["media"]["duration_ms"] == 2000
    assert data["receipts"][0]["duplicate"] is False
