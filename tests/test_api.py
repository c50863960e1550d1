"""The HTTP API against the real S3 server and a real SQLite catalog: every route, authentication,
roles, ACCESS entries written before answers, two-person approvals, fail closed, and the CLI agreeing.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from access.people import Role
from chain.entries import EntryType, decode
from chain.merkle import leaf_hash, verify_consistency, verify_inclusion
from evidock import log_queries
from evidock import settings as settings_mod
from evidock.api import spec
from evidock.api.factory import application, create_app
from evidock.app import App, open_app, retention_context
from evidock.cli import main
from evidock.keys import init_key
from evidock.login_backoff import Backoff
from evidock.settings import Settings
from retention import labelling
from storage import journal
from storage.errors import StorageError
from storage.journal import Journal
from storage.schema import log_entries
from tests import media
from tests.conftest import (
    add_people,
    add_person,
    allow_log_writes,
    dock,
    raw_config,
    refuse_log_writes,
    staff,
    station_env,
    use,
    write_config,
)

pytestmark = pytest.mark.s3

DAY = datetime(2026, 11, 20, tzinfo=UTC)  # 08:00 in Shanghai
CASE = "京朝公(治)行罚决字[2026]41号"
PEOPLE = staff("P4101")  # root, c1, c2, o1 (officer P4101), a1, s1


@dataclass
class World:
    settings: Settings
    cfg: list[str]
    evi: App
    client: TestClient
    tokens: dict[str, str]
    recordings: list[str]  # CAM41 at 08:00:00, 08:00:03, 08:00:20 (a gap before the third); 0 is labelled
    files: list[Path]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}", "X-Evidock-User": name}

    def get(self, name: str, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, headers={**self.auth(name), **kwargs.pop("headers", {})}, **kwargs)

    def post(self, name: str, url: str, body: Any) -> Any:
        return self.client.post(url, headers=self.auth(name), json=body)


def _name(device: str, start: datetime, seq: int) -> str:
    return f"{device}_P4101_{start + timedelta(hours=8):%Y%m%d%H%M%S}_{seq:04d}.mp4"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("api")
    inbox = tmp / "inbox"
    inbox.mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    settings = settings_mod.load(config, station_env(s3_env))
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        files, ids = [], []
        for seq, at in enumerate((0, 3, 20), start=1):
            start = DAY + timedelta(seconds=at)
            path = media.clip(inbox / _name("CAM41", start, seq), seconds=3, created=start, mark=f"api{seq}")
            files.append(path)
            ids.append(dock(evi, path))
        labelling.label(
            retention_context(evi), [ids[0]], case_number=CASE, parties=["张三"], handler="赵六", by="c1", now=evi.now()
        )
        tokens = add_people(settings, PEOPLE)
        client = TestClient(create_app(evi, backoff=Backoff(attempts=1000)))
        yield World(settings, ["--config", str(config)], evi, client, tokens, ids, files)


def _entry(world: World, index: int) -> tuple[EntryType, str | None, dict[str, Any]]:
    with world.evi.catalog.read() as conn:
        entry = decode(journal.entry_bytes(conn, index))
    return entry.type, entry.recording, dict(entry.body)


def _size(world: World) -> int:
    with world.evi.catalog.read() as conn:
        return journal.size(conn)


# -- the document, authentication, headers -------------------------------------------------------


def test_the_api_and_the_pages_keep_their_own_errors_and_headers(world: World) -> None:
    """One application (what `evidock run` serves): JSON errors under /api/v1, HTML error pages at the root."""
    api = world.get("c1", "/api/v1/recordings/ffffffffffff")
    assert api.status_code == 404
    assert api.json()["error"] == "NotFound"
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"

    pages = TestClient(create_app(world.evi), follow_redirects=False)
    form = pages.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token is not None
    logged = pages.post("/login", data={"name": "c1", "secret": world.tokens["c1"], "csrf": token.group(1)})
    assert logged.status_code == 303, logged.text[:500]
    for url, status in (("/recordings/ffffffffffff", 404), ("/static/nothing.css", 404)):
        page = pages.get(url)
        assert page.status_code == status, (url, page.text[:500])
        assert page.headers["content-type"].startswith("text/html"), url
        assert "form-action 'self'" in page.headers["content-security-policy"], url
        assert "<h1>" in page.text, url
        assert '"detail"' not in page.text, url
    # A page that needs a login redirects; the same path's API twin answers 401 JSON.
    assert TestClient(create_app(world.evi), follow_redirects=False).get("/recordings").status_code == 303
    assert world.client.get("/api/v1/recordings").status_code == 401


def test_the_openapi_document_is_published_and_current(world: World) -> None:
    published = world.client.get("/openapi.json")
    assert published.status_code == 200
    assert published.json() == application().openapi()
    assert spec.main(["--check"]) == 0, "docs/openapi.json is stale: run python -m evidock.api.spec"
    assert json.loads(spec.DOCUMENT.read_text(encoding="utf-8"))["paths"].keys() == published.json()["paths"].keys()
    schemes = published.json()["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"]["name"] == "X-Evidock-User"
    docs = world.client.get("/docs")
    assert docs.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in docs.text
    assert "https://" not in docs.text, "nothing from the internet: a station's network is often closed"
    script = world.client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert len(script.content) > 100_000
    assert world.client.get("/docs/assets/swagger-ui.css").status_code == 200
    redoc = world.client.get("/redoc")
    assert redoc.status_code == 200
    assert "/docs/assets/redoc.standalone.js" in redoc.text
    assert "https://" not in redoc.text


def test_without_or_with_bad_credentials_it_is_401(world: World) -> None:
    url = "/api/v1/recordings"
    before = _size(world)
    bad = [
        {},
        {"Authorization": f"Bearer {world.tokens['o1']}"},  # no user
        {"X-Evidock-User": "o1"},  # no token
        {"Authorization": "Bearer evk_wrong", "X-Evidock-User": "o1"},
        {"Authorization": f"Bearer {world.tokens['c1']}", "X-Evidock-User": "o1"},  # someone else's token
        {"Authorization": f"Basic {world.tokens['o1']}", "X-Evidock-User": "o1"},
        {"Authorization": f"Bearer {world.tokens['o1']}", "X-Evidock-User": "nobody"},
    ]
    for headers in bad:
        answer = world.client.get(url, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="evidock"'
        assert "recordings" not in answer.json()
        assert world.tokens["o1"] not in answer.text
        assert world.tokens["c1"] not in answer.text
    assert _size(world) == before, "a refused request writes nothing"
    # A token in the URL is refused outright, even a valid one.
    leaked = world.client.get(f"{url}?token={world.tokens['o1']}", headers=world.auth("o1"))
    assert leaked.status_code == 400
    assert "never in the URL" in leaked.json()["detail"]
    assert world.tokens["o1"] not in leaked.text
    good = world.get("o1", url)
    assert good.status_code == 200
    for header, value in {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    }.items():
        assert good.headers[header] == value


def test_a_chinese_user_name_travels_percent_encoded(world: World) -> None:
    token = add_person(world.settings, "王五", Role.OFFICER)
    answer = world.client.get(
        "/api/v1/recordings", headers={"Authorization": f"Bearer {token}", "X-Evidock-User": "%E7%8E%8B%E4%BA%94"}
    )
    assert answer.status_code == 200
    assert _entry(world, answer.json()["access_entry"])[2]["actor"] == "王五"


def test_failed_authentications_are_rate_limited_per_user_and_address(world: World) -> None:
    client = TestClient(create_app(world.evi, backoff=Backoff(attempts=3, forget_seconds=60)))
    wrong = {"Authorization": "Bearer evk_wrong", "X-Evidock-User": "o1"}
    assert [client.get("/api/v1/recordings", headers=wrong).status_code for _ in range(3)] == [401, 401, 429]
    limited = client.get("/api/v1/recordings", headers=wrong)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 900
    # A valid token is always checked: neither the same user's nor another user's token is refused.
    assert client.get("/api/v1/recordings", headers=world.auth("o1")).status_code == 200
    assert client.get("/api/v1/recordings", headers=world.auth("c1")).status_code == 200
    # Requests without credentials guess nothing and are not counted.
    fresh = TestClient(create_app(world.evi, backoff=Backoff(attempts=2, forget_seconds=60)))
    assert [fresh.get("/api/v1/recordings").status_code for _ in range(5)] == [401] * 5


# -- recordings ----------------------------------------------------------------------------------------


def test_a_search_is_one_list_entry_and_agrees_with_the_cli(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = world.get("o1", "/api/v1/recordings", params={"device": "CAM41", "reason": "daily check"})
    assert answer.status_code == 200
    body = answer.json()
    assert [r["id"] for r in body["recordings"]] == world.recordings
    kind, recording, entry = _entry(world, body["access_entry"])
    assert (kind, recording) == (EntryType.ACCESS, None)
    assert (entry["actor"], entry["role"], entry["action"], entry["reason"]) == ("o1", "officer", "list", "daily check")
    assert entry["count"] == 3
    assert entry["query"] == {"device": "CAM41", "limit": "1000"}

    by_case = world.get("o1", "/api/v1/recordings", params={"case": CASE}).json()
    assert [r["id"] for r in by_case["recordings"]] == world.recordings[:1]
    unlabelled = world.get("o1", "/api/v1/recordings", params={"status": "unlabelled"}).json()
    assert [r["id"] for r in unlabelled["recordings"]] == world.recordings[1:]
    with_findings = world.get("o1", "/api/v1/recordings", params={"has_findings": "true"}).json()
    assert set(world.recordings[1:]) <= {r["id"] for r in with_findings["recordings"]}, "the gap is about 2 and 3"
    window = world.get(
        "o1", "/api/v1/recordings", params={"since": "2026-11-20T08:00:02", "until": "2026-11-20T08:00:10"}
    ).json()
    assert [r["id"] for r in window["recordings"]] == [world.recordings[1]], "local (Shanghai) times"
    assert _entry(world, window["access_entry"])[2]["query"] == {
        "since": "2026-11-20T00:00:02+00:00",
        "until": "2026-11-20T00:00:10+00:00",
        "limit": "1000",
    }, "the log keeps the times in UTC"
    assert world.get("o1", "/api/v1/recordings", params={"status": "lost"}).status_code == 422

    # The CLI's search is the same function: the same answer.
    use(monkeypatch, "o1", world.tokens["o1"])
    for flags, params in (
        (["--case", CASE], {"case": CASE}),
        (["--status", "unlabelled"], {"status": "unlabelled"}),
        (["--has-findings"], {"has_findings": "true"}),
        (["--no-findings"], {"has_findings": "false"}),
        (
            ["--since", "2026-11-20T08:00:02", "--until", "2026-11-20T09:00:00+09:00"],
            {"since": "2026-11-20T08:00:02", "until": "2026-11-20T09:00:00+09:00"},
        ),
    ):
        capsys.readouterr()
        assert main([*world.cfg, "recordings", "list", *flags, "--json"]) == 0
        cli = [r["id"] for r in json.loads(capsys.readouterr().out)]
        cli_query = _entry(world, _size(world) - 1)[2]["query"]
        found = world.get("o1", "/api/v1/recordings", params=params).json()
        assert cli == [r["id"] for r in found["recordings"]], flags
        assert cli_query == _entry(world, found["access_entry"])[2]["query"], f"{flags}: logged the same way"


def test_showing_a_recording_is_a_metadata_entry_written_first(world: World) -> None:
    rec = world.recordings[0]
    before = _size(world)
    answer = world.get("c1", f"/api/v1/recordings/{rec[:10]}", params={"reason": "case review"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == rec
    assert body["label"]["case_number"] == CASE
    assert body["receipts"][0]["state"] == "released"
    assert body["access_entry"] == before, "the entry was appended before the answer was made"
    kind, recording, entry = _entry(world, body["access_entry"])
    assert (kind, recording, entry["action"], entry["actor"], entry["reason"]) == (
        EntryType.ACCESS,
        rec,
        "metadata",
        "c1",
        "case review",
    )
    assert world.get("c1", "/api/v1/recordings/ffffffffff").status_code == 404
    assert world.get("c1", "/api/v1/recordings/xyz").status_code == 400
    assert _size(world) == before + 1, "refused reads write nothing"


@pytest.mark.parametrize(
    ("name", "method", "url", "body"),
    [
        ("root", "get", "/api/v1/recordings", None),  # admins manage users, never recordings
        ("s1", "get", "/api/v1/recordings", None),
        ("a1", "get", "/api/v1/recordings/{rec}/content?reason=look", None),  # auditors never see content
        ("a1", "post", "/api/v1/labels", {"recordings": ["{rec}"], "case_number": CASE, "handler": "x"}),
        ("o1", "post", "/api/v1/evidence", {"recordings": ["{rec}"], "case_number": CASE}),
        ("o1", "get", "/api/v1/audit/access", None),
        ("c1", "get", "/api/v1/audit/anomalies", None),
        ("o1", "get", "/api/v1/verify", None),
        ("o1", "get", "/api/v1/compliance", None),
        ("o1", "post", "/api/v1/station/clock", {"device": "X", "device_time": "x", "station_time": "x"}),
        ("a1", "post", "/api/v1/access-requests", {"recordings": ["{rec}"], "action": "copy", "reason": "r"}),
        ("a1", "post", "/api/v1/findings/1/explanation", {"text": "t"}),
        ("root", "get", "/api/v1/findings", None),
        ("root", "get", "/api/v1/log/proof?entry=0", None),
    ],
)
def test_a_role_without_the_permission_gets_403_and_nothing_is_written(
    world: World, name: str, method: str, url: str, body: Any
) -> None:
    rec = world.recordings[0]
    before = _size(world)
    if body is not None:
        body = json.loads(json.dumps(body).replace("{rec}", rec))
        answer = world.post(name, url.replace("{rec}", rec), body)
    else:
        answer = world.get(name, url.replace("{rec}", rec))
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "NotPermitted"
    assert _size(world) == before


# -- content ---------------------------------------------------------------------------------------------


def test_streaming_goes_through_the_gate_with_ranges(world: World) -> None:
    rec, original = world.recordings[1], world.files[1]
    data = original.read_bytes() if original.exists() else None
    whole = world.get("o1", f"/api/v1/recordings/{rec}/content", params={"reason": "watch the stop"})
    assert whole.status_code == 200, whole.text
    if data is not None:
        assert whole.content == data
    data = whole.content
    assert len(data) == world.get("o1", f"/api/v1/recordings/{rec}").json()["size"]
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Type"] == "video/mp4"
    entry = int(whole.headers["X-Evidock-Access-Entry"])
    assert _entry(world, entry)[1] == rec
    assert _entry(world, entry)[2]["action"] == "stream"
    assert _entry(world, entry)[2]["reason"] == "watch the stop"

    part = world.get("o1", f"/api/v1/recordings/{rec}/content?reason=seek", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.content == data[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(data)}"
    tail = world.get("o1", f"/api/v1/recordings/{rec}/content?reason=seek", headers={"Range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, data[-10:])
    viewed = world.get(
        "o1", f"/api/v1/recordings/{rec}/content?reason=seek&action=view", headers={"Range": f"bytes={len(data) - 5}-"}
    )
    assert (viewed.status_code, viewed.content) == (206, data[-5:])
    assert _entry(world, int(viewed.headers["X-Evidock-Access-Entry"]))[2]["action"] == "view"
    outside = world.get("o1", f"/api/v1/recordings/{rec}/content?reason=seek", headers={"Range": f"bytes={len(data)}-"})
    assert outside.status_code == 416
    assert outside.headers["Content-Range"] == f"bytes */{len(data)}"

    before = _size(world)
    assert world.get("o1", f"/api/v1/recordings/{rec}/content").status_code == 400, "a reason is needed"
    assert world.get("o1", f"/api/v1/recordings/{rec}/content?reason=x&action=download").status_code == 400
    assert _size(world) == before


def test_a_download_needs_a_request_approved_by_a_second_custodian(world: World) -> None:
    rec = world.recordings[2]
    asked = world.post(
        "c1",
        "/api/v1/access-requests",
        {
            "recordings": [rec[:12]],
            "action": "download",
            "reason": "court asked",
            "category": "court",
            "document_ref": "(2026)京0105刑初41号",
            "requester": "朝阳区人民法院",
        },
    )
    assert asked.status_code == 200, asked.text
    number = asked.json()["id"]
    assert asked.json()["status"] == "pending"
    url = f"/api/v1/recordings/{rec}/content?request={number}"
    assert world.get("c1", url).status_code == 403, "not approved yet"
    assert world.post("c1", f"/api/v1/access-requests/{number}/approve", {"reason": "mine"}).status_code == 403
    assert world.post("o1", f"/api/v1/access-requests/{number}/approve", {"reason": "x"}).status_code == 403
    mine = world.get("o1", f"/api/v1/access-requests/{number}")
    assert mine.status_code == 403, "an officer sees only their own requests"
    assert number in [r["id"] for r in world.get("c2", "/api/v1/access-requests", params={"pending": "true"}).json()]

    approved = world.post("c2", f"/api/v1/access-requests/{number}/approve", {"reason": "court letter checked"})
    assert approved.status_code == 200
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", "c2")
    approval = approved.json()["recordings"][0]["approval_entry"]
    kind, recording, body = _entry(world, approval)
    assert (kind, recording, body["approver"], body["requested_by"], body["decision"]) == (
        EntryType.APPROVAL,
        rec,
        "c2",
        "c1",
        "approved",
    )
    assert world.post("c2", f"/api/v1/access-requests/{number}/deny", {"reason": "late"}).status_code == 403

    got = world.get("c1", url)
    assert got.status_code == 200
    assert got.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''CAM41_P4101_")
    kind, recording, body = _entry(world, int(got.headers["X-Evidock-Access-Entry"]))
    assert (body["action"], body["approver"], body["approval"], body["requester_category"]) == (
        "download",
        "c2",
        approval,
        "court",
    )
    assert world.get("c1", url).status_code == 403, "an approval is single-use"
    assert world.get("c2", url).status_code == 403, "only the requester uses it"
    shown = world.get("c1", f"/api/v1/access-requests/{number}").json()
    assert shown["recordings"][0]["used_at"] is not None

    denied = world.post("o1", "/api/v1/access-requests", {"recordings": [rec], "action": "copy", "reason": "x"})
    other = denied.json()["id"]
    refused = world.post("c1", f"/api/v1/access-requests/{other}/deny", {"reason": "no need"})
    assert (refused.status_code, refused.json()["status"]) == (200, "denied")
    assert (
        world.post("o1", "/api/v1/access-requests", {"recordings": [rec], "action": "view", "reason": "x"}).status_code
        == 400
    )


# -- custody, findings -------------------------------------------------------------------------------------


def test_labels_evidence_and_release_act_as_the_caller(world: World) -> None:
    rec = world.recordings[1]
    labelled = world.post(
        "c1",
        "/api/v1/labels",
        {"recordings": [rec[:8]], "case_number": CASE, "parties": ["李四"], "handler": "赵六"},
    )
    assert labelled.status_code == 200, labelled.text
    (outcome,) = labelled.json()
    kind, recording, body = _entry(world, outcome["entry"])
    assert (kind, recording, body["by"]) == (EntryType.LABEL, rec, "c1")
    shift = world.post(
        "c1",
        "/api/v1/labels",
        {
            "shift": {"device": "CAM41", "start": "2026-11-20T08:00:15", "end": "2026-11-20T08:01:00"},
            "case_number": CASE,
            "parties": ["王五"],
            "handler": "赵六",
        },
    )
    assert [o["recording"] for o in shift.json()] == [world.recordings[2]]
    assert world.post("c1", "/api/v1/labels", {"case_number": CASE, "handler": "x"}).status_code == 400

    designated = world.post("c1", "/api/v1/evidence", {"recordings": [rec], "case_number": CASE, "period": "30"})
    assert designated.status_code == 200, designated.text
    (held,) = designated.json()
    assert held["legal_hold"] is True
    assert _entry(world, held["hold_entry"])[0] is EntryType.HOLD
    self_approved = world.post("c1", f"/api/v1/evidence/{rec}/release", {"reason": "case closed", "approved_by": "c1"})
    assert self_approved.status_code == 403
    released = world.post("c1", f"/api/v1/evidence/{rec}/release", {"reason": "判决生效", "approved_by": "c2"})
    assert released.status_code == 200, released.text
    assert released.json()["legal_hold"] is False
    kind, _, body = _entry(world, released.json()["hold_entry"])
    assert (kind, body["by"], body["approved_by"]) == (EntryType.HOLD, "c1", "c2")


def test_findings_are_listed_after_a_query_entry_and_explained_by_the_caller(world: World) -> None:
    listed = world.get("o1", "/api/v1/findings", params={"device": "CAM41", "open": "true", "reason": "shift review"})
    assert listed.status_code == 200
    body = listed.json()
    gaps = [f for f in body["findings"] if f["kind"] == "gap"]
    assert len(gaps) == 1
    assert set(gaps[0]["recordings"]) == set(world.recordings[1:])
    kind, _, entry = _entry(world, body["access_entry"])
    assert (kind, entry["action"], entry["command"], entry["query"]) == (
        EntryType.ACCESS,
        "query",
        "GET /api/v1/findings",
        {"open_only": "True", "device": "CAM41"},
    )
    explained = world.post(
        "o1",
        f"/api/v1/findings/{gaps[0]['id']}/explanation",
        {"text": "battery replaced", "voice_in": world.recordings[2][:10], "voice_at_seconds": 1.5},
    )
    assert explained.status_code == 200, explained.text
    kind, _, entry = _entry(world, explained.json()["entry"])
    assert (kind, entry["author"]) == (EntryType.EXPLANATION, "o1")
    assert world.post("o1", "/api/v1/findings/999999/explanation", {"text": "x"}).status_code == 400
    half = {"text": "x", "voice_in": world.recordings[2]}
    assert world.post("o1", f"/api/v1/findings/{gaps[0]['id']}/explanation", half).status_code == 400
    still_open = world.get("o1", "/api/v1/findings", params={"device": "CAM41", "open": "true"}).json()
    assert gaps[0]["id"] not in [f["id"] for f in still_open["findings"]]


# -- audit, log, reports -------------------------------------------------------------------------------------


def test_the_audit_trail_is_the_cli_s_and_is_itself_logged(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = world.recordings[0]
    seen = world.get("o1", f"/api/v1/recordings/{rec}", params={"reason": "before the audit"}).json()["access_entry"]
    trail = world.get("a1", "/api/v1/audit/access", params={"recording": rec[:12]})
    assert trail.status_code == 200
    body = trail.json()
    rows = {r["entry"]: r for r in body["accesses"]}
    assert rows[seen]["actor"] == "o1"
    assert rows[seen]["reason"] == "before the audit"
    assert all(r["entry"] < body["access_entry"] for r in body["accesses"])
    kind, _, own = _entry(world, body["access_entry"])
    assert (kind, own["action"], own["actor"]) == (EntryType.ACCESS, "audit", "a1")
    sheet = world.get("a1", "/api/v1/audit/access", params={"recording": rec[:12], "format": "csv"})
    assert sheet.headers["Content-Type"] == "text/csv; charset=utf-8"
    table = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [int(r["entry"]) for r in table][: len(rows)] == list(rows), "the same rows, and this query's own"
    assert table[0].keys() == body["accesses"][0].keys()
    assert _entry(world, int(sheet.headers["X-Evidock-Access-Entry"]))[2]["action"] == "audit"
    empty = world.get("a1", "/api/v1/audit/anomalies", params={"since": "2099-01-01", "format": "csv"})
    assert empty.text == "kind,entry,time,actor,recording,detail,entries\r\n"
    by_case = world.get("a1", "/api/v1/audit/access", params={"case": CASE, "user": "o1"}).json()
    assert seen in [r["entry"] for r in by_case["accesses"]]
    assert world.get("a1", "/api/v1/audit/access", params={"since": "yesterday"}).status_code == 400

    use(monkeypatch, "a1", world.tokens["a1"])
    capsys.readouterr()
    assert main([*world.cfg, "audit", "access", "--recording", rec[:12], "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert [r for r in cli if r["entry"] < body["access_entry"]] == body["accesses"], "the same rows"

    anomalies = world.get("a1", "/api/v1/audit/anomalies")
    assert anomalies.status_code == 200
    assert _entry(world, anomalies.json()["access_entry"])[2]["command"] == "audit anomalies"
    capsys.readouterr()
    assert main([*world.cfg, "audit", "anomalies", "--json"]) == 0
    cli_found = json.loads(capsys.readouterr().out)
    own = anomalies.json()["access_entry"]
    assert [a for a in cli_found if a["entry"] < own] == anomalies.json()["anomalies"], "the same anomalies"


def test_checkpoint_entries_and_proofs(world: World) -> None:
    stored = log_queries.checkpoint(world.evi, new=True)
    size = stored.checkpoint.size
    note = world.get("a1", "/api/v1/log/checkpoint")
    assert note.status_code == 200
    assert note.text == stored.note
    assert note.headers["Content-Type"].startswith("text/plain")
    assert world.client.get("/api/v1/log/checkpoint").status_code == 401

    entry = world.get("a1", "/api/v1/log/entries/0")
    assert entry.status_code == 200
    assert entry.json()["entry"]["type"] == "KEY"
    assert world.get("a1", f"/api/v1/log/entries/{10**9}").status_code == 404

    proof = world.get("a1", "/api/v1/log/proof", params={"entry": 1, "reason": "court"})
    assert proof.status_code == 200
    body = proof.json()
    assert (body["format"], body["tree_size"], body["checkpoint"]) == ("evidock-inclusion-proof-v1", size, stored.note)
    data = base64.b64decode(body["entry_b64"])
    verify_inclusion(leaf_hash(data), 1, size, [bytes.fromhex(h) for h in body["proof"]], bytes.fromhex(body["root"]))
    with world.evi.catalog.read() as conn:
        queries = conn.execute(
            select(log_entries.c.idx).where(log_entries.c.type == EntryType.ACCESS.value).order_by(log_entries.c.idx)
        ).all()
    commands = [_entry(world, int(i))[2].get("command") for (i,) in queries[-3:]]
    assert commands[-2:] == ["GET /api/v1/log/entries", "GET /api/v1/log/proof"]

    consistency = world.get("a1", "/api/v1/log/consistency", params={"from": 2})
    assert consistency.status_code == 200
    c = consistency.json()
    assert (c["format"], c["old_size"], c["new_size"], c["new_checkpoint"]) == (
        "evidock-consistency-proof-v1",
        2,
        size,
        stored.note,
    )
    verify_consistency(
        2, size, bytes.fromhex(c["old_root"]), bytes.fromhex(c["new_root"]), [bytes.fromhex(h) for h in c["proof"]]
    )
    assert world.get("a1", "/api/v1/log/consistency", params={"from": size + 10**6, "to": size}).status_code in (
        400,
        404,
    )


def test_verify_and_compliance(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log_queries.checkpoint(world.evi, new=True)
    verified = world.get("a1", "/api/v1/verify")
    assert verified.status_code == 200
    assert verified.json()["ok"] is True, verified.json()["failures"]
    assert verified.json()["checked"]["recordings"] == 3
    assert world.get("root", "/api/v1/verify").status_code == 200, "admins may verify"

    report = world.get("c1", "/api/v1/compliance", params={"month": "2026-11"})
    assert report.status_code == 200
    use(monkeypatch, "c1", world.tokens["c1"])
    capsys.readouterr()
    assert main([*world.cfg, "compliance", "--month", "2026-11", "--json"]) == 0
    cli, api = json.loads(capsys.readouterr().out), report.json()
    entry = log_queries.entry(world.evi, api.pop("access_entry"))
    body = entry["entry"]["body"]
    assert (body["actor"], body["action"]) == ("c1", "query"), "the report is on the record"
    assert cli.pop("generated_at") >= api.pop("generated_at")
    assert cli == api, "the CLI and the API print one report"
    assert world.get("c1", "/api/v1/compliance", params={"month": "11/2026"}).status_code == 400


# -- fail closed -------------------------------------------------------------------------------------------------


def test_a_failing_log_write_answers_5xx_with_no_data(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    rec = world.recordings[0]
    before = _size(world)
    with world.evi.catalog.begin() as conn:
        refuse_log_writes(conn)
    try:
        for url in (
            f"/api/v1/recordings/{rec}",
            "/api/v1/recordings?device=CAM41",
            f"/api/v1/recordings/{rec}/content?reason=watch",
            "/api/v1/findings",
        ):
            answer = world.get("o1", url)
            assert answer.status_code == 503, url
            assert answer.json()["error"] == "AccessNotRecorded"
            assert "fail closed" in answer.json()["detail"]
            assert rec not in answer.text, "no data in the body"
            assert "CAM41_" not in answer.text
            assert "X-Evidock-Access-Entry" not in answer.headers
    finally:
        with world.evi.catalog.begin() as conn:
            allow_log_writes(conn)
    assert _size(world) == before

    # The journal itself raises: an evidock error, then an unexpected one.
    def storage_broken(*_args: object, **_kwargs: object) -> int:
        raise StorageError("catalog transaction failed: disk I/O error")

    monkeypatch.setattr(Journal, "append", storage_broken)
    answer = world.get("o1", f"/api/v1/recordings/{rec}")
    assert (answer.status_code, answer.json()["error"]) == (503, "AccessNotRecorded")

    def crashed(*_args: object, **_kwargs: object) -> int:
        raise RuntimeError(f"secret detail {rec}")

    monkeypatch.setattr(Journal, "append", crashed)
    quiet = TestClient(world.client.app, raise_server_exceptions=False)
    answer = quiet.get(f"/api/v1/recordings/{rec}", headers=world.auth("o1"))
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error; the station's log has the cause", "error": "InternalError"}
    assert rec not in answer.text
    monkeypatch.undo()
    assert world.get("o1", f"/api/v1/recordings/{rec}").status_code == 200, "the log works again"
