# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""Every page and form through FastAPI's TestClient, on the real S3 server: the gate logs each read first,
a log that cannot be written fails the page, CSRF, cookies, the login limiter, both languages, and the CLI
and the pages giving the same answers.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import update

from access.audit import AnomalyKind
from access.people import Person, Role, add_user, disable_user, hash_password
from cases.labels import label_history, latest_labels, recordings_of_case
from chain.entries import EntryType
from evidock import timelines
from evidock.app import App, retention_context
from evidock.cli import main
from evidock.settings import WebSettings
from evidock.web.i18n import CATALOGUE
from evidock.web.recordings import FINDING_FILTERS, SHOWN_BODY_KEYS, STATUSES
from ingest.findings import FindingKind
from ingest.timeline import svg
from retention import evidence as evidence_mod
from retention import labelling
from retention.deadlines import StatusKind
from storage import findings as findings_db
from storage.access_terms import Action, Category, RequestStatus
from storage.objects import ObjectStore
from storage.receipts import State
from storage.recording_facts import open_findings_by_recording
from storage.schema import access_results, recordings
from tests.conftest import allow_log_writes, refuse_log_writes
from tests.web.helpers import accesses_after, client, csrf_of, entries_after, last_index, log_in, logged_in
from tests.web.world import DAY, DEVICE, PASSWORD, World

pytestmark = pytest.mark.s3

UNTRANSLATED = re.compile(r"⟦[^⟧]*⟧")


def pages(world: World) -> list[str]:
    rec = world.recordings[1]
    return [
        "/",
        f"/recordings?device={DEVICE}",
        "/recordings?status=unlabelled&findings=open",
        f"/recordings/{rec}",
        f"/timeline?device={DEVICE}&day={DAY}",
        "/timeline",
        "/access",
        "/export",
        "/audit",
        f"/audit?recording={rec[:12]}&since={DAY}",
        "/audit/anomalies",
        "/verify",
        "/login",
    ]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str]) -> None:
    """The CLI acts as the auditor li.si by password."""
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])
    monkeypatch.setenv("EVIDOCK_USER", "li.si")
    monkeypatch.setenv("EVIDOCK_PASSWORD", PASSWORD)
    monkeypatch.delenv("EVIDOCK_TOKEN", raising=False)


def run_cli(world: World, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    code = main(["--config", str(world.settings.source), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


# -- languages and times ---------------------------------------------------------------------------


def test_every_page_works_in_chinese_and_english_with_shanghai_times(world: World, evi: App) -> None:
    for name in ("li.si", "wang.wu"):  # an auditor (audit, verify) and a custodian (forms)
        web = logged_in(evi, name)
        for lang, marker in (("zh", 'lang="zh-CN"'), ("en", 'lang="en"')):
            assert web.get(f"/lang/{lang}?next=/").status_code == 303
            for path in pages(world):
                if path.startswith("/audit") and name != "li.si":
                    continue
                answer = web.get(path)
                assert answer.status_code == 200, (name, path, answer.text[:1500])
                assert marker in answer.text, (lang, path)
                assert UNTRANSLATED.findall(answer.text) == [], (lang, path)
                assert "Asia/Shanghai" in answer.text  # the footer says which zone times are in
            # The player (after a reason) and an error page are pages too.
            if name == "wang.wu":
                rec = world.recordings[1]
                token = csrf_of(web.get(f"/recordings/{rec}").text)
                web.post(f"/recordings/{rec}/play", data={"reason": "language check", "csrf": token})
                player = web.get(f"/recordings/{rec}/player")
                assert player.status_code == 200
                assert "<video" in player.text
                assert UNTRANSLATED.findall(player.text) == []
            error = web.get("/recordings/not-an-id")
            assert error.status_code == 400
            assert marker in error.text
            assert UNTRANSLATED.findall(error.text) == []
            assert ("操作未完成" in error.text) == (lang == "zh")
            listing = web.get(f"/recordings?device={DEVICE}").text
            # 2026-11-20 09:00:00 in Beijing is 01:00:00 UTC, which is stored; the page shows local time.
            assert f"{DAY} 09:00:00" in listing
            assert f"{DAY} 01:00:00" not in listing
            assert ("录像检索" in listing) == (lang == "zh")
            assert ("Find recordings" in listing) == (lang == "en")


def test_the_catalogue_has_every_key_in_both_languages() -> None:
    templates = Path(__file__).resolve().parents[2] / "evidock" / "web" / "templates"
    used = set()
    for template in templates.glob("*.html"):
        used |= set(re.findall(r"""(?<![\w.])t\(["']([a-z_0-9.A-Z]+)["']""", template.read_text("utf-8")))
    for source in (templates.parent).glob("*.py"):
        used |= set(re.findall(r'"(error\.[a-z_]+)"', source.read_text("utf-8"))) - {"error.html"}
    used = {k for k in used if not k.endswith((".", "_"))}  # prefixes completed below
    dynamic = (
        [f"role.{r.value}" for r in Role]
        + [f"acc.{a.value}" for a in Action]
        + [f"cat.{c.value}" for c in Category]
        + [f"req.{s.value}" for s in RequestStatus]
        + ["req.expired"]
        + [f"state.{s.value}" for s in State]
        + [f"finding.{k.value}" for k in FindingKind]
        + [f"entry.{t.value}" for t in EntryType]
        + [f"anomaly.{k.value}" for k in AnomalyKind]
        + [f"deadline.{k.value}" for k in StatusKind]
        + [f"status.{s}" for s in STATUSES]
        + [f"rec.findings_{s}" for s in FINDING_FILTERS]
        + [f"field.{k}" for k in SHOWN_BODY_KEYS]
        + [f"fstatus.{s}" for s in ("open", "explained", "withdrawn")]
        + [f"kind.{k}" for k in ("video", "audio", "photo", "document", "other")]
        + [f"aud.f_{f}" for f in ("recording", "user", "case", "since", "until")]
        + [f"done.{d}" for d in ("label", "explain", "request", "approve", "deny")]
        + [f"case.{w}" for w in ("case_file", "archive")]
    )
    errors = [k for k in used if k.startswith("error.")]
    missing = sorted(
        k for k in {*used, *dynamic, *(f"{e}.help" for e in errors if e != "error.detail")} if k not in CATALOGUE
    )
    assert missing == []
    for key, (zh, en) in CATALOGUE.items():
        assert zh.strip(), key
        assert en.strip(), key
        assert sorted(re.findall(r"{(\w+)}", zh)) == sorted(re.findall(r"{(\w+)}", en)), key


# -- the gate: one ACCESS entry per read, before the page; fail closed --------------------------------------


def test_each_read_is_an_access_entry_written_before_the_page(world: World, evi: App) -> None:
    web = logged_in(evi, "li.si")
    rec = world.recordings[0]
    expected = [
        ("/", "list"),
        (f"/recordings?device={DEVICE}&reason=spot%20check", "list"),
        (f"/recordings/{rec}?reason=spot%20check", "metadata"),
        (f"/timeline?device={DEVICE}&day={DAY}", "query"),
        ("/audit", "audit"),
        ("/audit.csv", "audit"),
        ("/audit/anomalies", "audit"),
        ("/log/proof/1", "query"),
    ]
    for path, action in expected:
        before = last_index(evi)
        answer = web.get(path)
        assert answer.status_code == 200, (path, answer.text[:1500])
        made = accesses_after(evi, before)
        assert [(e.body["actor"], e.body["action"]) for _, e in made] == [("li.si", action)], path
        index, entry = made[0]
        if path.startswith("/recordings"):
            assert entry.body["reason"] == "spot check"
            assert f"日志条目 {index}" in answer.text  # the page names the entry that registered it
        if path.startswith("/recordings/"):
            assert entry.recording == rec
        if path.startswith("/recordings?"):
            listed = set(world.recordings)
            with evi.catalog.read() as conn:
                shown = set(recordings_of_case(conn, "none")) | {
                    r
                    for (r,) in conn.execute(
                        access_results.select()
                        .with_only_columns(access_results.c.recording)
                        .where(access_results.c.entry == index)
                    )
                }
            assert shown == listed  # the search's entry names every recording it showed
    # Pages that show no recording's metadata write nothing.
    for path in ("/access", "/export", "/verify", "/timeline"):
        before = last_index(evi)
        assert web.get(path).status_code == 200
        assert accesses_after(evi, before) == [], path


def test_a_page_whose_access_entry_cannot_be_written_shows_nothing(
    world: World, evi: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    web = logged_in(evi, "wang.wu")
    rec = world.recordings[2]
    token = csrf_of(web.get(f"/recordings/{rec}").text)
    assert web.post(f"/recordings/{rec}/play", data={"reason": "review", "csrf": token}).status_code == 303
    reads: list[object] = []
    real_stream = ObjectStore._stream

    def counting(store: ObjectStore, version: object) -> Iterator[bytes]:
        reads.append(version)
        return real_stream(store, version)  # type: ignore[arg-type]  # the real StoredVersion

    monkeypatch.setattr(ObjectStore, "_stream", counting)
    with evi.catalog.begin() as conn:  # the database refuses every log write: a real failure, no mock
        refuse_log_writes(conn)
    try:
        before = last_index(evi)
        for path in (f"/recordings/{rec}", f"/recordings?device={DEVICE}", "/", f"/recordings/{rec}/stream"):
            answer = web.get(path)
            assert answer.status_code == 503, (path, answer.text[:1000])
            assert "无法登记访问日志" in answer.text
            assert "CAM31_P3101" not in answer.text, path  # no file name: no metadata left the server
        assert reads == [], "no byte of the recording was read"
        assert last_index(evi) == before
    finally:
        with evi.catalog.begin() as conn:
            allow_log_writes(conn)
    assert web.get(f"/recordings/{rec}").status_code == 200  # the log works again


# -- security: CSRF, cookies, login limiter, sessions, no secret in pages or URLs ----------------------------


def test_a_forged_post_is_refused_and_changes_nothing(world: World, evi: App) -> None:
    rec = world.recordings[2]
    web = logged_in(evi, "wang.wu")
    other = logged_in(evi, "zhao.liu")
    foreign = csrf_of(other.get("/access").text)  # a valid token, but of another session
    with evi.catalog.read() as conn:
        labels_before = len(label_history(conn, rec))
    before = last_index(evi)
    label = {"case_number": "伪造案号", "parties": "某人", "handler": "某人"}
    for token in (None, "", "x" * 43, foreign):
        data = dict(label) if token is None else {**label, "csrf": token}
        answer = web.post(f"/recordings/{rec}/label", data=data)
        assert answer.status_code == 403, answer.text[:500]
        assert "表单已失效" in answer.text
    assert web.post("/access/request", data={"recordings": rec, "action": "copy", "reason": "x"}).status_code == 403
    assert web.post("/logout", data={"csrf": foreign}).status_code == 403
    assert web.post("/verify", data={}).status_code == 403
    # A login form posted without the login page's token is refused too (login CSRF).
    assert client(evi).post("/login", data={"name": "wang.wu", "secret": PASSWORD}).status_code == 403
    with evi.catalog.read() as conn:
        assert len(label_history(conn, rec)) == labels_before
    assert entries_after(evi, before) == []
    assert web.get("/").status_code == 200  # still logged in: a refused post ends nothing


def test_session_cookies_are_httponly_strict_and_secure_behind_tls(evi: App) -> None:
    plain = client(evi).get("/login").headers["set-cookie"]
    assert "HttpOnly" in plain
    assert "SameSite=strict" in plain
    assert "Path=/" in plain
    assert "Secure" not in plain  # plain http (development): a Secure cookie would never come back
    tls = client(evi, base_url="https://testserver").get("/login").headers["set-cookie"]
    assert "Secure" in tls  # behind a TLS proxy (uvicorn --proxy-headers) the request is https
    forced = client(evi, WebSettings(secure_cookies=True)).get("/login").headers["set-cookie"]
    assert "Secure" in forced
    page = client(evi).get("/login")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"


def test_failed_logins_are_rate_limited_per_name_and_address(evi: App) -> None:
    """Failures for one name from one address make that pair wait; nobody else is locked out by them."""
    web = client(evi, WebSettings(login_attempts=3, login_window_minutes=15))
    token = csrf_of(web.get("/login").text)
    for _ in range(2):
        answer = web.post("/login", data={"name": "zhao.liu", "secret": "wrong password!", "csrf": token})
        assert answer.status_code == 401
        assert "用户名或密码错误" in answer.text
    answer = web.post("/login", data={"name": "zhao.liu", "secret": "wrong password!", "csrf": token})
    assert answer.status_code == 429, "the third failure in a row starts the wait"
    # The right password is not even checked for this pair now ...
    answer = web.post("/login", data={"name": "zhao.liu", "secret": PASSWORD, "csrf": token})
    assert answer.status_code == 429
    assert "登录失败次数过多" in answer.text
    assert "set-cookie" not in answer.headers
    # ... but another name from the same address logs in.
    answer = web.post("/login", data={"name": "wang.wu", "secret": PASSWORD, "csrf": token})
    assert answer.status_code == 303


def test_logout_ends_the_session_and_a_disabled_user_is_out_at_once(world: World, evi: App) -> None:
    web = logged_in(evi, "wang.wu")
    cookie = web.cookies.get("evidock_session")
    assert cookie
    token = csrf_of(web.get("/").text)
    answer = web.post("/logout", data={"csrf": token})
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    replay = client(evi)
    replay.cookies.set("evidock_session", cookie)
    answer = replay.get("/recordings")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
    # The session id changes at login (no fixation): the login page's id is not the logged-in one.
    fresh = client(evi)
    fresh.get("/login")
    before = fresh.cookies.get("evidock_session")
    log_in(fresh, "wang.wu")
    assert fresh.cookies.get("evidock_session") not in (None, before)
    # Disabling a user ends their sessions at the next request.
    with evi.catalog.begin() as conn:
        admin = Person("(test)", Role.ADMIN)
        add_user(
            conn,
            journal=evi.journal,
            actor=admin,
            name="temp.user",
            role=Role.OFFICER,
            password_hash=hash_password(PASSWORD),
            time=datetime.now(UTC),
        )
    temp = logged_in(evi, "temp.user")
    assert temp.get("/recordings").status_code == 200
    with evi.catalog.begin() as conn:
        disable_user(
            conn,
            journal=evi.journal,
            actor=Person("(test)", Role.ADMIN),
            name="temp.user",
            reason="left",
            time=datetime.now(UTC),
        )
    assert temp.get("/recordings").status_code == 303


def test_no_secret_in_a_page_or_a_url(world: World, evi: App) -> None:
    web = client(evi)
    login_page = web.get("/login?next=/recordings")
    token = csrf_of(login_page.text)
    answer = web.post("/login", data={"name": "wang.wu", "secret": PASSWORD, "csrf": token, "next": "/recordings"})
    assert answer.headers["location"] == "/recordings"
    assert PASSWORD not in answer.headers["location"]
    session_id = web.cookies.get("evidock_session")
    assert session_id
    rec = world.recordings[0]
    for path in pages(world)[:8]:
        body = web.get(path).text
        assert session_id not in body, path
        assert PASSWORD not in body, path
        # The CSRF token appears only as the value of hidden form fields, never in a link.
        assert all("csrf=" not in link for link in re.findall(r'href="([^"]*)"', body)), path
        form_token = csrf_of(body)
        assert body.count(form_token) == body.count(f'<input type="hidden" name="csrf" value="{form_token}">'), path
    token = csrf_of(web.get(f"/recordings/{rec}").text)
    player = web.post(f"/recordings/{rec}/play", data={"reason": "check", "csrf": token})
    body = web.get(player.headers["location"]).text
    assert re.search(rf'<video [^>]*src="/recordings/{rec}/stream"', body)  # the stream URL carries no secret
    # Redirects after login stay on this site.
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        other = client(evi)
        token = csrf_of(other.get("/login").text)
        gone = other.post("/login", data={"name": "wang.wu", "secret": PASSWORD, "csrf": token, "next": target})
        assert gone.headers["location"] == "/"


# -- playback through the gate -------------------------------------------------------------------------------


def test_playback_needs_a_reason_and_streams_the_original_through_the_gate(
    world: World, evi: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    rec = world.recordings[0]
    web = logged_in(evi, "wang.wu")
    refused = web.get(f"/recordings/{rec}/stream")
    assert refused.status_code == 403  # no reason given first
    token = csrf_of(web.get(f"/recordings/{rec}").text)
    assert web.post(f"/recordings/{rec}/play", data={"reason": "  ", "csrf": token}).status_code == 400
    assert web.post(f"/recordings/{rec}/play", data={"reason": "复核", "csrf": token}).status_code == 303
    before = last_index(evi)
    answer = web.get(f"/recordings/{rec}/stream")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["accept-ranges"] == "bytes"
    original = answer.content
    assert hashlib.sha256(original).hexdigest() == rec  # the unchanged original
    made = accesses_after(evi, before)
    assert [(e.body["action"], e.body["reason"], e.recording) for _, e in made] == [("stream", "复核", rec)]
    assert answer.headers["x-evidock-access-entry"] == str(made[0][0])

    # The player seeks: each byte range is its own read through the gate, under the same reason.
    before = last_index(evi)
    middle = web.get(f"/recordings/{rec}/stream", headers={"Range": "bytes=1000-1999"})
    assert middle.status_code == 206
    assert middle.headers["content-range"] == f"bytes 1000-1999/{len(original)}"
    assert middle.content == original[1000:2000]
    tail = web.get(f"/recordings/{rec}/stream", headers={"Range": "bytes=-100"})
    assert (tail.status_code, tail.content) == (206, original[-100:])
    outside = web.get(f"/recordings/{rec}/stream", headers={"Range": f"bytes={len(original)}-"})
    assert outside.status_code == 416
    made = accesses_after(evi, before)
    assert [(e.body["action"], e.body["reason"]) for _, e in made] == [("stream", "复核")] * 3
    assert [middle.headers["x-evidock-access-entry"], tail.headers["x-evidock-access-entry"]] == [
        str(i) for i, _ in made[:2]
    ]

    # A reason covers the player for PLAYBACK_WINDOW only; after it, nothing is read and nothing is written.
    monkeypatch.setattr("evidock.web.recordings.PLAYBACK_WINDOW", timedelta(0))
    assert web.post(f"/recordings/{rec}/play", data={"reason": "复核", "csrf": token}).status_code == 303
    before = last_index(evi)
    assert web.get(f"/recordings/{rec}/stream").status_code == 403
    assert last_index(evi) == before
    auditor = logged_in(evi, "li.si")  # an auditor never sees content
    token = csrf_of(auditor.get(f"/recordings/{rec}").text)
    assert auditor.post(f"/recordings/{rec}/play", data={"reason": "look", "csrf": token}).status_code == 403


# -- forms: labels, explanations, requests and the two-person rule ---------------------------------------------------


def test_labels_explanations_and_approvals_act_as_the_logged_in_person(world: World, evi: App) -> None:
    rec = world.recordings[2]
    wang = logged_in(evi, "wang.wu")
    token = csrf_of(wang.get(f"/recordings/{rec}").text)
    before = last_index(evi)
    answer = wang.post(
        f"/recordings/{rec}/label",
        data={"case_number": "京朝公(治)行罚决字[2026]31号", "parties": "张三，李四", "handler": "赵六", "csrf": token},
    )
    assert answer.status_code == 303
    labels = [e for _, e in entries_after(evi, before) if e.type is EntryType.LABEL]
    assert [(e.recording, e.body["by"], e.body["case_number"]) for e in labels] == [
        (rec, "wang.wu", "京朝公(治)行罚决字[2026]31号")
    ]
    with evi.catalog.read() as conn:
        assert latest_labels(conn, [rec])[rec].parties == ("张三", "李四")
        gap = next(f for f in findings_db.listing(conn, recording=rec, open_only=True) if f.kind == "gap")
    page = wang.get(answer.headers["location"])
    assert "标注已保存" in page.text
    before = last_index(evi)
    answer = wang.post(
        f"/findings/{gap.id}/explain",
        data={"text": "电池耗尽，更换后继续录制", "back": f"/recordings/{rec}", "csrf": token},
    )
    assert answer.headers["location"] == f"/recordings/{rec}?done=explain"
    explained = [e for _, e in entries_after(evi, before) if e.type is EntryType.EXPLANATION]
    assert [(e.body["author"], e.body["explanation"]) for e in explained] == [("wang.wu", "电池耗尽，更换后继续录制")]

    # A copy: asked by wang.wu, never decided by wang.wu, approved by zhao.liu.
    made = wang.post(
        "/access/request",
        data={"recordings": rec[:10], "action": "copy", "category": "internal", "reason": "内部复核", "csrf": token},
    )
    assert made.status_code == 303
    number = int(made.headers["location"].split("#r")[1])
    own = wang.post(f"/access/{number}/decide", data={"decision": "approve", "reason": "ok", "csrf": token})
    assert own.status_code == 403
    assert "two-person rule" in own.text
    assert f'action="/access/{number}/decide"' not in wang.get("/access").text  # no form for one's own request
    zhao = logged_in(evi, "zhao.liu")
    ztoken = csrf_of(zhao.get("/access").text)
    assert f'action="/access/{number}/decide"' in zhao.get("/access").text
    assert (
        zhao.post(f"/access/{number}/decide", data={"decision": "approve", "reason": "", "csrf": ztoken}).status_code
        == 400
    )
    answer = zhao.post(f"/access/{number}/decide", data={"decision": "approve", "reason": "负责人批准", "csrf": ztoken})
    assert answer.status_code == 303
    approval = [e for _, e in entries_after(evi, before) if e.type is EntryType.APPROVAL]
    assert [(e.body["approver"], e.body["decision"], e.body["requested_by"]) for e in approval] == [
        ("zhao.liu", "approved", "wang.wu")
    ]
    again = zhao.post(f"/access/{number}/decide", data={"decision": "deny", "reason": "no", "csrf": ztoken})
    assert again.status_code == 403  # a decision is final


def test_roles_limit_the_pages(world: World, evi: App) -> None:
    officer = logged_in(evi, "zhang.san")
    assert officer.get("/audit").status_code == 403
    assert officer.get("/verify").status_code == 403
    assert officer.get(f"/recordings?device={DEVICE}").status_code == 200
    admin = logged_in(evi, "root")
    assert admin.get(f"/recordings/{world.recordings[0]}").status_code == 403  # admins manage users, not recordings
    assert admin.get("/").status_code == 200  # storage status only
    auditor = logged_in(evi, "li.si")
    token = csrf_of(auditor.get("/access").text)
    refused = auditor.post(
        "/access/request", data={"recordings": world.recordings[0], "action": "copy", "reason": "x", "csrf": token}
    )
    assert refused.status_code == 403


# -- the CLI and the pages agree ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("cli")
def test_the_cli_and_the_pages_give_the_same_answers(
    world: World, evi: App, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    web = logged_in(evi, "li.si")
    # The search: the same recordings as `evidock recordings list`.
    listed = json.loads(run_cli(world, capsys, "recordings", "list", "--device", DEVICE, "--json"))
    page = web.get(f"/recordings?device={DEVICE}").text
    assert re.findall(r'href="/recordings/([0-9a-f]{64})"', page) == [r["id"] for r in listed]
    # The timeline: the picture of `evidock timeline --svg` (the same function draws both).
    picture = tmp_path / "day.svg"
    run_cli(world, capsys, "timeline", "--device", DEVICE, "--date", DAY, "--svg", str(picture))
    web.get("/lang/zh")
    page = web.get(f"/timeline?device={DEVICE}&day={DAY}").text
    drawn = picture.read_text("utf-8")
    assert drawn.strip() in page
    assert drawn == svg(timelines.device_day(evi, DEVICE, timelines.local_day(DAY)), lang="zh")
    # The audit trail: the CSV of `evidock audit access --csv`, up to the page's own query.
    since = last_index(evi)
    text = web.get(f"/audit.csv?recording={world.recordings[0][:12]}").text
    own = int(accesses_after(evi, since)[0][0])
    from_page = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    from_cli = list(
        csv.DictReader(
            io.StringIO(run_cli(world, capsys, "audit", "access", "--recording", world.recordings[0][:12], "--csv"))
        )
    )
    assert from_page == [r for r in from_cli if int(r["entry"]) < own]
    assert len(from_page) >= 2
    # The proof download: what `evidock log proof --json` prints for the same entry.
    proof = web.get("/log/proof/2")
    assert proof.headers["content-disposition"] == 'attachment; filename="evidock-proof-2.json"'
    assert proof.json() == json.loads(run_cli(world, capsys, "log", "proof", "--entry", "2", "--json"))


def test_the_export_page_lists_approved_exports_only(world: World, evi: App) -> None:
    rec = world.recordings[1]
    wang = logged_in(evi, "wang.wu")
    token = csrf_of(wang.get("/access").text)
    numbers = []
    for action in ("export", "download"):
        made = wang.post(
            "/access/request",
            data={
                "recordings": rec,
                "action": action,
                "category": "internal",
                "reason": f"{action} test",
                "csrf": token,
            },
        )
        numbers.append(int(made.headers["location"].split("#r")[1]))
    before = wang.get("/export").text
    assert f"<td>{numbers[0]}</td>" not in before  # pending: not yet
    zhao = logged_in(evi, "zhao.liu")
    ztoken = csrf_of(zhao.get("/access").text)
    for number in numbers:
        zhao.post(f"/access/{number}/decide", data={"decision": "approve", "reason": "ok", "csrf": ztoken})
    after = wang.get("/export").text
    assert f"<td>{numbers[0]}</td>" in after
    assert f"<td>{numbers[1]}</td>" not in after  # a download is not a disc export
    assert "evidock export disc" in after


@pytest.mark.usefixtures("cli")
def test_the_search_filters_by_device_officer_case_date_status_and_findings(
    world: World, evi: App, capsys: pytest.CaptureFixture[str]
) -> None:
    first = world.recordings[0]
    ctx = retention_context(evi)
    case = "京朝公(治)行罚决字[2026]77号"
    labelling.label(ctx, [first], case_number=case, parties=["张三"], handler="赵六", by="wang.wu", now=evi.now())
    evidence_mod.add(ctx, [first], case_number=case, period="30", by="wang.wu", now=evi.now())
    with evi.catalog.read() as conn:
        labelled = set(latest_labels(conn, world.recordings))
        with_open = {r for r in world.recordings if open_findings_by_recording(conn).get(r)}
    web = logged_in(evi, "li.si")

    def found(query: str) -> set[str]:
        answer = web.get(f"/recordings?{query}")
        assert answer.status_code == 200, answer.text[:1000]
        return set(re.findall(r'href="/recordings/([0-9a-f]{64})', answer.text))

    everything = set(world.recordings)
    assert found(f"device={DEVICE}") == everything
    assert found("device=CAM99") == set()
    assert found("officer=P3101") == everything
    assert found(f"case={quote(case)}") == {first}
    assert found("status=evidence") == {first}
    assert found("status=labelled") == labelled
    assert found("status=unlabelled") == everything - labelled
    # Art. 26: recordings of 2026-11-20 were due on 2026-11-24; unlabelled ones are overdue now.
    assert found("status=overdue") == everything - labelled
    assert found("status=due_soon") == set()
    assert found("findings=open") == with_open
    assert found("findings=none") == everything - with_open
    assert found(f"since={DAY}&until={DAY}") == everything  # dates are local days, both included
    assert found("since=2026-11-21") == set()
    assert found("until=2026-11-19") == set()
    assert found(f"device={DEVICE}&case={quote(case)}&status=evidence&findings=open") == {first} & with_open
    # The page, `recordings list` and the API run one search (storage.search): they agree.
    for page, option in (("findings=open", "--open-findings"), ("status=labelled", "--status=labelled")):
        listed = json.loads(run_cli(world, capsys, "recordings", "list", option, "--json"))
        assert {r["id"] for r in listed} == found(page), option
    refused = web.get("/recordings?status=nonsense")
    assert refused.status_code == 400
    assert "status 'nonsense' is not one of" in html.unescape(refused.text)


def test_hostile_input_is_bounded_in_the_log_and_refused_cleanly(world: World, evi: App) -> None:
    web = logged_in(evi, "li.si")
    before = last_index(evi)
    answer = web.get(
        "/recordings", params={"device": "CAM\x1b[31m" + "9" * 5000, "officer": "<script>alert(1)</script>"}
    )
    assert answer.status_code == 200
    assert "<script>alert(1)</script>" not in answer.text  # escaped
    ((_, entry),) = accesses_after(evi, before)
    query = entry.body["query"]
    assert isinstance(query, dict)
    assert len(str(query["device"])) == 200
    assert "\x1b" not in str(query["device"])  # the control character is escaped, never kept
    assert r"\x1b" in str(query["device"])
    refused = web.get("/recordings", params={"reason": "bad\x00reason"})
    assert refused.status_code == 400
    assert "control character U+0000" in refused.text
    assert accesses_after(evi, before)[1:] == []  # a refused read writes nothing


def test_the_verify_page_names_a_changed_catalog_row(world: World, evi: App) -> None:
    rec = world.recordings[2]
    web = logged_in(evi, "li.si")
    token = csrf_of(web.get("/verify").text)
    assert "本服务启动后尚未运行校验" in web.get("/verify").text
    with evi.catalog.begin() as conn:  # someone edits the catalog behind the log's back
        conn.execute(update(recordings).where(recordings.c.id == rec).values(officer="P9999"))
    try:
        assert web.post("/verify", data={"csrf": token}).headers["location"] == "/verify"
        page = html.unescape(web.get("/verify").text)
        assert "1 项失败" in page
        assert "catalog_mismatch" in page
        assert rec in page
        assert "column officer: the catalog has" in page
        assert "P9999" in page
    finally:
        with evi.catalog.begin() as conn:
            conn.execute(update(recordings).where(recordings.c.id == rec).values(officer="P3101"))
    web.post("/verify", data={"csrf": token})
    assert "全部通过" in web.get("/verify").text
    officer = logged_in(evi, "zhang.san")
    refused = officer.post("/verify", data={"csrf": csrf_of(officer.get("/").text)})
    assert refused.status_code == 403  # officers may not run verify
    assert "may not run verify" in refused.text
