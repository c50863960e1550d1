"""/docs (Swagger UI) and /redoc under their CSP in Debian's Chromium: they still render, and nothing is blocked.

The pages' scripts come from the package (fastapi_offline), the inline
bootstrap script is allowed by its hash; a CSP violation shows in the console.
Only loads from other origins may be refused.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.mark.parametrize(("path", "rendered"), [("/docs", ".swagger-ui .info .title"), ("/redoc", ".api-info h1")])
def test_the_api_documentation_works_under_its_csp(browser: Browser, site: str, path: str, rendered: str) -> None:
    page = browser.new_page()
    complaints: list[str] = []
    page.on("console", lambda message: complaints.append(_text(message)))
    answer = page.goto(f"{site}{path}")
    assert answer is not None
    csp = answer.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp
    expect(page.locator(rendered)).to_contain_text("evidock API", timeout=30_000)
    page.close()
    blocked = [c for c in complaints if "Content Security Policy" in c or "Refused to" in c]
    # Only loads from elsewhere may be blocked (ReDoc's footer logo from its CDN: a station is offline anyway).
    ours = [c for c in blocked if not re.search(r"'https?://(?!127\.0\.0\.1)", c)]
    assert ours == [], ours


def _text(message: ConsoleMessage) -> str:
    return f"{message.type}: {message.text}"
