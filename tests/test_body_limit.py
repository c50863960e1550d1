"""A 300 MiB request body against `evidock run` itself (a real uvicorn process): memory stays flat.

Without credentials the body is refused before a byte is read (401); with
valid credentials it is counted as it streams and refused past the limit
(413); a declared ``Content-Length`` above the limit is refused at once. The
server's resident memory (``VmHWM``, the peak, from /proc) must not grow by
more than ``GROWTH_LIMIT`` over the three.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from access.people import Role
from evidock import settings as settings_mod
from evidock.api.intake import MAX_BODY_BYTES
from tests.conftest import add_person, free_port, station_env

pytestmark = pytest.mark.s3

BODY_BYTES = 300 * 1024 * 1024
CHUNK = b" " * (1024 * 1024)  # JSON whitespace: a body that parses until the very end
GROWTH_LIMIT = 50 * 1024  # KiB


def _memory(pid: int, field: str) -> int:
    """VmRSS or VmHWM of ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _chunks() -> Iterator[bytes]:
    yield b'{"recordings": ["x"], "action": "download", "reason": "'
    for _ in range(BODY_BYTES // len(CHUNK)):
        yield CHUNK
    yield b'"}'


def _post(port: int, headers: dict[str, str], *, declared: int | None = None) -> int | None:
    """POST the big body in chunks; the status, or None when the server closed before answering."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        sent = {**headers, "Content-Type": "application/json"}
        if declared is not None:
            conn.putrequest("POST", "/api/v1/access-requests")
            for key, value in {**sent, "Content-Length": str(declared)}.items():
                conn.putheader(key, value)
            conn.endheaders()
            try:
                for chunk in _chunks():
                    conn.send(chunk)
            except OSError:
                pass  # the server answered and closed: the rest was never taken
        else:
            with contextlib.suppress(OSError):  # the server answered and closed early
                conn.request("POST", "/api/v1/access-requests", body=_chunks(), headers=sent, encode_chunked=True)
        try:
            return conn.getresponse().status
        except (OSError, http.client.HTTPException):
            return None
    finally:
        conn.close()


@pytest.fixture
def service(config_file: Path, s3_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], int, str]]:
    settings = settings_mod.load(config_file, station_env(s3_env))
    token = add_person(settings, "c9", Role.CUSTODIAN)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evidock.cli", "--config", str(config_file), "run", "--http-port", str(port)],
        env=station_env(s3_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                httpx2.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx2.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail(f"evidock run did not serve: {proc.stderr.read().decode() if proc.stderr else ''}")
        yield proc, port, token
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_a_300_mib_body_leaves_the_servers_memory_flat(service: tuple[subprocess.Popen[bytes], int, str]) -> None:
    proc, port, token = service
    # Warm up the routes once (imports, first answers) so the measurement sees only the big bodies.
    small = httpx2.post(f"http://127.0.0.1:{port}/api/v1/access-requests", content=b"{}", timeout=10)
    assert small.status_code == 401
    before_rss, before_peak = _memory(proc.pid, "VmRSS"), _memory(proc.pid, "VmHWM")

    assert _post(port, {}) in (401, None), "no credentials: refused before the body is read"
    auth = {"Authorization": f"Bearer {token}", "X-Evidock-User": "c9"}
    assert _post(port, auth) in (413, None), "valid credentials: refused once the body passes the limit"
    assert _post(port, auth, declared=BODY_BYTES) in (413, None)
    assert proc.poll() is None, "the service is still running"

    after_rss, after_peak = _memory(proc.pid, "VmRSS"), _memory(proc.pid, "VmHWM")
    sys.stderr.write(f"RSS {before_rss} -> {after_rss} KiB; peak {before_peak} -> {after_peak} KiB\n")
    assert after_peak - before_peak < GROWTH_LIMIT, (before_peak, after_peak)
    assert after_rss - before_rss < GROWTH_LIMIT, (before_rss, after_rss)
    # The service still answers, and a small body is read as before.
    ok = httpx2.post(
        f"http://127.0.0.1:{port}/api/v1/access-requests",
        headers={**auth, "Content-Type": "application/json"},
        content=json.dumps({"recordings": ["ffffff"], "action": "download", "reason": "x"}).encode(),
        timeout=10,
    )
    assert ok.status_code == 404, ok.text  # parsed and checked: no such recording


def test_the_refusals_say_what_happened(service: tuple[subprocess.Popen[bytes], int, str]) -> None:
    _, port, token = service
    base = f"http://127.0.0.1:{port}"
    declared = httpx2.post(
        f"{base}/api/v1/access-requests",
        headers={"Authorization": f"Bearer {token}", "X-Evidock-User": "c9", "Content-Length": str(MAX_BODY_BYTES + 1)},
        content=b"x" * (MAX_BODY_BYTES + 1),
        timeout=30,
    )
    assert declared.status_code == 413
    assert declared.json()["error"] == "BodyTooLarge"
    assert declared.headers["x-content-type-options"] == "nosniff"
    anonymous = httpx2.post(f"{base}/api/v1/access-requests", content=b"{not json", timeout=10)
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "NotAuthenticated"), "401 before parsing"
