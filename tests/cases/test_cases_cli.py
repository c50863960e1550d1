"""`evidock case decision|show` run in-process as the people who use them (docs/decisions.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidock.settings import Settings
from tests.cases.helpers import ADDRESS, CASE, ID_NUMBER, NAME, PHONE
from tests.conftest import act_as, add_person, use

pytestmark = pytest.mark.s3


@pytest.fixture
def cfg(config_file: Path, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])
    return ["--config", str(config_file)]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from evidock.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_penalty_is_decided_from_the_command_line_and_a_major_one_refused(
    settings: Settings, cfg: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    act_as(settings, monkeypatch, "cheng.ban", "custodian")
    facts = ["--action", "行政处罚", "--party", NAME, "--id-number", ID_NUMBER, "--phone", PHONE, "--address", ADDRESS]
    code, out, err = _run(capsys, *cfg, "case", "decision", "facts", CASE, *facts, "--json")
    assert code == 0, err
    assert json.loads(out)["party"]["name"] == NAME
    code, out, err = _run(capsys, *cfg, "case", "decision", "propose", CASE, "--text", "拟罚款", "--fine", "5000")
    assert code == 0, err
    assert "MAJOR decision (重大行政执法决定): art6_fine (art. 6(3), 14)" in out
    final = ["--document", "武人社罚决字[2026]12号", "--date", "2026-02-13", "--text", "罚款5000元"]
    code, out, err = _run(capsys, *cfg, "case", "decision", "final", CASE, *final)
    assert code == 1
    assert err.startswith("error: case 武人社罚字[2026]12号 is a major decision (重大行政执法决定: art6_fine")
    code, out, err = _run(capsys, *cfg, "case", "decision", "propose", CASE, "--text", "拟罚款", "--fine", "4999.99")
    assert code == 0, err
    assert "not a major decision" in out
    code, out, err = _run(capsys, *cfg, "case", "decision", "final", CASE, *final, "--json")
    assert code == 0, err
    assert json.loads(out)["final"]["publish_due_on"] == "2026-03-02"

    use(monkeypatch, "fa.zhi", add_person(settings, "fa.zhi", "legal"))
    code, _, err = _run(capsys, *cfg, "case", "decision", "mark-major", CASE, "--reason", "x")
    assert code == 1
    assert "fa.zhi (legal) may not record a case's decision" in err
    code, out, err = _run(capsys, *cfg, "case", "show", CASE, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert [s["action"] for s in shown["steps"]] == ["facts", "propose", "propose", "final"]
    assert shown["access_entry"] > shown["steps"][-1]["entry"]  # the read is registered, after the steps
