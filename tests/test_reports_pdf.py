"""Printable reports: `audit access --pdf` and `compliance --pdf` from a real small catalog.

Each PDF is made by Chromium, rendered back to PNG with poppler's pdftoppm (the
page must not be blank) and read with pdftotext: the Chinese title, a recording
id and the checkpoint root in the footer must be there, and the checkpoint must
be the one stored in the object store, covering the command's own query entry.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from access.gate import Gate
from access.people import Person, Role
from evidock import settings as settings_mod
from evidock.app import checkpoint_reader, open_app, retention_context
from evidock.cli import main
from evidock.keys import init_key, load_vkey
from evidock.settings import Settings
from retention import labelling
from retention.export.verify_disc import fingerprint
from storage import journal
from tests import media
from tests.conftest import add_person, dock, raw_config, station_env, write_config
from tests.pdf_pages import ink, needs_poppler, page_one_png, pdf_text

CASE = "京朝公(治)行罚决字[2026]41号"
pytestmark = [
    pytest.mark.s3,
    needs_poppler,
]


@dataclass
class Station:
    settings: Settings
    cfg: list[str]
    recordings: list[str]
    auditor_token: str


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> Station:
    tmp = tmp_path_factory.mktemp("reports")
    (tmp / "inbox").mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    settings = settings_mod.load(config, station_env(s3_env))
    token = add_person(settings, "a1", Role.AUDITOR)
    add_person(settings, "c1", Role.CUSTODIAN)
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        ids = [
            dock(evi, media.clip(tmp / "inbox" / f"CAM51_P5101_2026111608{n:02d}00_{n + 1:04d}.mp4", seconds=1))
            for n in range(2)
        ]
        ctx = retention_context(evi)
        labelling.label(ctx, ids, case_number=CASE, parties=["张三"], handler="c1", by="c1", now=evi.now())
        gate = Gate(catalog=evi.catalog, journal=evi.journal, store=evi.store, clock=evi.now)
        gate.read_metadata(Person("c1", Role.CUSTODIAN), ids[0], reason="案件复核")
    return Station(settings, ["--config", str(config)], ids, token)


@pytest.fixture
def auditor(station: Station, monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str]) -> list[str]:
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])
    monkeypatch.setenv("EVIDOCK_USER", "a1")
    monkeypatch.setenv("EVIDOCK_TOKEN", station.auditor_token)
    return station.cfg


def _stored_root(station: Station) -> tuple[int, str, int]:
    with open_app(station.settings, ensure_bucket=False) as evi:
        stored = checkpoint_reader(evi).latest_stored()
        with evi.catalog.read() as conn:
            size = journal.size(conn)
    assert stored is not None
    return stored.checkpoint.size, stored.checkpoint.root.hex(), size


def test_audit_trail_pdf_names_recording_title_and_checkpoint(
    station: Station, auditor: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "调阅记录.pdf"
    assert main([*auditor, "audit", "access", "--case", CASE, "--pdf", str(target)]) == 0
    assert target.read_bytes().startswith(b"%PDF-")
    size, root, log_size = _stored_root(station)
    assert size == log_size  # the footer's checkpoint covers the query's own ACCESS entry
    text = pdf_text(target)
    flat = "".join(text.split())
    assert "执法音像记录调阅登记表" in text
    assert station.recordings[0] in flat
    assert f"根{root}" in flat  # the footer's line: 检查点 … · 根 <root>
    assert "公钥指纹" + fingerprint(load_vkey(station.settings)).replace(" ", "") in flat
    assert "案件复核" in flat
    assert ink(page_one_png(target)) > 0.01


def test_compliance_pdf_in_english_and_chinese(station: Station, auditor: list[str], tmp_path: Path) -> None:
    zh, en = tmp_path / "合规.pdf", tmp_path / "compliance.pdf"
    assert main([*auditor, "compliance", "--month", "2026-11", "--pdf", str(zh)]) == 0
    text = pdf_text(zh)
    assert "音像记录存储与标注合规报告" in text
    assert CASE in text
    assert "CAM51" in text
    _, root, _ = _stored_root(station)
    assert root in text.replace(" ", "")
    assert ink(page_one_png(zh)) > 0.01
    assert main([*auditor, "compliance", "--month", "2026-11", "--pdf", str(en), "--lang", "en"]) == 0
    assert "Art. 26 compliance report" in pdf_text(en)


def test_pdf_refused_for_a_missing_folder_and_an_unknown_language(
    auditor: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*auditor, "compliance", "--pdf", str(tmp_path / "no" / "r.pdf")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main([*auditor, "compliance", "--pdf", str(tmp_path / "r.pdf"), "--lang", "fr"]) == 1
    assert "--lang 'fr'" in capsys.readouterr().err
    assert not (tmp_path / "r.pdf").exists()
