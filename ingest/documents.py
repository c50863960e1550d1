"""Case documents recognised by their first bytes: PDF, OFD, office files.

Art. 3/5 of the recording rules make written records (执法文书, electronic
ones included) the basic record and audio-video the auxiliary one, so a
station also docks PDFs, OFD files (GB/T 33190, the national format for
electronic documents: a zip with ``OFD.xml`` at its root), office documents
(OOXML zips, and the older OLE2 compound files of Word, Excel and WPS) and
scans. They are stored, labelled and exported like recordings, with the kind
``document``. Scanned images are told apart from photos in ``ingest.probe``.

The page count is given only where it is cheap: a PDF's page objects counted
in its first ``PDF_SCAN_LIMIT`` bytes (none when its pages sit in compressed
object streams), an OFD's ``Page`` entries, a Word file's ``docProps/app.xml``.
Nothing here raises for a damaged file: it is then simply not a document.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

PDF_SCAN_LIMIT: Final = 64 * 1024 * 1024  # bytes read to count a PDF's pages; a larger file's count is not cheap
XML_LIMIT: Final = 4 * 1024 * 1024  # bytes read of one zip member (a zip bomb inflates no further)
OLE2_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OLE2_FORMATS: Final = {"doc": "doc", "xls": "xls", "ppt": "ppt", "wps": "wps", "et": "et", "dps": "dps"}
OOXML_PARTS: Final = (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"))

_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z0-9])")
_OFD_DOC_ROOT = re.compile(r"<(?:\w+:)?DocRoot>\s*([^<\s]+)\s*</(?:\w+:)?DocRoot>")
_OFD_PAGE = re.compile(r"<(?:\w+:)?Page\b")
_DOCX_PAGES = re.compile(r"<Pages>(\d+)</Pages>")


@dataclass(frozen=True)
class DocumentFacts:
    format: str  # "pdf", "ofd", "docx", "xlsx", "pptx", "doc", "xls", "wps", "ole2", …
    pages: int | None = None


def sniff_document(path: Path) -> DocumentFacts | None:
    """The document format of ``path`` by its content, or None if it is not a case document."""
    try:
        with path.open("rb") as f:
            head = f.read(8)
            if head.startswith(b"%PDF-"):
                f.seek(0)
                return DocumentFacts("pdf", _pdf_pages(f.read(PDF_SCAN_LIMIT + 1)))
    except OSError:
        return None
    if head == OLE2_MAGIC:
        return DocumentFacts(OLE2_FORMATS.get(path.suffix.lower().lstrip("."), "ole2"))
    if head.startswith(b"PK\x03\x04"):
        return _zipped(path)
    return None


def _pdf_pages(data: bytes) -> int | None:
    if len(data) > PDF_SCAN_LIMIT:
        return None
    return len(_PDF_PAGE.findall(data)) or None


def _zipped(path: Path) -> DocumentFacts | None:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "OFD.xml" in names:
                return DocumentFacts("ofd", _ofd_pages(z, names))
            if "[Content_Types].xml" in names:
                for prefix, kind in OOXML_PARTS:
                    if any(n.startswith(prefix) for n in names):
                        pages = None
                        if kind == "docx" and "docProps/app.xml" in names:
                            found = _DOCX_PAGES.search(_member(z, "docProps/app.xml"))
                            pages = int(found[1]) if found else None
                        return DocumentFacts(kind, pages)
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, NotImplementedError):
        return None
    return None


def _ofd_pages(z: zipfile.ZipFile, names: set[str]) -> int | None:
    """Pages of the first document the OFD entry file names (``DocBody/DocRoot``)."""
    root = _OFD_DOC_ROOT.search(_member(z, "OFD.xml"))
    if root is None:
        return None
    document = root[1].lstrip("/")
    if document not in names:
        return None
    return len(_OFD_PAGE.findall(_member(z, document))) or None


def _member(z: zipfile.ZipFile, name: str) -> str:
    with z.open(name) as f:
        return f.read(XML_LIMIT).decode("utf-8", "replace")
