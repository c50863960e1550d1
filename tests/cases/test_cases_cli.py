"""`evidock case decision|show` run in-process as the people who use them (docs/decisions.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidock.keys import init_key
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


def test_review_and_publication_from_the_command_line(  # noqa: PLR0917 - pytest fixtures
    settings: Settings,
    cfg: list[str],
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The unit submits, the legal role checks and agrees (with the PDF), the unit decides, publishes, withdraws."""
    feed = tmp_path / "feed"
    with config_file.open("a", encoding="utf-8") as handle:
        handle.write(f'[publication]\nauthority = "市人社局"\nfeed_dir = "{feed}"\n')
    init_key(settings)  # the opinion's PDF names the checkpoint it was printed against
    unit = add_person(settings, "cheng.ban", "custodian")
    legal = add_person(settings, "fa.zhi", "legal")
    add_person(settings, "zhao.liu", "custodian")
    use(monkeypatch, "cheng.ban", unit)
    facts = ["--action", "penalty", "--party", NAME, "--id-number", ID_NUMBER, "--phone", PHONE]
    assert _run(capsys, *cfg, "case", "decision", "facts", CASE, *facts)[0] == 0
    assert (
        _run(capsys, *cfg, "case", "decision", "propose", CASE, "--text", f"拟对{NAME}罚款", "--fine", "6000")[0] == 0
    )
    (tmp_path / "询问笔录.pdf").write_bytes(b"%PDF-1.4 interview record")
    code, out, err = _run(
        capsys, *cfg, "case", "review", "submit", CASE, "--proposal", "建议罚款6000元", "--basis", "条例第二十六条",
        "--document", str(tmp_path / "询问笔录.pdf"), "--json",
    )  # fmt: skip
    assert code == 0, err
    submitted = json.loads(out)
    assert submitted["state"] == "submitted"
    assert submitted["documents"][0]["title"] == "询问笔录.pdf"
    review = str(submitted["id"])
    code, _, err = _run(capsys, *cfg, "case", "review", "check", review, "--complete")
    assert code == 1
    assert "may not review major decisions (法制审核)" in err

    use(monkeypatch, "fa.zhi", legal)
    code, out, err = _run(capsys, *cfg, "case", "review", "check", review, "--complete")
    assert code == 0, err
    assert "in_review (审核中), due " in out
    code, out, err = _run(capsys, *cfg, "case", "review", "list", "--open", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["state"] == "in_review"
    points = "complete=ok,competence=ok,jurisdiction=ok,facts=ok,procedure=ok,law=ok,documents=ok,crime=ok"
    opinion = ["--point", points, "--opinion", "agree", "--reasons", "事实清楚"]
    code, _, err = _run(capsys, *cfg, "case", "review", "opinion", review, *opinion)
    assert code == 1
    assert "these are not worked through: other" in err
    pdf = tmp_path / "意见书.pdf"
    code, out, err = _run(
        capsys, *cfg, "case", "review", "opinion", review, *opinion, "--point", "other=na", "--pdf", str(pdf)
    )
    assert code == 0, err
    assert "agree (同意)" in out
    assert pdf.read_bytes().startswith(b"%PDF-")
    code, out, err = _run(capsys, *cfg, "case", "review", "show", review, "--json")
    assert code == 0, err
    assert json.loads(out)["opinions"][0]["opinion"] == "agree"

    use(monkeypatch, "cheng.ban", unit)
    final = ["--document", "武人社罚决字[2026]12号", "--date", "2026-11-20", "--text", f"对{NAME}罚款6000元"]
    code, _, err = _run(capsys, *cfg, "case", "decision", "final", CASE, *final)
    assert code == 0, err
    code, out, err = _run(
        capsys,
        *cfg,
        "case",
        "publish",
        "decision",
        CASE,
        "--mode",
        "summary",
        "--summary",
        f"对{NAME}罚款6000元",
        "--json",
    )
    assert code == 0, err
    published = json.loads(out)
    assert published["content"]["party"] == "张某"
    assert (feed / "items" / f"{published['id']}.html").exists()
    code, out, err = _run(
        capsys, *cfg, "case", "publish", "withdraw", str(published["id"]), "--document", "(2026)鄂0102行初12号",
        "--reason", "判决撤销",
    )  # fmt: skip
    assert code == 0, err
    assert "withdrawn" in out
    assert not (feed / "items" / f"{published['id']}.html").exists()
    for path in (p for p in feed.rglob("*") if p.is_file()):
        assert NAME not in path.read_text(encoding="utf-8")
