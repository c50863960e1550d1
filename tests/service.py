"""A real `evidock run` subprocess for tests: start it, wait for HTTP, read its catalog, stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import create_engine, select

from storage.schema import receipts


class Service:
    """``evidock run`` with HTTP on ``port``; its stderr goes to a file the test reads."""

    def __init__(self, config: Path, env: dict[str, str], port: int, *, log_file: Path) -> None:
        self.port = port
        self.log_file = log_file
        self._log = log_file.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evidock.cli", "--config", str(config), "run", "--http-port", str(port)],
            env={**env, "EVIDOCK_LOG_LEVEL": "INFO"},
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def wait_http(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(f"evidock run exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                httpx2.get(f"{self.url}/health", timeout=5)
                return
            except httpx2.TransportError:
                time.sleep(0.2)
        pytest.fail(f"evidock run did not serve /health within {timeout} s")

    def stop(self) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def receipt_rows(db: Path) -> list[dict[str, object]]:
    """Every receipt as a dict (name decoded), read straight from the SQLite catalog."""
    if not db.exists():
        return []
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(receipts).order_by(receipts.c.id)).all()
    finally:
        engine.dispose()
    return [{**r._mapping, "name": os.fsdecode(r.rel_path)} for r in rows]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 90.0, service: Service | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if service is not None and not service.alive():
            code = service.process.returncode
            pytest.fail(f"evidock run exited ({code}) before {what}:\n{service.log_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"not within {timeout} s: {what}")
