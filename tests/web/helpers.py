"""Driving the pages with FastAPI's TestClient: log in, read CSRF tokens, read back the log."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from chain.entries import Entry, EntryType, decode
from evidock.api.factory import create_app
from evidock.app import App
from evidock.settings import WebSettings
from evidock.web import standalone_app
from storage.schema import log_entries
from tests.web.world import PASSWORD

CSRF = re.compile(r'<input type="hidden" name="csrf" value="([^"]+)">')


def client(evi: App, options: WebSettings | None = None, *, base_url: str = "http://testserver") -> TestClient:
    """The application `evidock run` serves (pages and API); with ``options``, the pages alone with those options."""
    app = create_app(evi) if options is None else standalone_app(evi, options)
    return TestClient(app, base_url=base_url, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has a form with a CSRF token"
    return found.group(1)


def log_in(web: TestClient, name: str, secret: str = PASSWORD) -> None:
    token = csrf_of(web.get("/login").text)
    answer = web.post("/login", data={"name": name, "secret": secret, "csrf": token, "next": "/"})
    assert answer.status_code == 303, answer.text[:2000]


def logged_in(evi: App, name: str, options: WebSettings | None = None) -> TestClient:
    web = client(evi, options)
    log_in(web, name)
    return web


def entries_after(evi: App, index: int) -> list[tuple[int, Entry]]:
    with evi.catalog.read() as conn:
        rows = conn.execute(
            select(log_entries.c.idx, log_entries.c.data).where(log_entries.c.idx > index).order_by(log_entries.c.idx)
        ).all()
    return [(int(i), decode(bytes(d))) for i, d in rows]


def last_index(evi: App) -> int:
    found = entries_after(evi, -1)
    return found[-1][0] if found else -1


def accesses_after(evi: App, index: int) -> list[tuple[int, Entry]]:
    return [(i, e) for i, e in entries_after(evi, index) if e.type is EntryType.ACCESS]
