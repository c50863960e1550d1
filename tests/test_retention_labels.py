"""Art. 26 wiring against the real S3 server: labels (LABEL entries), deadlines per recording, compliance.

The deadline rules themselves are tested in tests/retention/; here the catalog
facts (ingest time, first LABEL entry, end time) are shown to reach them.
Time is injected: the pipeline's clock sets the ingest time, ``now`` is passed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from cases.labels import label_history, latest_labels
from chain.entries import EntryType, opens
from evidock.app import App, retention_context
from evidock.cli import main
from ingest.pipeline import Pipeline
from ingest.watcher import look
from retention import compliance, labelling
from retention.deadlines import SHANGHAI, StatusKind
from retention.tracking import describe
from storage import journal
from storage.schema import findings, log_salts
from tests import media
from tests.conftest import CUSTODIAN

pytestmark = pytest.mark.s3

CASE = "京朝公(治)行罚决字[2026]1号"


def local(text: str) -> datetime:
    """An aware UTC datetime from a Beijing wall-clock time ``2026-02-24 10:00``."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def ingest(
    evi: App,
    tmp_path: Path,
    name: str,
    *,
    received: datetime | None = None,
    retain_for: timedelta = timedelta(days=1),
    mark: str = "",
) -> str:
    """Dock one generated 1-second clip; ``received`` fixes the station clock (and so the ingest time).

    The object is locked until ``retain_for`` from the real now (the server's clock), whatever the
    injected times: a retain-until in the past would be refused by the server.
    """
    clip = media.clip(tmp_path / "inbox" / name, seconds=1, mark=mark or name, size="160x90")
    file = look(clip.parent, clip, ())
    assert file is not None
    base = evi.pipeline().options
    options = replace(
        base,
        retain_until=lambda _end: datetime.now(UTC) + retain_for,
        checks=replace(base.checks, deep_scan=False),  # packet timing is not what these tests are about
    )
    clock: Callable[[], datetime] = (lambda: received) if received else (lambda: datetime.now(UTC))
    pipeline = Pipeline(store=evi.store, catalog=evi.catalog, journal=evi.journal, options=options, now=clock)
    outcome = pipeline.ingest(file)
    assert outcome is not None
    assert outcome.recording is not None
    return outcome.recording


@pytest.fixture
def s3_keys(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, custodian: str) -> None:
    """S3 keys for the CLI, which acts as the custodian (docs/access.md)."""
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])


def _log_size(evi: App) -> int:
    with evi.catalog.read() as conn:
        return journal.size(conn)


@pytest.mark.usefixtures("s3_keys")
def test_label_command_writes_label_entries_and_the_latest_label_wins(
    evi: App, tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = ingest(evi, tmp_path, "CAM01_P1001_20261120080000_0001.mp4")
    two = ingest(evi, tmp_path, "CAM02_P1002_20261120083000_0001.mp4")
    cfg = ["--config", str(config_file)]
    label = ["--case", CASE, "--party", "张三", "--party", "王五", "--handler", "李四"]

    assert main([*cfg, "label", one[:8], two[:10], *label, "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert [(m["recording"], m["changed"], m["case_number"]) for m in made] == [(one, True, CASE), (two, True, CASE)]
    assert made[0]["parties"] == ["张三", "王五"]

    with evi.catalog.read() as conn:
        entry = journal.entry_at(conn, made[0]["entry"])
        rows = conn.execute(select(log_salts.c.field, log_salts.c.salt).where(log_salts.c.entry == made[0]["entry"]))
        salts = {field: bytes(salt) for field, salt in rows}
    assert entry.type is EntryType.LABEL
    assert entry.recording == one
    assert (entry.body["case_number"], entry.body["handler"], entry.body["by"]) == (CASE, "李四", CUSTODIAN)
    commitments = entry.body["parties"]
    assert isinstance(commitments, list)
    assert "张三" not in json.dumps(entry.as_json(), ensure_ascii=False), "party names are only committed in the log"
    assert opens(str(commitments[0]), "张三", salts["parties[0]"])
    assert opens(str(commitments[1]), "王五", salts["parties[1]"])

    # A change is a new entry; the history stays and the latest wins.
    size = _log_size(evi)
    assert (
        main([*cfg, "label", one[:8], "--case", "京朝公(治)行罚决字[2026]2号", "--party", "张三", "--handler", "李四"])
        == 0
    )
    capsys.readouterr()
    assert _log_size(evi) == size + 1
    with evi.catalog.read() as conn:
        history = label_history(conn, one)
        current = latest_labels(conn)
    assert [h.case_number for h in history] == [CASE, "京朝公(治)行罚决字[2026]2号"]
    assert current[one].case_number == "京朝公(治)行罚决字[2026]2号"
    assert current[two].case_number == CASE

    # The same label again writes nothing.
    assert main([*cfg, "label", two[:8], *label, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["changed"] is False
    assert _log_size(evi) == size + 1

    # A shift: one device, a time range (local time).
    shift = ["--device", "CAM01", "--from", "2026-11-20 07:00", "--to", "2026-11-20 12:00"]
    assert (
        main(
            [
                *cfg,
                "label",
                *shift,
                "--case",
                "京朝公(治)行罚决字[2026]3号",
                "--party",
                "赵六",
                "--handler",
                "李四",
                "--json",
            ]
        )
        == 0
    )
    shifted = json.loads(capsys.readouterr().out)
    assert [s["recording"] for s in shifted] == [one]
    with evi.catalog.read() as conn:
        assert latest_labels(conn)[two].case_number == CASE, "CAM02 is not in the shift"

    # Refusals are one line, exit 1, and change nothing.
    size = _log_size(evi)
    assert main([*cfg, "label", one[:8], *shift, *label]) == 1
    assert capsys.readouterr().err == "error: give recording ids, or --device with --from and --to, not both\n"
    assert main([*cfg, "label", one[:8], "--case", CASE, "--party", " ", "--handler", "李四"]) == 1
    assert "party (当事人) is empty" in capsys.readouterr().err
    assert main([*cfg, "label", "--device", "CAM09", "--from", "2026-11-20", "--to", "2026-11-21", *label]) == 1
    assert "no recording of device 'CAM09'" in capsys.readouterr().err
    assert _log_size(evi) == size


@pytest.mark.usefixtures("s3_keys")
def test_deadlines_and_compliance_follow_ingest_and_label_times(
    evi: App, tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Spring Festival 2026: 15-23 Feb off, Saturday 14 Feb a make-up working day."""
    on_time = ingest(evi, tmp_path, "CAM01_P1001_20260212100000_0001.mp4", received=local("2026-02-13 09:00"))
    overdue = ingest(evi, tmp_path, "CAM01_P1001_20260212110000_0002.mp4", received=local("2026-02-13 09:05"))
    due_soon = ingest(evi, tmp_path, "CAM02_P1002_20260213100000_0001.mp4", received=local("2026-02-13 12:00"))
    late = ingest(evi, tmp_path, "CAM03_P1001_20260212120000_0001.mp4", received=local("2026-02-24 09:00"))
    pending = ingest(evi, tmp_path, "CAM03_P1001_20260224080000_0002.mp4", received=local("2026-02-24 09:10"))
    ctx = retention_context(evi)
    labelling.label(
        ctx, [on_time], case_number=CASE, parties=["张三"], handler="李四", by="c", now=local("2026-02-14 12:00")
    )
    labelling.label(
        ctx, [late], case_number=CASE, parties=["张三"], handler="李四", by="c", now=local("2026-02-24 09:30")
    )
    now = local("2026-02-24 10:00")

    tracked = {t.recording: t for t in compliance.deadlines(ctx, now=now, month=(2026, 2))}

    def standing(recording: str) -> tuple[str, str, str]:
        d = tracked[recording].deadline
        return d.due.astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S"), describe(d.storage), describe(d.label)

    assert standing(on_time) == ("02-14 23:59:59", "on time", "on time")
    assert standing(overdue) == ("02-14 23:59:59", "on time", "overdue (1 working day late)")
    assert standing(due_soon) == ("02-24 23:59:59", "on time", "due soon (0 working days left)")
    assert standing(late) == ("02-14 23:59:59", "late (1 working day late)", "late (1 working day late)")
    assert standing(pending) == ("02-26 23:59:59", "on time", "pending (2 working days left)")
    assert tracked[on_time].case_number == CASE

    report = compliance.report(ctx, now=now, month=(2026, 2))
    devices = {r.key: r for r in report.by_device}
    assert (devices["CAM01"].recordings, devices["CAM01"].stored_on_time, devices["CAM01"].labelled_on_time) == (
        2,
        2,
        1,
    )
    assert (devices["CAM01"].late, devices["CAM01"].working_days_late, devices["CAM01"].overdue) == (1, 1, 1)
    assert (devices["CAM02"].late, devices["CAM02"].overdue) == (0, 0)
    assert (devices["CAM03"].stored_on_time, devices["CAM03"].late, devices["CAM03"].working_days_late) == (1, 1, 1)
    officers = {r.key: r for r in report.by_officer}
    assert (officers["P1001"].recordings, officers["P1001"].late, officers["P1001"].working_days_late) == (4, 2, 2)
    by_case = {r.key: r for r in report.by_case}
    assert (by_case[CASE].recordings, by_case[CASE].labelled_on_time, by_case[CASE].late) == (2, 1, 1)
    assert by_case[None].recordings == 3
    # Open findings (from the checks) are counted per group, each finding once.
    with evi.catalog.read() as conn:
        open_rows = conn.execute(select(findings.c.id, findings.c.recordings).where(findings.c.status == "open")).all()
    cam03 = {late, pending}
    assert devices["CAM03"].open_findings == sum(1 for _, about in open_rows if cam03 & set(about))
    assert compliance.report(ctx, now=now, month=(2026, 3)).by_device == []

    # The commands show the same, at the real now (long after February: what was open is overdue).
    cfg = ["--config", str(config_file)]
    assert main([*cfg, "deadlines", "--month", "2026-02", "--json"]) == 0
    listed = {d["recording"]: d for d in json.loads(capsys.readouterr().out)}
    assert listed[on_time]["label"]["status"] == StatusKind.ON_TIME
    assert listed[on_time]["due"] == "2026-02-14T23:59:59+08:00"
    assert listed[late]["storage"]["status"] == StatusKind.LATE
    assert listed[late]["storage"]["working_days_late"] == 1
    assert listed[pending]["label"]["status"] == StatusKind.OVERDUE

    assert main([*cfg, "compliance", "--month", "2026-02", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    cam01 = next(r for r in rows if (r["group"], r["key"]) == ("device", "CAM01"))
    assert (cam01["recordings"], cam01["stored_on_time"], cam01["labelled_on_time"], cam01["overdue"]) == (
        "2",
        "2",
        "1",
        "1",
    )
    assert any((r["group"], r["key"]) == ("case", CASE) for r in rows)

    assert main([*cfg, "compliance", "--month", "2026-02", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["month"] == "2026-02"
    assert [r["key"] for r in data["by_device"]] == ["CAM01", "CAM02", "CAM03"]

    assert main([*cfg, "compliance", "--month", "2026-02"]) == 0
    assert "CAM03" in capsys.readouterr().out
    assert main([*cfg, "compliance", "--month", "2026-13"]) == 1
    assert "is not a month" in capsys.readouterr().err
    assert main([*cfg, "compliance", "--json", "--csv"]) == 1
    # The command's error line first; its QUERY entry is then reported unanchored (this test holds no signing key).
    assert capsys.readouterr().err.startswith("error: give --json or --csv, not both\n")
