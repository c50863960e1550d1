"""The 光盘刻录 page runs `evidock export disc`'s function: a form, a background thread, a status page, the result.

Against the real S3 server, with the export test's station (tests/test_export_disc.py): a request by
c1 approved by c2, the export from the page, then the image extracted by xorriso and its VERIFY.py run.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from chain.entries import EntryType, decode
from evidock.api.factory import create_app
from evidock.app import App, open_app
from storage.schema import log_entries
from tests.pdf_pages import ink, page_one_png, pdf_text
from tests.test_export_disc import CASE, World, _extract, _log_size, _request, _verify
from tests.test_export_disc import world as world  # noqa: PLC0414 - the export test's station, as a fixture here

pytestmark = [pytest.mark.s3, pytest.mark.slow]

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
JOB = re.compile(r"/export/jobs/([A-Za-z0-9_-]+)$")


@pytest.fixture(scope="module")
def evi(world: World) -> Iterator[App]:
    with open_app(world.settings, ensure_bucket=False) as app:
        yield app


def _logged_in(evi: App, world: World, name: str) -> TestClient:
    pages = TestClient(create_app(evi), follow_redirects=False)
    token = CSRF.search(pages.get("/login").text)
    assert token is not None
    answer = pages.post("/login", data={"name": name, "secret": world.tokens[name], "csrf": token.group(1)})
    assert answer.status_code == 303, answer.text[:500]
    return pages


def _csrf(pages: TestClient) -> str:
    found = CSRF.search(pages.get("/export").text)
    assert found is not None
    return found.group(1)


def _start(pages: TestClient, request: int, csrf: str) -> str:
    form = {"number": str(request), "case_number": CASE, "maker": "王五", "extractor": "赵六", "media": "cd"}
    answer = pages.post("/export", data={**form, "csrf": csrf})
    assert answer.status_code == 303, answer.text[:1000]
    found = JOB.search(answer.headers["location"])
    assert found is not None, answer.headers["location"]
    return found.group(0)


def _finished(pages: TestClient, url: str) -> str:
    """The status page once the export's thread is done (it refreshes itself until then)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        page = pages.get(url)
        assert page.status_code == 200, page.text[:1000]
        if 'http-equiv="refresh"' not in page.text:
            return html.unescape(page.text)
        time.sleep(0.5)
    pytest.fail("the export did not finish within 300 s")


def _images(world: World) -> set[Path]:
    return set(world.settings.export.out_dir.glob("*.iso")) if world.settings.export.out_dir.exists() else set()


def test_the_page_exports_a_disc_that_verifies_offline(world: World, evi: App, tmp_path: Path) -> None:
    request = _request(world, world.recordings)  # by c1, approved by c2
    pages = _logged_in(evi, world, "c1")
    form = pages.get("/export").text
    assert f'<option value="{request}">' in form
    before, images_before = _log_size(world), _images(world)

    job = _start(pages, request, _csrf(pages))
    page = _finished(pages, job)

    assert "已生成 1 个光盘映像" in page, page
    (image,) = _images(world) - images_before
    assert image.parent == world.settings.export.out_dir
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    assert str(image) in page
    assert digest in page
    assert f"xorriso -as cdrecord -v dev=/dev/sr0 blank=as_needed {image}" in page  # how to burn it
    assert f"在 Windows 上：右键单击 {image.name}，选择“刻录光盘映像”。" in page  # noqa: RUF001 - Chinese punctuation
    assert "VERIFY.py" in page
    # The log: one ACCESS (export) and one EXPORT entry per recording, then EXPORT_SEALED naming the image.
    with evi.catalog.read() as conn:
        rows = conn.execute(select(log_entries.c.idx, log_entries.c.data).where(log_entries.c.idx >= before)).all()
    entries = {int(i): decode(bytes(d)) for i, d in rows}
    exports = [i for i, e in entries.items() if e.type is EntryType.EXPORT]
    (sealed,) = [e for e in entries.values() if e.type is EntryType.EXPORT_SEALED]
    assert len(exports) == len(world.recordings)
    assert {entries[i].body["maker"] for i in exports} == {"王五"}
    assert sealed.body["image_sha256"] == digest
    for index in exports:
        assert f"<td>{index}</td>" in page
    # The image is a disc that verifies offline, as the command's does.
    disc = _extract(image, tmp_path / "disc")
    done = _verify(disc, tmp_path / "empty")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERDICT: PASSED" in done.stdout
    # Its label sheet, as one A4 PDF read back from the image; a query on the record first.
    assert f'href="{job}/labels.pdf"' in page
    before_labels = _log_size(world)
    labels = pages.get(f"{job}/labels.pdf")
    assert labels.status_code == 200, labels.text[:1000]
    assert labels.headers["content-type"] == "application/pdf"
    assert _log_size(world) == before_labels + 1
    pdf = tmp_path / "labels.pdf"
    pdf.write_bytes(labels.content)
    text = "".join(pdf_text(pdf).split())
    assert "执法记录仪视音频证据光盘标签" in text
    assert f"案号Casenumber{CASE}" in text
    assert "光盘编号Disc1/1" in text
    assert ink(page_one_png(pdf)) > 0.01
    assert _logged_in(evi, world, "c2").get(f"{job}/labels.pdf").status_code == 404, "c1's export only"


def test_a_forged_post_is_refused_and_writes_nothing(world: World, evi: App) -> None:
    request = _request(world, world.recordings)
    pages = _logged_in(evi, world, "c1")
    before, images = _log_size(world), _images(world)
    form = {"number": str(request), "case_number": CASE, "maker": "王五", "extractor": "赵六", "media": "cd"}
    for forged in ({**form}, {**form, "csrf": "not-the-session-token"}):
        answer = pages.post("/export", data=forged)
        assert answer.status_code == 403
        assert "表单已失效" in answer.text
    # A session from elsewhere (a forged cross-site post carries no session cookie) goes to the login page.
    stranger = TestClient(create_app(evi), follow_redirects=False)
    assert stranger.post("/export", data={**form, "csrf": "x"}).status_code == 303
    time.sleep(1)  # a thread, had one started, would have written by now
    assert _log_size(world) == before
    assert _images(world) == images


def test_an_unapproved_request_is_refused_on_the_status_page_and_writes_nothing(world: World, evi: App) -> None:
    request = _request(world, world.recordings, approve=False)
    pages = _logged_in(evi, world, "c1")
    before, images = _log_size(world), _images(world)
    url = _start(pages, request, _csrf(pages))
    page = _finished(pages, url)
    assert "导出失败" in page
    assert "未写入任何内容" in page
    assert f"request {request}" in page  # the gate's own reason
    assert _log_size(world) == before
    assert _images(world) == images
    # The status page is the person's own: another custodian gets a 404 page.
    other = _logged_in(evi, world, "c2")
    refused = other.get(url)
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("text/html")


def _followed(api: TestClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        answer = api.get(url, headers=headers)
        assert answer.status_code == 200, answer.text
        job: dict[str, Any] = answer.json()
        if job["finished"]:
            return job
        time.sleep(0.5)
    pytest.fail("the export did not finish within 300 s")


def test_the_api_starts_the_same_export_and_reports_it(world: World, evi: App, tmp_path: Path) -> None:
    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {world.tokens[name]}", "X-Evidock-User": name}

    api = TestClient(create_app(evi))
    body = {"case_number": CASE, "maker": "王五", "extractor": "赵六", "media": "cd"}
    # Refused (the request is not approved): the job says why, and nothing was written.
    pending = _request(world, world.recordings, approve=False)  # its REQUEST entries come before the export
    before, images = _log_size(world), _images(world)
    started = api.post("/api/v1/exports", headers=auth("c1"), json={**body, "request": pending})
    assert started.status_code == 202, started.text
    refused = _followed(api, started.json()["status_url"], auth("c1"))
    assert f"request {pending}" in refused["error"]
    assert refused["log_entries_before_failure"] == 0
    assert refused["result"] is None
    assert (_log_size(world), _images(world)) == (before, images)
    assert (
        api.post("/api/v1/exports", headers=auth("c1"), json={**body, "request": 1, "media": "tape"}).status_code == 400
    )

    request = _request(world, world.recordings)
    started = api.post("/api/v1/exports", headers=auth("c1"), json={**body, "request": request})
    assert started.status_code == 202, started.text
    url = started.json()["status_url"]
    assert started.headers["location"] == url
    job = _followed(api, url, auth("c1"))
    assert job["error"] is None, job
    (disc,) = job["result"]["discs"]
    image = Path(disc["image"])
    assert hashlib.sha256(image.read_bytes()).hexdigest() == disc["sha256"]
    assert set(job["result"]["export_entries"]) == set(world.recordings)
    assert "xorriso -as cdrecord" in job["result"]["how_to_burn"][0]
    done = _verify(_extract(image, tmp_path / "disc"), tmp_path / "empty")
    assert done.returncode == 0, done.stdout + done.stderr
    assert api.get(url, headers=auth("c2")).status_code == 404  # another person's export is not shown
