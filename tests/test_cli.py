"""The CLI in-process (main(argv)) against the real S3 server."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evidock.cli import app, main
from evidock.settings import Settings
from tests import media
from tests.conftest import act_as

COMMANDS = [
    ["case", "decision"],
    ["case", "decision", "facts"],
    ["case", "decision", "final"],
    ["case", "decision", "mark-major"],
    ["case", "decision", "propose"],
    ["case", "publish"],
    ["case", "publish", "decision"],
    ["case", "publish", "exclude"],
    ["case", "publish", "feed"],
    ["case", "publish", "list"],
    ["case", "publish", "withdraw"],
    ["case", "review"],
    ["case", "review", "accept"],
    ["case", "review", "check"],
    ["case", "review", "decide"],
    ["case", "review", "escalate"],
    ["case", "review", "extend"],
    ["case", "review", "list"],
    ["case", "review", "opinion"],
    ["case", "review", "pdf"],
    ["case", "review", "rereview"],
    ["case", "review", "show"],
    ["case", "review", "submit"],
    ["case", "review", "supplement"],
    ["case", "show"],
    [],
    ["run"],
    ["ingest"],
    ["recordings"],
    ["recordings", "list"],
    ["recordings", "show"],
    ["config"],
    ["config", "check"],
    ["keys"],
    ["keys", "init"],
    ["keys", "show"],
    ["log"],
    ["log", "checkpoint"],
    ["log", "entry"],
    ["log", "proof"],
    ["log", "consistency"],
    ["verify"],
    ["findings"],
    ["findings", "list"],
    ["findings", "explain"],
    ["clock"],
    ["clock", "report"],
    ["timeline"],
    ["incidents"],
    ["calendar"],
    ["calendar", "is-workday"],
    ["calendar", "deadline"],
    ["deadlines"],
    ["label"],
    ["evidence"],
    ["evidence", "add"],
    ["evidence", "release"],
    ["case"],
    ["case", "close"],
    ["case", "done"],
    ["compliance"],
    ["alerts"],
    ["purge"],
    ["status"],
    ["recordings", "get"],
    ["users"],
    ["users", "add"],
    ["users", "list"],
    ["users", "disable"],
    ["users", "set-role"],
    ["users", "token"],
    ["access"],
    ["access", "request"],
    ["access", "approve"],
    ["access", "deny"],
    ["access", "list"],
    ["access", "show"],
    ["audit"],
    ["audit", "access"],
    ["audit", "anomalies"],
    ["export"],
    ["export", "disc"],
    ["witness"],
    ["witness", "init"],
    ["witness", "show"],
    ["witness", "serve"],
    ["witness", "history"],
    ["quarantine"],
    ["quarantine", "list"],
    ["quarantine", "retry"],
    ["derived"],
    ["derived", "list"],
    ["derived", "show"],
    ["redact"],
    ["redact", "new"],
    ["redact", "preview"],
    ["redact", "submit"],
    ["redact", "approve"],
    ["redact", "reject"],
    ["redact", "render"],
    ["redact", "no-third-parties"],
    ["redact", "list"],
    ["redact", "show"],
]


@pytest.fixture
def s3_keys(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "evidock")
def test_every_command_has_help_with_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    text = capsys.readouterr().out
    assert "Example" in text
    assert "evidock" in text


def test_every_registered_command_is_covered_by_the_help_test() -> None:
    def walk(group: object, prefix: list[str]) -> list[list[str]]:
        found = [prefix]
        for sub in getattr(group, "registered_groups", []):
            found += walk(sub.typer_instance, [*prefix, sub.name])
        for cmd in getattr(group, "registered_commands", []):
            found.append([*prefix, cmd.name or cmd.callback.__name__.replace("_", "-")])
        return found

    assert sorted(map(tuple, walk(app, []))) == sorted(map(tuple, COMMANDS))


@pytest.mark.s3
@pytest.mark.usefixtures("s3_keys")
def test_ingest_list_show_and_check(
    config_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created = datetime(2026, 11, 20, 0, 6, 19, tzinfo=UTC)
    clips = [
        media.clip(
            tmp_path / "inbox" / f"CAM01_P1001_2026112008{m:02d}19_{m + 1:04d}.mp4",
            seconds=2,
            created=created,
            mark=f"cli{m}",
        )
        for m in range(3)
    ]
    cfg = ["--config", str(config_file)]

    assert main([*cfg, "ingest", "--json", str(tmp_path / "inbox")]) == 0
    ingested = json.loads(capsys.readouterr().out)
    assert [r["state"] for r in ingested] == ["released"] * 3

    act_as(settings, monkeypatch, "li.si", "custodian")  # reading recordings needs a person (docs/access.md)
    assert main([*cfg, "recordings", "list", "--device", "CAM01", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["seq"] for r in listed] == [1, 2, 3]
    assert {r["id"] for r in listed} == {r["recording"] for r in ingested}

    assert main([*cfg, "recordings", "list", "--device", "CAM99", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []

    assert main([*cfg, "recordings", "list", "--since", "2026-11-20 08:01:00"]) == 0
    table = capsys.readouterr().out
    assert "2 recording(s)" in table
    assert "2026-11-20 08:01:19" in table, "times are shown in Asia/Shanghai"

    prefix = listed[0]["id"][:8]
    assert main([*cfg, "recordings", "show", prefix, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == listed[0]["id"]
    assert shown["receipts"][0]["path"].endswith(clips[0].name)

    assert main([*cfg, "config", "check", "--json"]) == 0
    check = json.loads(capsys.readouterr().out)
    assert check["ok"] is True
    assert check["s3"] == {
        "reachable": True,
        "bucket_exists": True,
        "versioning": "Enabled",
        "object_lock": True,
        "default_retention": None,
    }
    assert os.environ["EVIDOCK_S3_SECRET_KEY"] not in json.dumps(check)


@pytest.mark.s3
@pytest.mark.usefixtures("s3_keys")
def test_errors_are_one_line_and_non_zero(
    config_file: Path, capsys: pytest.CaptureFixture[str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = ["--config", str(config_file)]
    act_as(settings, monkeypatch, "li.si", "custodian")
    assert main([*cfg, "recordings", "show", "zz; DROP TABLE recordings"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: recording id 'zz; DROP TABLE recordings' is not valid")
    assert main([*cfg, "recordings", "show", "abcdef12"]) == 1
    assert capsys.readouterr().err == "error: no recording abcdef12\n"
    assert main(["--config", "/nonexistent/config.toml", "recordings", "list"]) == 1
    assert "no such config file" in capsys.readouterr().err


def test_usage_errors_show_the_usage_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["recordings", "show"]) == 2
    assert main(["no-such-command"]) == 2
    text = capsys.readouterr().err
    assert "Missing argument 'recording'" in text
    assert "No such command 'no-such-command'" in text
    assert "Traceback" not in text


@pytest.mark.s3
@pytest.mark.usefixtures("s3_keys")
def test_config_check_exits_1_on_any_problem_and_still_prints_the_report(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(config_file)]
    assert main([*cfg, "config", "check", "--json"]) == 1, "the test's bucket is not created yet"
    check = json.loads(capsys.readouterr().out)
    assert check["ok"] is False
    assert check["s3"]["reachable"] is True
    assert check["s3"]["bucket_exists"] is False
    assert len(check["problems"]) == 1
    assert "does not exist" in check["problems"][0]

    assert main([*cfg, "config", "check"]) == 1
    printed = capsys.readouterr()
    assert "problem: bucket" in printed.err
    assert "exists=False" in printed.out

    with socket.socket() as holder:  # a port where nothing answers S3
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    text = config_file.read_text(encoding="utf-8")
    unreachable = tmp_path / "unreachable.toml"
    unreachable.write_text(text.replace(text.split('endpoint = "')[1].split('"')[0], f"http://127.0.0.1:{port}"))
    assert main(["--config", str(unreachable), "config", "check", "--json"]) == 1
    check = json.loads(capsys.readouterr().out)
    assert check["ok"] is False
    assert check["s3"]["reachable"] is False
    assert f"127.0.0.1:{port}" in check["problems"][0]
