# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""Recordings a browser cannot play (HEVC MP4, MJPEG/ADPCM AVI) play in real Chromium through their proxy.

The page says the proxy is used; the video element decodes it and its
``currentTime`` advances; the player's requests are ACCESS entries naming the
proxy and the original; the page before the proxy exists shows its progress.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from evidock.app import App, checkpointer_for
from evidock.web.site import LANG_COOKIE
from storage.derived import proxy_of
from storage.proxy_jobs import JobState, set_job
from tests import media
from tests.conftest import dock
from tests.web.helpers import accesses_after, csrf_of, last_index, logged_in
from tests.web.world import PASSWORD, World, build, opened

pytestmark = [pytest.mark.s3, pytest.mark.slow]

SECONDS = 6


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> World:
    """The page tests' station, plus an HEVC MP4 and an MJPEG AVI with their proxies made (and one without)."""
    built = build(tmp_path_factory.mktemp("web-proxy"), s3_env)
    inbox = built.tmp / "inbox"
    mark = uuid.uuid4().hex
    with opened(built) as evi:
        hevc = dock(evi, media.hevc_clip(inbox / "CAM41_P3101_20261120100000_0001.mp4", seconds=SECONDS, mark=mark))
        avi = dock(evi, media.mjpeg_avi(inbox / "CAM42_P3101_20261120100000_0001.avi", seconds=SECONDS, mark=mark))
        assert evi.proxy_worker().run() == 2
        late = dock(evi, media.hevc_clip(inbox / "CAM43_P3101_20261120100000_0001.mp4", seconds=2, mark=mark))
        evi.proxy_worker().examine()  # its proxy is waiting: the page shows the progress instead
        checkpointer_for(evi).make(evi.now())
    built.recordings += [hevc, avi, late]
    return built


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{site}/login")
    page.fill("input[name=name]", "wang.wu")
    page.fill("input[name=secret]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header .who")).to_contain_text("wang.wu")
    yield page
    context.close()


def _wait(page: Page, script: str, *, tries: int = 150) -> object:
    value: object = None
    for _ in range(tries):  # the page's CSP forbids eval, so wait_for_function cannot poll: poll here
        value = page.evaluate(script)
        if value:
            return value
        page.wait_for_timeout(100)
    return value


@pytest.mark.parametrize("which", [3, 4], ids=["hevc-mp4", "mjpeg-avi"])
def test_the_proxy_plays_in_chromium_and_the_page_says_so(
    page: Page, site: str, world: World, evi: App, which: int
) -> None:
    rid = world.recordings[which]
    with evi.catalog.read() as conn:
        proxy = proxy_of(conn, rid)
    assert proxy is not None
    page.goto(f"{site}/recordings/{rid}")
    expect(page.locator(".derived-state")).to_contain_text("播放时使用由其派生的 H.264/AAC 代理文件")
    expect(page.locator("section.derived")).to_contain_text("播放代理")
    before = last_index(evi)
    page.fill("form[action$='/play'] input[name=reason]", "复核执法过程")
    page.click("form[action$='/play'] button")
    expect(page).to_have_url(f"{site}/recordings/{rid}/player")
    expect(page.locator(".derived-state")).to_contain_text("正在播放浏览器代理文件")
    expect(page.locator(".derived-state")).to_contain_text(f"日志条目 {proxy.entry}")
    assert _wait(page, "document.querySelector('video').readyState >= 1")
    assert page.evaluate("document.querySelector('video').videoWidth") == 320  # decoded, not just fetched
    duration = page.evaluate("document.querySelector('video').duration")
    assert abs(duration - SECONDS) < 0.5
    page.evaluate("(() => { const v = document.querySelector('video'); v.muted = true; v.play(); })()")
    assert _wait(page, "document.querySelector('video').currentTime > 1.0", tries=100), "playback did not advance"
    streams = [e for _, e in accesses_after(evi, before) if e.body["action"] == "stream"]
    assert streams, "the player's requests are ACCESS entries"
    for entry in streams:
        assert entry.recording == rid
        assert (entry.body["derived"], entry.body["derived_kind"], entry.body["derived_entry"]) == (
            proxy.sha256,
            "proxy",
            proxy.entry,
        )


def test_the_pages_show_a_proxy_in_progress(world: World, evi: App) -> None:
    late = world.recordings[5]
    web = logged_in(evi, "wang.wu")
    assert "播放代理文件排队生成中" in web.get(f"/recordings/{late}").text
    with evi.catalog.begin() as conn:
        set_job(conn, late, now=evi.now(), state=JobState.RUNNING, progress_ms=1000)
    shown = web.get(f"/recordings/{late}").text
    assert "播放代理文件生成中：50%" in shown
    web.cookies.set(LANG_COOKIE, "en")
    assert "its playback proxy is being made: 50%" in web.get(f"/recordings/{late}").text


def test_a_redaction_is_drafted_previewed_approved_and_rendered_in_the_pages(world: World, evi: App) -> None:
    rec = world.recordings[0]  # H.264, 320x240, 40 s
    wang, zhao = logged_in(evi, "wang.wu"), logged_in(evi, "zhao.liu")
    page = wang.get(f"/recordings/{rec}").text
    assert "起草脱敏" in page
    before = last_index(evi)
    drafted = wang.post(
        f"/recordings/{rec}/redactions",
        data={"csrf": csrf_of(page), "mute": "2-4", "bleep": "", "blur": "40,30,120,90@1-5\n0,0,32,32@6-7",
              "for_request": "", "reason": "遮挡路人"},
    )  # fmt: skip
    assert drafted.status_code == 303, drafted.text[:2000]
    where = drafted.headers["location"]
    number = int(where.split("/")[2].split("?")[0])
    shown = wang.get(where).text
    assert "草稿已保存" in shown
    assert "2.0–4.0 秒静音" in shown
    assert f'src="/redactions/{number}/preview.png?at=' in shown
    frame = wang.get(f"/redactions/{number}/preview.png?at=2.5")
    assert frame.status_code == 200, frame.text[:2000]
    assert frame.headers["content-type"] == "image/png"
    assert frame.content[:4] == b"\x89PNG"
    views = [e for _, e in accesses_after(evi, before) if e.body["action"] == "view"]
    assert [v.recording for v in views] == [rec], "the preview read the original through the gate"
    assert wang.post(f"/redactions/{number}/submit", data={"csrf": csrf_of(shown)}).status_code == 303
    mine = wang.get(f"/redactions/{number}").text
    assert "须由起草、提交人以外的档案管理员审批" in mine
    theirs = zhao.get(f"/redactions/{number}").text
    approved = zhao.post(f"/redactions/{number}/approve", data={"csrf": csrf_of(theirs), "reason": "已核对"})
    assert approved.status_code == 303
    rendered = wang.post(f"/redactions/{number}/render", data={"csrf": csrf_of(wang.get(f"/redactions/{number}").text)})
    assert rendered.status_code == 303, rendered.text[:2000]
    done = wang.get(rendered.headers["location"]).text
    assert "脱敏副本已生成" in done
    assert "已生成" in wang.get(f"/recordings/{rec}").text
