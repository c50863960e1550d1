"""Every API route, its body and its query, fuzzed with Hypothesis: no 500, and the log still proves the catalog.

The routes are read from the application's own OpenAPI document, so a new
route is fuzzed without touching this file. Values are drawn per field from
a mix of hostile and plausible ones (text with any character, huge and
negative numbers, lists, wrong types, real recording ids and prefixes); a
body is sometimes any JSON at all. A custodian (who may do the most) and an
officer call each route. After the run, ``verify`` must pass: whatever the
fuzzing did store, it stored as the log says.

The budget is fixed (``EXAMPLES`` per route, no shrinking past a first
failure's report) so the whole file runs in `make test` in well under a minute.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from evidock import settings as settings_mod
from evidock.api.factory import create_app
from evidock.app import App, open_app
from evidock.keys import init_key
from evidock.login_backoff import Backoff
from evidock.verify import verify
from tests import media
from tests.conftest import add_people, dock, raw_config, staff, station_env, write_config

pytestmark = pytest.mark.s3

EXAMPLES = 25  # requests per route


@dataclass
class Station:
    evi: App
    vkey: str
    client: TestClient
    tokens: dict[str, str]
    recording: str


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> Iterator[Station]:
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "inbox").mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    loaded = settings_mod.load(config, station_env(s3_env))
    vkey, _ = init_key(loaded)
    with open_app(loaded) as evi:
        evi.log_key(vkey)
        start = datetime(2026, 11, 22, 1, tzinfo=UTC)
        clip = media.clip(
            tmp / "inbox" / f"CAM88_P8801_{start + timedelta(hours=8):%Y%m%d%H%M%S}_0001.mp4",
            seconds=1,
            created=start,
            mark=uuid.uuid4().hex,
        )
        rec = dock(evi, clip)
        tokens = add_people(loaded, staff("P8801"))
        client = TestClient(create_app(evi, backoff=Backoff(attempts=10_000)), raise_server_exceptions=False)
        yield Station(evi, vkey, client, tokens, rec)


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    from evidock.api.factory import application

    document = application().openapi()
    found = []
    for path, methods in sorted(document["paths"].items()):
        for method, operation in sorted(methods.items()):
            if path.startswith("/api/"):
                found.append((method, path, operation))
    return found


OPERATIONS = _operations()
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


def _values(recording: str) -> st.SearchStrategy[Any]:
    plausible = st.sampled_from(
        [
            recording,
            recording[:8],
            recording[:6],
            "ffffff",
            "copy",
            "download",
            "export",
            "internal",
            "party",
            "court",
            "2026-11-22",
            "2026-11-22T09:00:00+08:00",
            "张三",
            "permanent",
            "dvd",
            "stream",
            "view",
            "",
        ]
    )
    return st.one_of(
        plausible,
        TEXT,
        st.integers(min_value=-(2**63), max_value=2**63),
        st.booleans(),
        st.none(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.lists(st.one_of(plausible, TEXT), max_size=3),
    )


def _body(operation: dict[str, Any], recording: str) -> st.SearchStrategy[Any] | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    ref = content["schema"].get("$ref", "")
    from evidock.api.factory import application

    schema = application().openapi()["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    fields = {name: _values(recording) for name in schema.get("properties", {})}
    shaped = st.fixed_dictionaries({}, optional=fields)
    json_any = st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), TEXT),
        lambda inner: st.lists(inner, max_size=3),
        max_leaves=5,
    )
    return st.one_of(shaped, shaped, shaped, json_any)


def _query(operation: dict[str, Any], recording: str) -> st.SearchStrategy[dict[str, Any]]:
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    scalar = st.one_of(_values(recording).filter(lambda v: not isinstance(v, list)), TEXT)
    return st.fixed_dictionaries({}, optional={n: scalar.map(lambda v: "" if v is None else str(v)) for n in names})


def _path(path: str, recording: str) -> st.SearchStrategy[str]:
    pieces = st.one_of(
        st.sampled_from([recording, recording[:10], "1", "0", "-1", "99999999999999999999", "%00", "..", "a b"]),
        st.text(
            st.characters(codec="ascii", exclude_characters="/?#%", exclude_categories=["Cc"]), min_size=1, max_size=20
        ),
    )
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return st.fixed_dictionaries(dict.fromkeys(names, pieces)).map(lambda given: path.format(**given))


@pytest.mark.parametrize(("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_no_route_answers_500_to_anything(station: Station, method: str, path: str, operation: dict[str, Any]) -> None:
    body = _body(operation, station.recording)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        url=_path(path, station.recording),
        query=_query(operation, station.recording),
        payload=body if body is not None else st.none(),
        caller=st.sampled_from(["c1", "o1"]),
    )
    def call(url: str, query: dict[str, Any], payload: Any, caller: str) -> None:
        headers = {"Authorization": f"Bearer {station.tokens[caller]}", "X-Evidock-User": caller}
        kwargs: dict[str, Any] = {"params": query, "headers": headers}
        if body is not None:
            kwargs["json"] = payload
        answer = station.client.request(method.upper(), url, **kwargs)
        assert answer.status_code < 500, (method, url, query, payload, answer.status_code, answer.text[:500])
        if answer.status_code == 422:
            assert all(set(e) <= {"type", "loc", "msg"} for e in answer.json()["detail"]), "never the input"

    call()


def test_the_log_still_proves_the_catalog_after_the_fuzzing(station: Station) -> None:
    report = verify(station.evi, station.vkey)
    assert report.ok, [f.as_json() for f in report.failures]
