"""The disc label sheets (art. 27: 制作人, 提取人, 提取时间) as one A4 PDF, read back from the finished images.

The sheet printed is the one on the disc: ``LABEL.html`` is read out of each
ISO image, not made again, so paper and disc cannot differ. Each disc's sheet
starts a new page. The footer names the checkpoint the discs carry
(``log/checkpoint.txt``), after its signature was checked with the station's
verifier key; discs of one export share that checkpoint.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from chain.checkpoint import Checkpoint, verify_note
from chain.errors import EvidockError
from evidock.reports.anchor import ReportAnchor
from evidock.reports.documents import Printable
from evidock.reports.pdf import ReportError, footer_html
from retention.export.verify_disc import CHECKPOINT, LABEL_HTML, fingerprint

_PAGE_BREAK = '<div style="break-before: page"></div>'


def _read(image: Path, path: str) -> bytes:
    iso = pycdlib.PyCdlib()
    try:
        iso.open(str(image))
        try:
            out = io.BytesIO()
            iso.get_file_from_iso_fp(out, rr_path=f"/{path}")
            return out.getvalue()
        finally:
            iso.close()
    except (OSError, PyCdlibException) as exc:
        raise ReportError(f"{image}: cannot read {path} from the disc image: {exc}") from exc


def _parts(page: str, image: Path) -> tuple[str, str]:
    """The head (up to and with ``<body>``) and the body's content of one LABEL.html."""
    head, found, rest = page.partition("<body>")
    body, closed, _ = rest.partition("</body>")
    if not found or not closed:
        raise ReportError(f"{image}: {LABEL_HTML} is not the label sheet evidock writes (no <body>)")
    return head + found, body


def label_sheets(images: Sequence[Path], vkey: str, *, lang: str = "zh") -> Printable:
    """The label sheets of ``images`` (disc 1 first), one page each, with the discs' checkpoint in the footer."""
    if not images:
        raise ReportError("no disc images to print label sheets for")
    heads, bodies, points = [], [], set[Checkpoint]()
    for image in images:
        head, body = _parts(_read(image, LABEL_HTML).decode("utf-8"), image)
        heads.append(head)
        bodies.append(body)
        try:
            points.add(verify_note(_read(image, CHECKPOINT).decode("utf-8"), vkey))
        except (EvidockError, UnicodeDecodeError) as exc:
            raise ReportError(f"{image}: its checkpoint is not signed by this station's key: {exc}") from exc
    if len(points) != 1:
        raise ReportError(f"the images carry {len(points)} different checkpoints: give the discs of one export")
    (point,) = points
    anchor = ReportAnchor(point.origin, point.size, point.root.hex(), fingerprint(vkey))
    html = heads[0] + _PAGE_BREAK.join(bodies) + "</body></html>\n"
    return Printable(html, footer_html(anchor, lang))
