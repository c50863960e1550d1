# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""The pages in real headless Chromium (Debian's), as two custodians and an auditor use them.

Log in, find a recording, label it, explain a gap, play it after giving a
reason, ask for a copy and an export, approve them as a second custodian, read
the audit trail (and its CSV), see the timeline, run verify, and switch to
English. Screenshots of every page go to $EVIDOCK_SCREENSHOTS (the repository's
docs/screenshots/ via scripts/screenshots.sh), else to a temporary folder.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.world import CLIP_SECONDS, DAY, DEVICE, PASSWORD, World

pytestmark = [pytest.mark.s3, pytest.mark.slow]

Shot = Callable[[Page, str], None]


@pytest.fixture
def shot(tmp_path: Path) -> Shot:
    folder = Path(os.environ.get("EVIDOCK_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


def login(browser: Browser, site: str, name: str) -> Page:
    page = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN").new_page()
    page.goto(f"{site}/")
    expect(page).to_have_url(f"{site}/login?next=%2F")
    page.fill("input[name=name]", name)
    page.fill("input[name=secret]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("header .who")).to_contain_text(name)
    return page


def test_custodians_and_an_auditor_at_work(browser: Browser, site: str, world: World, shot: Shot) -> None:
    gap_after = world.recordings[1]  # the recording after the gap

    # The login page, in Chinese by default.
    first = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    first.goto(f"{site}/login")
    expect(first.locator("h1")).to_have_text("登录")
    shot(first, "zh-login")
    first.context.close()

    wang = login(browser, site, "wang.wu")
    expect(wang.locator("h1")).to_have_text("采集站概览")
    shot(wang, "zh-dashboard")

    # Find the recording: device filter, then open the one after the gap.
    wang.click("nav >> text=录像检索")
    wang.fill("input[name=device]", DEVICE)
    wang.fill("input[name=reason]", "核查 11 月 20 日执法记录")
    wang.click("form.filters button[type=submit]")
    expect(wang.locator("table.list tbody tr")).to_have_count(3)
    expect(wang.locator("table.list")).to_contain_text(f"{DAY} 09:00:50")  # local time, Asia/Shanghai
    shot(wang, "zh-recordings")
    wang.click(f"a[href^='/recordings/{gap_after}?reason=']")  # the search's reason goes with it
    expect(wang.locator("h1")).to_contain_text(gap_after[:12])

    # Label it (art. 26).
    wang.fill("input[name=case_number]", "京朝公(治)行罚决字[2026]12号")
    wang.fill("input[name=parties]", "张三，李四")
    wang.fill("input[name=handler]", "王五")
    wang.click("text=保存标注")
    expect(wang.locator(".flash.ok")).to_have_text("标注已保存。")
    expect(wang.locator("main")).to_contain_text("张三、李四")

    # Explain the gap (art. 7).
    gap_row = wang.locator("tr", has=wang.locator(".badge.kind-gap")).first  # the gap before it (10 s)
    expect(gap_row).to_contain_text("待说明")
    gap_row.locator("input[name=text]").fill("更换电池，中断约 10 秒")
    gap_row.locator("button").click()
    expect(wang.locator(".flash.ok")).to_have_text("情况说明已提交。")
    expect(gap_row).to_contain_text("更换电池")
    shot(wang, "zh-recording")

    # Play it: a reason first, then the stream through the gate.
    wang.fill("form[action$='/play'] input[name=reason]", "复核中断说明")
    wang.click("form[action$='/play'] button")
    expect(wang).to_have_url(f"{site}/recordings/{gap_after}/player")
    for _ in range(150):  # the page's CSP forbids eval, so wait_for_function cannot poll: poll here
        if wang.evaluate("document.querySelector('video').readyState") >= 1:
            break
        wang.wait_for_timeout(100)
    assert wang.evaluate("document.querySelector('video').duration") > CLIP_SECONDS - 1
    assert wang.evaluate("document.querySelector('video').videoWidth") == 320  # decoded, not just fetched
    wang.wait_for_timeout(300)  # the first frame, for the screenshot
    shot(wang, "zh-player")

    # Ask for a copy and an export of it.
    wang.goto(f"{site}/recordings/{gap_after}")
    wang.click("text=申请复制 / 下载 / 刻录")
    expect(wang.locator("input[name=recordings]")).to_have_value(gap_after)
    wang.select_option("select[name=action]", "copy")
    wang.fill("form.grid input[name=reason]", "法院调取证据")
    wang.select_option("select[name=category]", "court")
    wang.fill("input[name=document]", "(2026)京0105刑初12号")
    wang.click("text=提交申请")
    expect(wang.locator(".flash.ok")).to_contain_text("申请已提交")
    wang.fill("input[name=recordings]", gap_after[:12])
    wang.select_option("select[name=action]", "export")
    wang.fill("form.grid input[name=reason]", "随案归档刻录光盘")
    wang.click("text=提交申请")
    expect(wang.locator("table.requests tbody tr")).to_have_count(2)
    expect(wang.locator("table.requests")).to_contain_text("须由其他档案管理员审批")  # never their own
    shot(wang, "zh-access")

    # A second custodian approves both.
    zhao = login(browser, site, "zhao.liu")
    zhao.goto(f"{site}/access")
    for _ in range(2):
        form = zhao.locator("form[action$='/decide']").first
        form.locator("input[name=reason]").fill("公函已核实，负责人批准")
        form.locator("button[value=approve]").click()
        expect(zhao.locator(".flash.ok")).to_have_text("已批准。")
    expect(zhao.locator(".badge.req-approved")).to_have_count(2)
    shot(zhao, "zh-access-approved")
    zhao.click("nav >> text=光盘刻录")
    expect(zhao.locator("main table tbody tr")).to_have_count(1)
    expect(zhao.locator("main")).to_contain_text("您没有可用的已批准刻录申请")  # the request is wang.wu's

    # The requester makes the disc from the page: the function `evidock export disc` runs, in a thread.
    wang.click("nav >> text=光盘刻录")
    wang.fill("input[name=case_number]", "京朝公(治)行罚决字[2026]12号")
    wang.fill("input[name=extractor]", "赵六")
    wang.select_option("select[name=media]", "cd")
    shot(wang, "zh-export")
    wang.click("form[action='/export'] button[type=submit]")
    expect(wang.locator("h1")).to_have_text("刻录进度")
    expect(wang.locator("main h2").first).to_have_text("已生成 1 个光盘映像", timeout=120000)
    expect(wang.locator("main")).to_contain_text("xorriso -as cdrecord")
    export_status = wang.url
    shot(wang, "zh-export-done")

    # The auditor reads the trail of this recording, and its CSV.
    li = login(browser, site, "li.si")
    li.click("nav >> text=审计")
    li.fill("input[name=recording]", gap_after[:12])
    li.click("form.filters button[type=submit]")
    trail = li.locator("table.list")
    expect(trail).to_contain_text("wang.wu")
    expect(trail).to_contain_text("播放")  # the stream
    expect(trail).to_contain_text("复核中断说明")  # with its reason
    expect(trail).to_contain_text("查看信息")  # the recording page's metadata read
    expect(trail).to_contain_text("检索")  # the search that listed it
    shot(li, "zh-audit")
    with li.expect_download() as download_info:
        li.click("text=下载 CSV")
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text("utf-8-sig"))))
    assert {"stream", "metadata", "list"} <= {r["action"] for r in rows}
    assert any(r["reason"] == "复核中断说明" for r in rows)
    li.click("text=异常访问")
    expect(li.locator("h1")).to_have_text("访问审计（第二十七条）")
    shot(li, "zh-anomalies")

    # The device's day: segments, the gap in red.
    li.goto(f"{site}/timeline?device={DEVICE}&day={DAY}")
    expect(li.locator(".drawing svg")).to_be_visible()
    expect(li.locator(".drawing svg rect[fill='#d62728'][opacity]")).to_have_count(
        2
    )  # 10 s before, 30 s after (not the legend)
    expect(li.locator("main")).to_contain_text("已说明")  # the gap, explained above
    shot(li, "zh-timeline")

    li.click("nav >> text=完整性校验")
    li.click("text=立即校验")
    expect(li.locator(".badge.big")).to_have_text("全部通过", timeout=60000)
    shot(li, "zh-verify")

    # English, switched from any page; the choice sticks.
    li.click("text=English")
    expect(li.locator("h1")).to_have_text("Integrity check")
    shot(li, "en-verify")
    for path, name in (
        ("/", "en-dashboard"),
        (f"/audit?recording={gap_after[:12]}", "en-audit"),
        (f"/timeline?device={DEVICE}&day={DAY}", "en-timeline"),
    ):
        li.goto(site + path)
        expect(li.locator("html")).to_have_attribute("lang", "en")
        shot(li, name)
    wang.click("text=English")
    for path, name in (
        (f"/recordings?device={DEVICE}", "en-recordings"),
        (f"/recordings/{gap_after}", "en-recording"),
        ("/access", "en-access"),
        ("/export", "en-export"),
        (export_status.removeprefix(site), "en-export-done"),
    ):
        wang.goto(site + path)
        expect(wang.locator("html")).to_have_attribute("lang", "en")
        shot(wang, name)
    wang.click("header button.link")  # log out
    expect(wang).to_have_url(f"{site}/login")
    shot(wang, "en-login")
    for page in (wang, zhao, li):
        page.context.close()
