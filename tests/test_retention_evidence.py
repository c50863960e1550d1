"""Evidence against the real S3 server: legal hold and retention read back, HOLD/RETENTION entries, release."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cases.evidence import designations
from chain.entries import EntryType, parse_time
from evidock.app import App, retention_context
from evidock.cli import main
from retention import evidence
from retention.context import CustodyError
from retention.policy import Category, add_months, retain_until
from storage import journal
from storage import recordings as recordings_db
from storage.objects import StoredVersion
from tests.conftest import CUSTODIAN, add_person
from tests.test_retention_labels import CASE, ingest

pytestmark = pytest.mark.s3

OTHER_CASE = "京朝公(治)行罚决字[2026]9号"


@pytest.fixture
def s3_keys(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, custodian: str) -> None:
    """S3 keys for the CLI, which acts as the custodian (docs/access.md)."""
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])


def _version(evi: App, recording: str) -> StoredVersion:
    with evi.catalog.read() as conn:
        row = recordings_db.get(conn, recording)
    assert row is not None
    return StoredVersion(row.object_key, row.version_id, row.size)


@pytest.mark.usefixtures("s3_keys")
def test_evidence_add_holds_and_extends_and_release_needs_a_second_person(
    evi: App, tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recording = ingest(evi, tmp_path, "CAM01_P1001_20261120080000_0001.mp4", retain_for=timedelta(days=100))
    version = _version(evi, recording)
    before = evi.store.read_lock(version)
    assert before.retain_until is not None
    assert not before.legal_hold
    cfg = ["--config", str(config_file)]

    assert main([*cfg, "evidence", "add", recording[:8], "--case", CASE, "--period", "30", "--json"]) == 0
    (added,) = json.loads(capsys.readouterr().out)
    lock = evi.store.read_lock(version)
    assert lock.legal_hold
    assert lock.mode == "COMPLIANCE"
    assert lock.retain_until is not None
    with evi.catalog.read() as conn:
        row = recordings_db.get(conn, recording)
        hold = journal.entry_at(conn, added["hold_entry"])
        kept = journal.entry_at(conn, added["retention_entry"])
    assert row is not None
    # 30 calendar years after the recording (its basis: never before the ingest time), read back.
    expected = retain_until(
        max(row.end_raw or row.ingested_at, row.ingested_at),
        evi.settings.retention,
        Category.EVIDENCE,
        now=row.ingested_at,
    )
    assert lock.retain_until == expected
    assert lock.retain_until >= add_months(row.ingested_at, 12 * 30) - timedelta(days=1)
    assert datetime.fromisoformat(added["retain_until"]) == lock.retain_until
    assert (hold.type, hold.body["action"], hold.body["case_number"], hold.body["by"]) == (
        EntryType.HOLD,
        "set",
        CASE,
        CUSTODIAN,
    )
    assert kept.type is EntryType.RETENTION
    assert parse_time(str(kept.body["retain_until"])) == lock.retain_until
    assert parse_time(str(kept.body["previous"])) == before.retain_until.replace(microsecond=0)
    assert row.retain_until == before.retain_until, "the recordings row keeps the INGEST value (verify compares them)"

    # Again with the same case and term: nothing new; a shorter term never shortens.
    size = _size(evi)
    assert main([*cfg, "evidence", "add", recording[:8], "--case", CASE, "--period", "30", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["hold_entry"] is None
    assert _size(evi) == size
    assert main([*cfg, "evidence", "add", recording[:8], "--case", OTHER_CASE, "--period", "5", "--json"]) == 0
    (second,) = json.loads(capsys.readouterr().out)
    assert second["retention_entry"] is None
    assert datetime.fromisoformat(second["retain_until"]) == lock.retain_until
    assert _size(evi) == size + 1  # only the HOLD entry for the second case

    # Release: a reason, the acting custodian and another active custodian approving.
    release = [*cfg, "evidence", "release", recording[:8], "--reason", "判决生效, case closed"]
    add_person(evi.settings, "li.si", "officer")
    add_person(evi.settings, "zhao.liu", "custodian")
    size = _size(evi)  # adding people logged their USER entries; the refusals below must log nothing
    refusals = {
        "赵六": "approver '赵六' is not an active user",
        "li.si": "approver li.si (officer) may not approve",
        CUSTODIAN: "wang.wu cannot approve their own action",
    }
    for approver, message in refusals.items():
        assert main([*release, "--approved-by", approver]) == 1
        assert message in capsys.readouterr().err
    assert _size(evi) == size
    assert main([*release, "--approved-by", "zhao.liu", "--case", CASE, "--json"]) == 0
    partial = json.loads(capsys.readouterr().out)
    assert partial["still_held_for"] == [OTHER_CASE]
    assert evi.store.read_lock(version).legal_hold, "another case still holds it"
    assert main([*release, "--approved-by", "zhao.liu", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["released_cases"], done["legal_hold"]) == ([OTHER_CASE], False)
    after = evi.store.read_lock(version)
    assert not after.legal_hold
    assert after.retain_until == lock.retain_until, "COMPLIANCE retention is never shortened"
    with evi.catalog.read() as conn:
        entry = journal.entry_at(conn, done["hold_entry"])
        held = designations(conn, recording)
    assert entry.body == {
        "action": "release",
        "cases": [OTHER_CASE],
        "reason": "判决生效, case closed",
        "case_number": OTHER_CASE,
        "by": CUSTODIAN,
        "approved_by": "zhao.liu",
        "hold_remains": False,
    }
    assert [d.active for d in held] == [False, False]
    assert {d.approved_by for d in held} == {"zhao.liu"}
    assert main([*release, "--approved-by", "zhao.liu"]) == 1
    assert "is not held as evidence" in capsys.readouterr().err


def _size(evi: App) -> int:
    with evi.catalog.read() as conn:
        return journal.size(conn)


def test_permanent_evidence_gets_a_rolling_retention_renewed_by_the_daily_job(evi: App, tmp_path: Path) -> None:
    recording = ingest(evi, tmp_path, "CAM02_P1002_20261120080000_0001.mp4")
    ctx = retention_context(evi)
    now = datetime.now(UTC)
    (added,) = evidence.add(ctx, [recording], case_number=CASE, period="永久", by="王五", now=now)
    window = timedelta(days=evi.settings.retention.permanent_window_days)
    assert added.period == "permanent"
    assert added.legal_hold
    assert now + window <= added.retain_until <= now + window + timedelta(seconds=2)

    assert evidence.renew_permanent(ctx, now=now + timedelta(days=200)) == [], "more than 90 days left"
    later = now + timedelta(days=300)
    (renewed,) = evidence.renew_permanent(ctx, now=later)
    lock = evi.store.read_lock(_version(evi, recording))
    assert lock.retain_until == renewed.retain_until
    assert lock.retain_until is not None
    assert lock.retain_until >= later + window
    with evi.catalog.read() as conn:
        entry = journal.entry_at(conn, renewed.entry)
        (designation,) = designations(conn, recording)
    assert entry.type is EntryType.RETENTION
    assert designation.retain_until == lock.retain_until

    with pytest.raises(CustodyError, match="not a retention term"):
        evidence.parse_period("forever", evi.settings.retention)
    with pytest.raises(CustodyError, match="second person"):
        evidence.release(ctx, recording, reason="x", by="王五", approved_by=" 王五 ", now=now)
