"""`evidock quarantine list|retry`: a person releases a quarantined dock file once its cause is fixed.

The real S3 server and a real OS error: with ``after_verify = "move"``, a plain
file stands where the target folder must be made, so moving the dock copy fails
(FileExistsError) and the receipt is quarantined after the recording was
stored, verified and logged. A custodian lists it, retries it (still broken:
quarantined again, exit 1), removes the file in the way, retries again: the
dock copy is moved, the receipt released, one recording and one INGEST entry,
`verify` passes. Every list and retry is an ACCESS entry naming the person,
the receipt and the reason; an auditor is refused.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from chain.entries import EntryType, decode
from evidock import settings as settings_mod
from evidock.app import App, open_app
from evidock.cli import main
from evidock.keys import init_key
from evidock.settings import Settings
from ingest.watcher import look
from storage.receipts import Receipt, State, resumes_at
from storage.schema import log_entries, recordings
from tests import media
from tests.conftest import add_person, raw_config, station_env, use, write_config

pytestmark = pytest.mark.s3

NAME = "CAM61_P6101_20261120080619_0001.mp4"


@pytest.fixture
def station(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> Settings:
    (tmp_path / "inbox").mkdir()
    raw = raw_config(
        tmp_path, bucket, s3_env["S3_ENDPOINT"], watch={"after_verify": "move", "move_to": str(tmp_path / "moved")}
    )
    settings = settings_mod.load(write_config(tmp_path / "config.toml", raw), station_env(s3_env))
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
    return settings


def _cli(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(settings.source), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _queries(evi: App, command: str) -> list[dict[str, Any]]:
    with evi.catalog.read() as conn:
        rows = conn.execute(select(log_entries.c.data).order_by(log_entries.c.idx)).scalars().all()
    bodies = [decode(bytes(d)) for d in rows]
    return [dict(e.body) for e in bodies if e.type is EntryType.ACCESS and e.body.get("command") == command]


def _counts(evi: App) -> tuple[int, int]:
    with evi.catalog.read() as conn:
        recorded = conn.execute(select(func.count()).select_from(recordings)).scalar_one()
        ingests = sum(
            decode(bytes(d)).type is EntryType.INGEST for d in conn.execute(select(log_entries.c.data)).scalars()
        )
    return recorded, ingests


def test_a_custodian_retries_a_quarantined_file_once_the_cause_is_fixed(
    station: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    s3_env: dict[str, str],
) -> None:
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])
    tokens = {name: add_person(station, name, role) for name, role in (("c1", "custodian"), ("a1", "auditor"))}
    clip = media.clip(tmp_path / "inbox" / NAME, seconds=1, mark="quarantine")
    (tmp_path / "moved").mkdir()
    in_the_way = tmp_path / "moved" / "inbox"  # where the move must make a folder
    in_the_way.write_text("not a folder\n", encoding="utf-8")
    with open_app(station) as evi:
        file = look(clip.parent, clip, ())
        assert file is not None
        outcome = evi.pipeline().ingest(file)
    assert outcome is not None
    assert outcome.receipt.state is State.QUARANTINED
    number = outcome.receipt.id

    use(monkeypatch, "a1", tokens["a1"])
    code, _, err = _cli(station, capsys, "quarantine", "list")
    assert code == 1
    assert "a1 (auditor) may not see or retry quarantined files; custodians and admins may" in err

    use(monkeypatch, "c1", tokens["c1"])
    code, out, err = _cli(station, capsys, "quarantine", "list", "--json")
    assert code == 0, err
    (listed,) = json.loads(out)
    assert listed["receipt"] == number
    assert listed["path"] == str(clip)
    assert listed["recording"] == outcome.recording
    assert "FileExistsError" in listed["error"]
    assert datetime.fromisoformat(listed["quarantined_at"]) <= datetime.now(UTC)

    # Not fixed yet: the retry runs, fails the same way, and says so.
    code, _, err = _cli(station, capsys, "quarantine", "retry", str(number), "--reason", "first try")
    assert code == 1
    assert f"receipt {number} ({clip}) resumes at logged" in err
    assert f"receipt {number}: quarantined, recording {outcome.recording}" in err
    assert "FileExistsError" in err
    assert clip.exists()

    in_the_way.unlink()  # the cause fixed
    code, out, err = _cli(station, capsys, "quarantine", "retry", str(number), "--reason", "目标盘已清理 disk fixed")
    assert code == 0, err
    assert out.strip() == f"receipt {number}: released, recording {outcome.recording}"
    assert not clip.exists()
    moved = tmp_path / "moved" / "inbox" / NAME
    assert hashlib.sha256(moved.read_bytes()).hexdigest() == outcome.recording
    with open_app(station, ensure_bucket=False) as evi:
        assert _counts(evi) == (1, 1), "stored and logged once, through three tries"
        retries = _queries(evi, "quarantine retry")
        assert [(q["actor"], q["reason"], q["query"]["receipt"]) for q in retries] == [
            ("c1", "first try", str(number)),
            ("c1", "目标盘已清理 disk fixed", str(number)),
        ]
        assert "FileExistsError" in retries[0]["query"]["error"]
        assert [q["actor"] for q in _queries(evi, "quarantine list")] == ["c1"]  # the auditor's refusal wrote none

    code, out, _ = _cli(station, capsys, "quarantine", "list", "--json")
    assert (code, json.loads(out)) == (0, [])
    code, _, err = _cli(station, capsys, "quarantine", "retry", str(number), "--reason", "again")
    assert code == 1
    assert err == f"error: receipt {number} is released, not quarantined: nothing to retry\n"
    code, _, err = _cli(station, capsys, "quarantine", "retry", "999", "--reason", "x")
    assert (code, err) == (1, "error: no receipt 999; see `evidock quarantine list`\n")
    code, out, err = _cli(station, capsys, "verify")
    assert code == 0, out + err


def _receipt(**facts: object) -> Receipt:
    base: dict[str, object] = {
        "id": 1,
        "station": "s",
        "folder": Path("/d"),
        "path": Path("/d/a.mp4"),
        "size": 1,
        "mtime_ns": 1,
        "inode": 1,
        "state": State.QUARANTINED,
        "staging_key": "staging/s/x",
        "staging_version": None,
        "sha256": None,
        "version_id": None,
        "recording": None,
        "duplicate": False,
        "received_at": datetime(2026, 11, 20, tzinfo=UTC),
        "error": "boom",
    }
    return Receipt(**{**base, **facts})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "state"),
    [
        ({}, State.RECEIVED),
        ({"sha256": "ab"}, State.RECEIVED),  # a hash without the staged version: the upload was not committed
        ({"sha256": "ab", "staging_version": "v1"}, State.STORED),
        ({"sha256": "ab", "staging_version": "v1", "version_id": "v2"}, State.LOCKED),
        ({"sha256": "ab", "staging_version": "v1", "version_id": "v2", "recording": "ab"}, State.LOGGED),
    ],
)
def test_a_quarantined_receipt_resumes_at_the_last_state_its_facts_prove(
    facts: dict[str, object], state: State
) -> None:
    assert resumes_at(_receipt(**facts)) is state
