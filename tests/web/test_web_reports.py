# ruff: noqa: RUF001 - the Chinese report text uses full-width punctuation
"""The printable reports from the pages: the audit trail's and the compliance report's PDF links.

The pages are served from a real station (real S3, real ffmpeg clips). Each PDF is
made by Chromium; pdftotext reads the title, a recording id and the footer's
checkpoint (the one stored in the object store, covering the download's own
log entry), pdftoppm renders page 1 (not blank). Each download is registered
before it is made, as the pages are; a log that cannot be written gives no PDF.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evidock.app import App, checkpoint_reader
from evidock.keys import load_vkey
from retention.export.verify_disc import fingerprint
from storage import journal
from tests.conftest import allow_log_writes, refuse_log_writes
from tests.pdf_pages import ink, needs_poppler, page_one_png, pdf_text
from tests.web.helpers import accesses_after, client, last_index, logged_in
from tests.web.world import DEVICE, World

pytestmark = [pytest.mark.s3, needs_poppler]


def _saved(data: bytes, path: Path) -> Path:
    assert data.startswith(b"%PDF-")
    path.write_bytes(data)
    return path


def _footer_checkpoint(evi: App) -> tuple[int, str]:
    """The newest stored checkpoint, which must cover the whole log (the download's own entry included)."""
    stored = checkpoint_reader(evi).latest_stored()
    assert stored is not None
    with evi.catalog.read() as conn:
        assert stored.checkpoint.size == journal.size(conn)
    return stored.checkpoint.size, stored.checkpoint.root.hex()


def test_the_audit_page_links_a_pdf_of_the_same_query(world: World, evi: App, tmp_path: Path) -> None:
    web = logged_in(evi, "li.si")
    rec = world.recordings[0]
    assert web.get(f"/recordings/{rec}?reason=案件复核").status_code == 200  # an access to find in the trail
    page = web.get(f"/audit?recording={rec[:12]}")
    assert page.status_code == 200
    assert f'href="/audit.pdf?recording={rec[:12]}"' in page.text
    assert "下载 PDF" in page.text

    before = last_index(evi)
    answer = web.get(f"/audit.pdf?recording={rec[:12]}")
    assert answer.status_code == 200, answer.text[:1500]
    assert answer.headers["content-type"] == "application/pdf"
    made = accesses_after(evi, before)
    assert [(e.body["actor"], e.body["action"]) for _, e in made] == [("li.si", "audit")]
    own = made[0][0]
    assert answer.headers["content-disposition"] == f'attachment; filename="evidock-audit-before-{own}.pdf"'
    assert answer.headers["x-content-type-options"] == "nosniff"
    pdf = _saved(answer.content, tmp_path / "audit.pdf")
    size, root = _footer_checkpoint(evi)
    assert size > own
    text = pdf_text(pdf)
    flat = "".join(text.split())
    assert "执法音像记录调阅登记表" in text
    assert rec in flat
    assert "案件复核" in flat
    assert f"本次查询的日志条目：{own}" in flat
    assert "生成人：li.si" in flat
    assert f"根{root}" in flat
    assert "公钥指纹" + fingerprint(load_vkey(world.settings)).replace(" ", "") in flat
    assert ink(page_one_png(pdf)) > 0.01

    web.cookies.set("evidock_lang", "en")
    english = web.get(f"/audit.pdf?recording={rec[:12]}")
    assert "Access audit trail" in pdf_text(_saved(english.content, tmp_path / "audit-en.pdf"))


def test_the_compliance_page_and_its_pdf_are_each_a_logged_query(world: World, evi: App, tmp_path: Path) -> None:
    web = logged_in(evi, "li.si")
    assert 'href="/compliance"' in web.get("/").text, "auditors reach it from the menu"
    before = last_index(evi)
    page = web.get("/compliance?month=2026-11")
    assert page.status_code == 200, page.text[:1500]
    made = accesses_after(evi, before)
    assert [(e.body["action"], e.body["command"], e.body["query"]) for _, e in made] == [
        ("query", "web compliance", {"month": "2026-11"})
    ]
    assert "音像记录存储与标注合规报告" in page.text
    assert f"<td>{DEVICE}</td>" in page.text
    assert f"日志条目 {made[0][0]}" in page.text
    assert 'href="/compliance.pdf?month=2026-11"' in page.text

    before = last_index(evi)
    answer = web.get("/compliance.pdf?month=2026-11")
    assert answer.status_code == 200, answer.text[:1500]
    made = accesses_after(evi, before)
    assert [(e.body["actor"], e.body["command"]) for _, e in made] == [("li.si", "web compliance.pdf")]
    assert (
        answer.headers["content-disposition"] == f'attachment; filename="evidock-compliance-2026-11-{made[0][0]}.pdf"'
    )
    pdf = _saved(answer.content, tmp_path / "compliance.pdf")
    _, root = _footer_checkpoint(evi)
    text = pdf_text(pdf)
    assert "音像记录存储与标注合规报告" in text
    assert DEVICE in text
    assert root in "".join(text.split())
    assert ink(page_one_png(pdf)) > 0.01


def test_no_pdf_without_the_role_a_login_or_a_written_log_entry(evi: App) -> None:
    anonymous = client(evi)
    for path in ("/audit.pdf", "/compliance.pdf", "/compliance"):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
    officer = logged_in(evi, "zhang.san")  # an officer may neither audit nor read reports
    assert 'href="/compliance"' not in officer.get("/").text
    before = last_index(evi)
    for path in ("/audit.pdf", "/compliance.pdf", "/compliance"):
        answer = officer.get(path)
        assert answer.status_code == 403, path
        assert not answer.content.startswith(b"%PDF")
    assert last_index(evi) == before, "a refused read writes no entry"

    auditor = logged_in(evi, "li.si")
    with evi.catalog.begin() as conn:  # the database refuses every log write: a real failure, no mock
        refuse_log_writes(conn)
    try:
        frozen = last_index(evi)
        for path in ("/audit.pdf", "/compliance.pdf"):
            answer = auditor.get(path)
            assert answer.status_code == 503, (path, answer.text[:1000])
            assert not answer.content.startswith(b"%PDF")
        assert last_index(evi) == frozen
    finally:
        with evi.catalog.begin() as conn:
            allow_log_writes(conn)
