"""`evidock derived` and `evidock redact`, and the same under /api/v1, as people use them (real S3, real ffmpeg).

The CLI runs in-process (``main(argv)``) as custodians with API tokens; the
API answers through FastAPI's TestClient with the same tokens. Each redaction
step is a REDACTION entry by the person acting; reads of derived files and
redactions are QUERY entries; a preview is an ACCESS entry.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidock import settings as settings_mod
from evidock.api.factory import create_app
from evidock.app import open_app, retention_context
from evidock.cli import main
from evidock.keys import init_key
from evidock.settings import Settings
from retention import labelling
from storage import journal
from tests import media
from tests.conftest import add_person, dock, raw_config, station_env, use, write_config

pytestmark = pytest.mark.s3

CASE = "京朝公(治)行罚决字[2026]18号"


@dataclass
class World:
    settings: Settings
    config: Path
    tmp: Path
    tokens: dict[str, str]
    video: str
    second: str

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}", "X-Evidock-User": name}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> World:
    tmp = tmp_path_factory.mktemp("derived-commands")
    inbox = tmp / "inbox"
    inbox.mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    settings = settings_mod.load(config, station_env(s3_env))
    vkey, _ = init_key(settings)
    tokens = {name: add_person(settings, name, "custodian") for name in ("c1", "c2")}
    with open_app(settings) as evi:
        evi.log_key(vkey)
        video = dock(evi, media.clip(inbox / "CAM05_P1005_20261120080000_0001.mp4", seconds=3, size="320x240",
                                     mark=str(tmp)))  # fmt: skip
        second = dock(evi, media.hevc_clip(inbox / "CAM06_P1006_20261120080000_0001.mp4", seconds=2, mark=str(tmp)))
        labelling.label(retention_context(evi), [video, second], case_number=CASE, parties=["张三"], handler="李四",
                        by="c1", now=evi.now())  # fmt: skip
        evi.proxy_worker().run()
    return World(settings, config, tmp, tokens, video, second)


@pytest.fixture
def run(
    world: World, monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> Any:
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])

    def as_(name: str, *argv: str) -> tuple[int, str, str]:
        use(monkeypatch, name, world.tokens[name])
        code = main(["--config", str(world.config), *argv])
        got = capsys.readouterr()
        return code, got.out, got.err

    return as_


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with open_app(world.settings, ensure_bucket=False) as evi:
        yield TestClient(create_app(evi))


def _log_types(world: World, after: int) -> list[tuple[str, str | None]]:
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        found = [journal.entry_at(conn, i) for i in range(after, journal.size(conn))]
    return [(e.type.value, str(e.body.get("action")) if "action" in e.body else None) for e in found]


def _size(world: World) -> int:
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        return journal.size(conn)


def test_the_redaction_commands_from_draft_to_delivery(world: World, run: Any, tmp_path: Path) -> None:
    code, out, err = run("c1", "access", "request", world.video[:12], "--action", "copy", "--category", "party",
                         "--party", "张三", "--document", "申请书 18", "--reason", "当事人申请", "--json")  # fmt: skip
    assert code == 0, err
    request = json.loads(out)["id"]
    assert run("c2", "access", "approve", str(request), "--reason", "批准")[0] == 0
    code, _, err = run("c1", "recordings", "get", world.video[:12], "--request", str(request), "--out",
                       str(tmp_path / "refused.mp4"))  # fmt: skip
    assert code == 1
    assert "approved redacted copy" in err

    start = _size(world)
    code, out, err = run("c1", "redact", "new", world.video[:12], "--mute", "0.5-1.5", "--bleep", "2-2.5",
                         "--blur", "40,30,120,90@0-2", "--request", str(request), "--reason", "遮挡路人",
                         "--json")  # fmt: skip
    assert code == 0, err
    number = json.loads(out)["id"]
    assert json.loads(out)["spec"] == {
        "v": 1,
        "audio": [{"from_ms": 500, "to_ms": 1500, "sound": "mute"}, {"from_ms": 2000, "to_ms": 2500, "sound": "bleep"}],
        "video": [{"from_ms": 0, "to_ms": 2000, "box": [40, 30, 120, 90]}],
    }
    code, out, err = run("c1", "redact", "preview", str(number), "--at", "1", "--out", str(tmp_path / "f.png"))
    assert code == 0, err
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert run("c1", "redact", "submit", str(number))[0] == 0
    code, _, err = run("c1", "redact", "approve", str(number), "--reason", "自批")
    assert code == 1
    assert "two-person rule" in err
    assert run("c2", "redact", "approve", str(number), "--reason", "已核对")[0] == 0
    code, out, err = run("c1", "redact", "render", str(number), "--json")
    assert code == 0, err
    made = json.loads(out)
    code, out, err = run("c1", "recordings", "get", world.video[:12], "--request", str(request), "--out",
                         str(tmp_path / "party.mp4"))  # fmt: skip
    assert code == 0, err
    assert f"saved the redacted copy (DERIVED entry {made['entry']})" in out
    assert made["sha256"] in out

    code, out, err = run("c1", "derived", "show", str(made["entry"]))
    assert code == 0, err
    assert f"original SHA-256  {world.video}" in out
    assert "ffmpeg version" in out
    assert "approved by c2" in out
    code, out, err = run("c2", "derived", "list", "--kind", "redacted", "--json")
    assert code == 0, err
    assert [d["entry"] for d in json.loads(out)["derived"]] == [made["entry"]]
    code, out, err = run("c2", "redact", "list", "--recording", world.video[:12])
    assert code == 0, err
    assert "rendered" in out
    assert _log_types(world, start) == [
        ("REDACTION", "draft"),
        ("ACCESS", "view"),  # the preview
        ("REDACTION", "submit"),
        ("REDACTION", "approve"),
        ("DERIVED", None),
        ("ACCESS", "copy"),
        ("ACCESS", "query"),  # derived show
        ("ACCESS", "query"),  # derived list
        ("ACCESS", "query"),  # redact list
    ]


def test_a_bad_spec_is_refused_naming_what_to_fix(world: World, run: Any) -> None:
    code, _, err = run("c1", "redact", "new", world.video[:12], "--blur", "40,30,120@0-2", "--reason", "x")
    assert code == 1
    assert "write X,Y,WIDTH,HEIGHT@FROM-TO" in err
    code, _, err = run("c1", "redact", "new", world.video[:12], "--mute", "5-9", "--reason", "x")
    assert code == 1
    assert "audio[0]: from_ms 5000 is past the recording's end (3000 ms)" in err


def test_the_api_does_the_same(world: World, client: TestClient) -> None:
    listed = client.get("/api/v1/derived", headers=world.auth("c1"), params={"kind": "proxy"})
    assert listed.status_code == 200, listed.text
    (proxy,) = listed.json()["derived"]
    assert proxy["recording"] == world.second
    shown = client.get(f"/api/v1/derived/{proxy['entry']}", headers=world.auth("c1"))
    assert shown.json()["sha256"] == proxy["sha256"]

    spec = {"video": [{"from_ms": 0, "to_ms": 1000, "keyframes": [
        {"at_ms": 0, "box": [0, 0, 64, 64]}, {"at_ms": 1000, "box": [200, 100, 64, 64]}]}]}  # fmt: skip
    drafted = client.post("/api/v1/redactions", headers=world.auth("c1"),
                          json={"recording": world.second[:12], "spec": spec, "reason": "移动的路人"})  # fmt: skip
    assert drafted.status_code == 200, drafted.text
    number = drafted.json()["id"]
    picture = client.post(f"/api/v1/redactions/{number}/preview", headers=world.auth("c1"), json={"at_ms": 500})
    assert picture.status_code == 200, picture.text
    assert picture.headers["content-type"] == "image/png"
    assert picture.content[:4] == b"\x89PNG"
    assert client.post(f"/api/v1/redactions/{number}/submit", headers=world.auth("c1")).status_code == 200
    refused = client.post(f"/api/v1/redactions/{number}/approve", headers=world.auth("c1"), json={"reason": "自批"})
    assert refused.status_code == 403
    approved = client.post(f"/api/v1/redactions/{number}/approve", headers=world.auth("c2"), json={"reason": "可以"})
    assert approved.json()["state"] == "approved"
    rendered = client.post(f"/api/v1/redactions/{number}/render", headers=world.auth("c1"))
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["kind"] == "redacted"
    assert client.get(f"/api/v1/redactions/{number}", headers=world.auth("c2")).json()["state"] == "rendered"
