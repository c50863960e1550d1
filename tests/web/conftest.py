"""Fixtures of the page tests: one station per module, the pages served by TestClient or by uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from evidock.api.factory import create_app
from evidock.app import App
from tests.web.world import World, build, opened


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> World:
    return build(tmp_path_factory.mktemp("web"), s3_env)


@pytest.fixture(scope="module")
def evi(world: World) -> Iterator[App]:
    with opened(world) as app:
        yield app


CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's browser (scripts/install.sh); never `playwright install`


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, object]) -> dict[str, object]:
    """pytest-playwright launches Debian's chromium, the real binary behind /usr/bin/chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture(scope="module")
def site(evi: App) -> Iterator[str]:
    """What `evidock run` serves (pages and API), by uvicorn on a free port in a thread; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(create_app(evi), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 20 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
