"""`/health` under each fault: the object store down, the catalog broken, a file waiting too long,
low disk space; only the status without login; and `evidock run` starting with S3 unreachable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient

from evidock import health
from evidock.api.factory import create_app
from evidock.app import App, open_app
from evidock.settings import HealthSettings, Settings
from storage import receipts as receipts_db
from storage.objects import ObjectStore
from tests.conftest import add_person, free_port, raw_config, sqlite_only, station_env, write_config
from tests.service import Service, receipt_rows, wait_until

pytestmark = pytest.mark.s3


def _login(settings: Settings) -> dict[str, str]:
    token = add_person(settings, "watcher", "auditor")
    return {"Authorization": f"Bearer {token}", "X-Evidock-User": "watcher"}


def _health(evi: App, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    answer = TestClient(create_app(evi)).get("/health", headers=headers or {})
    return answer.status_code, answer.json()


def test_all_well_without_login_says_only_ok(evi: App) -> None:
    code, body = _health(evi)
    assert (code, body) == (200, {"status": "ok"})
    code, body = _health(evi, _login(evi.settings))
    assert code == 200
    assert body["status"] == "ok"
    assert body["reasons"] == []
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert checks["object_store"] == {"ok": True, "bucket": evi.settings.s3.bucket, "object_lock": True}
    assert checks["ingest"]["quarantined"] == 0


def test_wrong_credentials_are_refused_not_ignored(evi: App) -> None:
    answer = TestClient(create_app(evi)).get(
        "/health", headers={"Authorization": "Bearer evk_x", "X-Evidock-User": "x"}
    )
    assert answer.status_code == 401


def test_object_store_down_is_degraded_and_names_nothing_without_login(evi: App) -> None:
    s3 = evi.settings.s3
    nowhere = ObjectStore.connect(
        host=f"127.0.0.1:{free_port()}",  # nothing listens there
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        bucket=s3.bucket,
        region=s3.region,
    )
    down = App(evi.settings, nowhere, evi.catalog, evi.journal)
    answer = TestClient(create_app(down)).get("/health")
    assert (answer.status_code, answer.json()) == (503, {"status": "degraded"})
    assert s3.bucket not in answer.text
    code, body = _health(down, _login(evi.settings))
    assert code == 503
    reasons = body["reasons"]
    assert isinstance(reasons, list)
    assert len(reasons) == 1
    assert reasons[0].startswith("object store: cannot reach bucket")
    assert s3.secret_key not in str(body)


@sqlite_only  # breaks the SQLite file's header
def test_a_broken_catalog_is_degraded(settings: Settings) -> None:
    headers = _login(settings)
    with open_app(settings) as evi:
        client = TestClient(create_app(evi))
        assert client.get("/health", headers=headers).status_code == 200
        db = Path(settings.database_url.removeprefix("sqlite:///"))
        evi.catalog.engine.dispose()
        with db.open("r+b") as f:  # the header of the SQLite file destroyed, as a bad disk would
            f.write(os.urandom(100))
        for extra in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            extra.unlink(missing_ok=True)
        answer = client.get("/health")
        assert (answer.status_code, answer.json()) == (503, {"status": "degraded"})
        # Nobody can be authenticated against a broken catalog: a logged-in caller gets the status alone.
        answer = client.get("/health", headers=headers)
        assert (answer.status_code, answer.json()) == (503, {"status": "degraded"})
        report = _report_of(evi)
        assert any(r.startswith("catalog: catalog read failed") for r in report.reasons), report.reasons
        assert report.checks["database"]["ok"] is False


def _report_of(evi: App) -> health.Health:
    return health.check(evi, now=evi.now())


def test_a_file_waiting_too_long_is_degraded(evi: App) -> None:
    headers = _login(evi.settings)
    old = datetime.now(UTC) - timedelta(minutes=evi.settings.health.waiting_limit_minutes + 5)
    with evi.catalog.begin() as conn:
        receipts_db.create(
            conn,
            station=evi.settings.station_id,
            folder=evi.settings.watch.folders[0],
            relative=Path("CAM01_P1_20261120080000_0001.mp4"),
            size=10,
            mtime_ns=1,
            inode=1,
            now=old,
        )
    code, body = _health(evi, headers)
    assert code == 503
    assert body["reasons"] == [
        f"ingest: the oldest waiting file was received 35 min ago (limit {evi.settings.health.waiting_limit_minutes} "
        "min); 1 file(s) wait"
    ]


def test_low_disk_space_is_degraded(evi: App) -> None:
    headers = _login(evi.settings)
    free = os.statvfs(evi.settings.watch.folders[0])
    free_mib = free.f_bavail * free.f_frsize // (1024 * 1024)
    tight = dataclasses.replace(evi.settings, health=HealthSettings(min_free_mib=free_mib + 10_000))
    code, body = _health(App(tight, evi.store, evi.catalog, evi.journal), headers)
    assert code == 503
    reasons = body["reasons"]
    assert isinstance(reasons, list)
    inbox = str(evi.settings.watch.folders[0])
    assert any(r.startswith(f"disk: {inbox} has ") and r.endswith(f"(below {free_mib + 10_000} MiB)") for r in reasons)


class Forwarder:
    """A TCP port that, once opened, forwards to the real S3 server: 'the object store comes back'.

    Also used by tests/test_bureau_faults.py to take a station's object store away for a while (``cut``).
    """

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self.target = target
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()  # live connections, both sides

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            source.close()  # the other direction's thread closes the other socket

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it; close() alone would not
            self._listener.close()

    def cut(self) -> None:
        """'The object store is gone': refuse new connections and break the live ones (reopen with ``open``)."""
        self.close()
        for s in list(self._open):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._open.clear()


@pytest.fixture
def forwarder(s3_env: dict[str, str]) -> Iterator[Forwarder]:
    host, port = s3_env["S3_ENDPOINT"].split("://", 1)[1].rsplit(":", 1)
    forward = Forwarder(free_port(), (host, int(port)))
    yield forward
    forward.close()


@pytest.mark.slow
@sqlite_only  # reads the receipts from the SQLite file
def test_run_starts_with_the_object_store_down_serves_pages_and_retries(
    tmp_path: Path, s3_env: dict[str, str], bucket: str, forwarder: Forwarder
) -> None:
    (tmp_path / "inbox").mkdir()
    raw = raw_config(
        tmp_path,
        bucket,
        f"http://127.0.0.1:{forwarder.port}",  # closed until the test opens it
        watch={"retry_seconds": 1},
        checks={"deep_scan": False},
    )
    config = write_config(tmp_path / "config.toml", raw)
    env = station_env(s3_env)
    clip = tmp_path / "inbox" / "CAM03_P1003_20261120080619_0001.mp4"
    clip.write_bytes(os.urandom(4096))
    service = Service(config, env, free_port(), log_file=tmp_path / "run.log")
    try:
        service.wait_http()
        health = httpx2.get(f"{service.url}/health", timeout=30)
        assert (health.status_code, health.json()) == (503, {"status": "degraded"})
        assert httpx2.get(f"{service.url}/login", timeout=10).status_code == 200
        assert "object store is unreachable" in service.log_text()
        assert receipt_rows(tmp_path / "evidock.db") == []  # nothing taken while it cannot be stored

        forwarder.open()
        wait_until(
            lambda: [r["state"] for r in receipt_rows(tmp_path / "evidock.db")] == ["released"],
            "the file ingested once the object store answers",
            service=service,
        )
        assert httpx2.get(f"{service.url}/health", timeout=30).json() == {"status": "ok"}
    finally:
        assert service.stop() == 0, service.log_text()[-3000:]
