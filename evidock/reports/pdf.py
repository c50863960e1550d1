"""HTML to A4 PDF through Chromium's print-to-PDF (Playwright driving Debian's /usr/lib/chromium)."""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from chain.errors import EvidockError
from evidock.reports.anchor import ReportAnchor

CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's browser (scripts/install.sh); never `playwright install`
_FOOTER = (
    "<div style=\"width:100%;margin:0 12mm;font-family:'WenQuanYi Zen Hei',sans-serif;font-size:7pt;color:#333\">"
    "<div>{label} {origin} · {size_label} {size} · {root_label} {root}</div>"
    '<div style="display:flex;justify-content:space-between"><span>{key_label} {fingerprint}</span>'
    '<span><span class="pageNumber"></span> / <span class="totalPages"></span></span></div>'
    "</div>"
)
_FOOTER_TEXT = {
    "zh": ("检查点", "大小", "根", "公钥指纹"),
    "en": ("checkpoint", "size", "root", "key fingerprint"),
}


_PRINTING = threading.Lock()
"""One Chromium at a time: the web pages may ask for PDFs in parallel, and a station has few cores."""


class ReportError(EvidockError):
    """The PDF could not be made (no browser, or the file cannot be written)."""


def footer_html(anchor: ReportAnchor, lang: str) -> str:
    label, size_label, root_label, key_label = _FOOTER_TEXT[lang]
    return _FOOTER.format(
        label=label,
        origin=anchor.origin,
        size_label=size_label,
        size=anchor.size,
        root_label=root_label,
        root=anchor.root_hex,
        key_label=key_label,
        fingerprint=anchor.fingerprint,
    )


def print_pdf(html: str, footer: str) -> bytes:
    """``html`` printed by Chromium: A4, ``footer`` on every page.

    Playwright's sync API refuses to run in a thread with a running asyncio loop
    (an async caller, or a test runner's browser session), so it runs in a thread of its own.
    """
    with _PRINTING, ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidock-pdf") as printer:
        return printer.submit(_print, html, footer).result()


def _print(html: str, footer: str) -> bytes:
    from playwright.sync_api import Error as PlaywrightError  # noqa: PLC0415 - only a PDF pays for it
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - same

    try:
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM)
            try:
                page = browser.new_page()
                page.set_content(html, wait_until="load")
                return page.pdf(
                    format="A4",
                    print_background=True,
                    display_header_footer=True,
                    header_template="<span></span>",
                    footer_template=footer,
                    margin={"top": "14mm", "bottom": "18mm", "left": "12mm", "right": "12mm"},
                )
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise ReportError(f"Chromium could not print the report ({CHROMIUM}): {exc.message.splitlines()[0]}") from exc


def write_pdf(html: str, footer: str, target: Path) -> int:
    """Print ``html`` to ``target`` (A4, ``footer`` on every page), atomically; returns the byte count."""
    target = target.resolve()
    if not target.parent.is_dir():
        raise ReportError(f"--pdf {target}: folder {target.parent} does not exist")
    data = print_pdf(html, footer)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(data)
