"""A form post is authenticated before its body is read (issue 19: memory before authentication).

Driven at the ASGI level against the application `evidock run` serves, with a
``receive`` that records every call: a post without a logged-in session is
answered (login redirect, 403, 413) without a single call to ``receive``, so
no byte of its body was taken, however large it claims to be. The same post
with a logged-in session does read its body (the test would see it).
A real `evidock run` process then gets a 300 MiB form post without a session:
refused at once (303, not the 413 that reading past 1 MiB would give), its
memory flat (tests/test_body_limit.py does the same for the API).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidock.api.factory import create_app
from evidock.app import App
from evidock.web.site import LOGIN_BODY_BYTES, SESSION_COOKIE
from tests.test_body_limit import BODY_BYTES, CHUNK, GROWTH_LIMIT, _memory, service
from tests.web.helpers import csrf_of, log_in

pytestmark = pytest.mark.s3
__all__ = ["service"]  # the real `evidock run` of tests/test_body_limit.py

DECLARED = 300 * 1024 * 1024  # what the posts claim to carry
FORMS = ["/access/request", "/access/1/decide", "/export", "/logout", "/verify", "/recordings/abc123/label"]


class _Post:
    """One POST through the ASGI app; ``reads`` counts the app's calls for the body."""

    def __init__(self, app: Any, path: str, *, cookie: str | None, length: int = DECLARED) -> None:
        self.app, self.path, self.cookie, self.length = app, path, cookie, length
        self.reads = 0
        self.status = 0
        self.headers: dict[str, str] = {}

    async def _receive(self) -> dict[str, Any]:
        self.reads += 1
        return {"type": "http.request", "body": b"csrf=x&reason=y", "more_body": False}

    async def _send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message["headers"]}

    def run(self) -> _Post:
        headers = [
            (b"host", b"testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(self.length).encode()),
        ]
        if self.cookie is not None:
            headers.append((b"cookie", f"{SESSION_COOKIE}={self.cookie}".encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        with ThreadPoolExecutor(1) as own_loop:  # a browser test may have left this thread's loop running
            own_loop.submit(asyncio.run, self.app(scope, self._receive, self._send)).result()
        return self


@pytest.fixture(scope="module")
def app(evi: App) -> Any:
    return create_app(evi)


def test_a_post_without_a_logged_in_session_is_refused_unread(app: Any) -> None:
    for path in FORMS:
        for cookie in (None, "not-a-session"):
            post = _Post(app, path, cookie=cookie, length=1000).run()  # under the 1 MiB limit: only the session decides
            assert (post.status, post.reads) == (303, 0), (path, cookie)
            assert post.headers["location"].startswith("/login?next=")


def test_a_login_post_needs_its_pages_session_and_a_small_body(app: Any) -> None:
    assert _Post(app, "/login", cookie=None, length=100).run().reads == 0
    assert _Post(app, "/login", cookie=None, length=100).run().status == 403
    anonymous = TestClient(app, follow_redirects=False)  # sessions live in the app that made them
    csrf_of(anonymous.get("/login").text)
    session = anonymous.cookies[SESSION_COOKIE]
    big = _Post(app, "/login", cookie=session, length=LOGIN_BODY_BYTES + 1).run()
    assert (big.status, big.reads) == (413, 0)
    small = _Post(app, "/login", cookie=session, length=100).run()
    assert small.reads >= 1, "a login form of the page's session is read"
    assert small.status == 403  # its CSRF token ("x") is wrong


def test_a_logged_in_post_is_read_as_before(app: Any) -> None:
    web = TestClient(app, follow_redirects=False)
    log_in(web, "wang.wu")
    post = _Post(app, "/access/request", cookie=web.cookies[SESSION_COOKIE], length=100).run()
    assert post.reads >= 1, "the body of a logged-in person's form is read"
    assert post.status == 403  # then refused for its wrong CSRF token, as before


def _post_big_form(port: int) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:

        def chunks() -> Iterator[bytes]:
            yield b"csrf=x&reason="
            for _ in range(BODY_BYTES // len(CHUNK)):
                yield b"a" * len(CHUNK)

        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        with contextlib.suppress(OSError):  # the server answered and closed early
            conn.request("POST", "/access/request", body=chunks(), headers=headers, encode_chunked=True)
        try:
            return conn.getresponse().status
        except (OSError, http.client.HTTPException):
            return None
    finally:
        conn.close()


def test_a_300_mib_form_post_without_a_session_leaves_the_servers_memory_flat(
    service: tuple[subprocess.Popen[bytes], int, str],
) -> None:
    proc, port, _ = service
    assert _post_big_form(port) in (303, None)  # warm the route up
    before = _memory(proc.pid, "VmHWM")
    assert _post_big_form(port) == 303, "refused before the body: no 413 from reading past the limit"
    assert proc.poll() is None
    after = _memory(proc.pid, "VmHWM")
    assert after - before < GROWTH_LIMIT, (before, after)
