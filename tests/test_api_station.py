"""The dock station's side of the HTTP API: clock reports (as the sidecar), health, Prometheus
metrics read from the catalog, and `evidock run` serving HTTP beside the loop until SIGTERM.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from access.people import Role
from evidock.api.factory import create_app
from evidock.api.listen import Listen
from evidock.api.server import HttpServer
from evidock.app import App
from evidock.settings import ConfigError
from storage import findings as findings_db
from storage import receipts as receipts_db
from tests import media
from tests.conftest import add_person, dock, free_port, station_env
from tests.test_api import DAY, _name

pytestmark = pytest.mark.s3


def _auth(name: str, token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Evidock-User": name}


def _shift(evi: App, inbox: Path, device: str, *, offset: timedelta) -> list[str]:
    """Three contiguous 3 s segments from 08:00 local, on a device clock ``offset`` off."""
    ids = []
    for seq, at in enumerate((0, 3, 6), start=1):
        start = DAY + timedelta(seconds=at) + offset
        path = media.clip(inbox / _name(device, start, seq), seconds=3, created=start, mark=f"{device}{seq}")
        ids.append(dock(evi, path))
    return ids


def _findings(evi: App, device: str) -> list[tuple[str, tuple[str, ...]]]:
    with evi.catalog.read() as conn:
        return sorted((f.kind, tuple(f.recordings)) for f in findings_db.listing(conn, device=device))


def test_a_clock_report_flags_recordings_as_the_sidecar_does(evi: App, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    fast = timedelta(seconds=90)
    by_sidecar = _shift(evi, inbox, "CAM71", offset=fast)
    by_api = _shift(evi, inbox, "CAM72", offset=fast)
    docked = DAY + timedelta(minutes=10)
    sidecar = inbox / "CAM71-081000.clock.json"
    sidecar.write_text(
        json.dumps({"device": "CAM71", "device_time": (docked + fast).isoformat(), "station_time": docked.isoformat()})
    )
    dock(evi, sidecar)

    client = TestClient(create_app(evi))
    token = add_person(evi.settings, "dock-01", Role.STATION)
    report = {
        "device": "CAM72",
        "device_time": (docked + fast).astimezone().isoformat(),
        "station_time": docked.isoformat(),
    }
    answer = client.post("/api/v1/station/clock", headers=_auth("dock-01", token), json=report)
    assert answer.status_code == 200, answer.text
    assert answer.json()["offset_ms"] == 90_000
    assert answer.json()["within_tolerance"] is False

    sidecar_found = _findings(evi, "CAM71")
    api_found = _findings(evi, "CAM72")
    assert [k for k, _ in sidecar_found] == ["clock_drift"] * 3
    assert [k for k, _ in api_found] == [k for k, _ in sidecar_found], "the same findings both ways"
    assert {r for _, (r,) in api_found} == set(by_api)
    assert {r for _, (r,) in sidecar_found} == set(by_sidecar)
    with evi.catalog.read() as conn:
        (row,) = findings_db.clock_reports_of(conn, "CAM72")
    assert (row["source"], row["offset_ms"]) == ("api", 90_000)

    # The sidecar's own rules refuse a time without an offset; only CLOCK holders may report.
    naive = {**report, "station_time": "2026-11-20T08:10:00"}
    refused = client.post("/api/v1/station/clock", headers=_auth("dock-01", token), json=naive)
    assert refused.status_code == 400
    assert "has no UTC offset" in refused.json()["detail"]
    officer = add_person(evi.settings, "o9", Role.OFFICER)
    assert client.post("/api/v1/station/clock", headers=_auth("o9", officer), json=report).status_code == 403
    assert client.post("/api/v1/station/clock", json=report).status_code == 401


def _metrics(client: TestClient) -> dict[str, float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            key = sample.name + (f"{{state={sample.labels['state']}}}" if "state" in sample.labels else "")
            found[key] = sample.value
    return found


def test_metrics_read_the_catalog(evi: App, tmp_path: Path) -> None:
    client = TestClient(create_app(evi))
    empty = _metrics(client)
    assert empty["evidock_ingest_queue_length"] == 0
    assert empty["evidock_recordings"] == 0
    assert empty["evidock_checkpoint_age_seconds"] == -1

    early = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday: the art. 26 label deadline passed long ago
    paths = [
        media.clip(
            tmp_path / "inbox" / _name("CAM73", early + timedelta(seconds=3 * n), n + 1), seconds=3, mark=f"m{n}"
        )
        for n in range(2)
    ]
    ids = [dock(evi, p) for p in paths]
    sizes = sum(p.stat().st_size for p in paths)
    # A file stopped for a person, and one received an hour ago and never stored (a crash, say).
    now = evi.now()
    with evi.catalog.begin() as conn:
        failed = receipts_db.create(
            conn,
            station="dock-test",
            folder=tmp_path,
            relative=Path("bad.mp4"),
            size=5,
            mtime_ns=1,
            inode=1,
            now=now,
        )
        receipts_db.advance(conn, failed, receipts_db.State.FAILED, now, error="test: refused")
        receipts_db.create(
            conn,
            station="dock-test",
            folder=tmp_path,
            relative=Path("slow.mp4"),
            size=7,
            mtime_ns=2,
            inode=2,
            now=now - timedelta(hours=1),
        )
    found = _metrics(client)
    assert found["evidock_receipts{state=released}"] == 2
    assert found["evidock_receipts{state=failed}"] == 1
    assert found["evidock_receipts{state=received}"] == 1
    assert found["evidock_ingest_queue_length"] == 1
    assert found["evidock_ingest_failures_total"] == 1
    assert found["evidock_ingested_bytes_total"] == sizes
    assert found["evidock_ingest_bytes_per_second"] == pytest.approx(sizes / 300)
    assert 3600 <= found["evidock_oldest_unverified_file_age_seconds"] < 3600 + 120
    assert found["evidock_recordings"] == 2
    assert found["evidock_labels_overdue"] == 2
    custodian = add_person(evi.settings, "c9", Role.CUSTODIAN)
    labelled = client.post(
        "/api/v1/labels",
        headers=_auth("c9", custodian),
        json={"recordings": [ids[0]], "case_number": "案2026-9", "parties": ["张三"], "handler": "李四"},
    )
    assert labelled.status_code == 200
    assert _metrics(client)["evidock_labels_overdue"] == 1


def test_a_port_in_use_is_a_clear_error(evi: App) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"could not listen on 127.0.0.1:{port}"):
            HttpServer(create_app(evi), Listen("127.0.0.1", port)).start()


def test_run_serves_health_api_and_pages_and_stops_on_sigterm(config_file: Path, s3_env: dict[str, str]) -> None:
    port = free_port()
    env = station_env(s3_env)
    service = subprocess.Popen(
        [sys.executable, "-m", "evidock.cli", "--config", str(config_file), "run", "--http-port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and service.poll() is None:
            try:
                answer = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx2.TransportError:
                time.sleep(0.2)
        if answer is None:
            _, err = service.communicate(timeout=30) if service.poll() is not None else (b"", b"no answer in 60 s")
            pytest.fail(f"evidock run did not serve /health: {err.decode()}")
        assert answer.status_code == 200
        assert answer.json()["status"] == "ok"
        assert "evidock_ingest_queue_length 0.0" in httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        api = httpx2.get(f"http://127.0.0.1:{port}/api/v1/recordings", timeout=5)
        assert api.status_code == 401
        assert api.json()["error"] == "NotAuthenticated"
        assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        # The same port serves the pages: the login page, in Chinese by default, with the pages' own CSP.
        page = httpx2.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="zh' in page.text
        assert "登录" in page.text
        assert "form-action 'self'" in page.headers["content-security-policy"]
        assert httpx2.get(f"http://127.0.0.1:{port}/recordings", timeout=5).status_code == 303  # to /login
        published = httpx2.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()["paths"]
        assert "/login" not in published
        assert all(path.startswith("/api/v1/") or path in ("/health", "/metrics") for path in published)
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=60)
        assert service.returncode == 0, err.decode()
        with pytest.raises(httpx2.TransportError):
            httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
