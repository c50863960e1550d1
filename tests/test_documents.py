"""Case documents are first-class: PDF, OFD, office files and scans get the kind ``document``.

Real files made here: a PDF written by hand, an OFD package (GB/T 33190) and a
Word file zipped here, PNG/JPEG pictures made by ffmpeg. They are docked into
the real S3 server, raise no NOT_MEDIA (nor UNMATCHED_NAME: people name
documents, devices do not) and are labelled like recordings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cases.labels import latest_labels
from evidock.app import App, retention_context
from ingest.documents import sniff_document
from ingest.probe import probe
from retention import labelling
from storage import findings as findings_db
from storage import recordings as recordings_db
from tests.conftest import dock


def pdf(target: Path, pages: int) -> Path:
    """A minimal valid PDF: catalog, page tree, ``pages`` empty A4 pages, and a correct xref table."""
    kids = " ".join(f"{3 + n} 0 R" for n in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode()]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    target.write_bytes(bytes(out))
    return target


def ofd(target: Path, pages: int) -> Path:
    """An OFD package: ``OFD.xml`` at the root names the document, whose ``Pages`` list its pages."""
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    entry = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {ns} Version="1.0" DocType="OFD">'
        "<ofd:DocBody><ofd:DocInfo><ofd:DocID>0001</ofd:DocID><ofd:Title>行政处罚决定书</ofd:Title>"
        "</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
    )
    page_list = "".join(f'<ofd:Page ID="{10 + n}" BaseLoc="Pages/Page_{n}/Content.xml"/>' for n in range(pages))
    document = (
        f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {ns}><ofd:CommonData>'
        "<ofd:MaxUnitID>99</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox>"
        f"</ofd:PageArea></ofd:CommonData><ofd:Pages>{page_list}</ofd:Pages></ofd:Document>"
    )
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("OFD.xml", entry)
        z.writestr("Doc_0/Document.xml", document)
        for n in range(pages):
            z.writestr(f"Doc_0/Pages/Page_{n}/Content.xml", f"<ofd:Page {ns}><ofd:Content/></ofd:Page>")
    return target


def docx(target: Path, pages: int) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document/>')
        z.writestr("docProps/app.xml", f'<?xml version="1.0"?><Properties><Pages>{pages}</Pages></Properties>')
    return target


def picture(target: Path, mark: str) -> Path:
    """A 320x240 test picture; ``mark`` moves a small box so each picture's bytes differ."""
    at = sum(map(ord, mark)) % 300
    subprocess.run(
        [
            *("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240"),
            *("-vf", f"drawbox=x={at}:y={at % 220}:w=12:h=12:color=red:t=fill", "-frames:v", "1"),
            os.fsencode(target),
        ],
        check=True,
    )
    return target


def test_documents_are_recognised_by_their_bytes(tmp_path: Path) -> None:
    assert sniff_document(pdf(tmp_path / "a.pdf", 3)) is not None
    facts = probe(tmp_path / "a.pdf")
    assert (facts.kind, facts.container, facts.pages, facts.problem) == ("document", "pdf", 3, None)
    assert facts.as_json()["pages"] == 3
    facts = probe(ofd(tmp_path / "决定书.ofd", 2))
    assert (facts.kind, facts.container, facts.pages, facts.problem) == ("document", "ofd", 2, None)
    facts = probe(docx(tmp_path / "笔录.docx", 4))
    assert (facts.kind, facts.container, facts.pages) == ("document", "docx", 4)
    ole = tmp_path / "旧笔录.doc"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    assert (probe(ole).kind, probe(ole).container) == ("document", "doc")
    plain_zip = tmp_path / "photos.zip"
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("a.txt", "x")
    assert probe(plain_zip).kind == "other", "a zip that is neither OFD nor an office file is no document"
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert probe(notes).kind == "other"


def test_a_scan_is_a_document_and_a_device_picture_a_photo(tmp_path: Path) -> None:
    """The rule: a JPEG/PNG/TIFF is a photo if a device's name pattern matched or EXIF has DateTimeOriginal."""
    png = picture(tmp_path / "扫描件-001.png", "scan")
    jpg = picture(tmp_path / "scan-002.jpg", "scan2")
    assert (probe(png).kind, probe(png).pages) == ("document", 1)
    assert probe(jpg).kind == "document"
    assert probe(jpg, device_named=True).kind == "photo"
    if shutil.which("exiftool"):
        subprocess.run(
            ["exiftool", "-q", "-overwrite_original", "-DateTimeOriginal=2026:11:20 08:06:19", jpg], check=True
        )
        assert probe(jpg).kind == "photo", "camera EXIF: a photo whatever its name"


@pytest.mark.s3
def test_documents_dock_without_findings_and_are_labelled_like_recordings(evi: App, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    made = [
        pdf(inbox / "起诉意见书.pdf", 2),
        ofd(inbox / "行政处罚决定书.ofd", 1),
        docx(inbox / "询问笔录.docx", 3),
        picture(inbox / "扫描件-001.png", "doc-scan"),
    ]
    ids = [dock(evi, path) for path in made]
    notes = inbox / "notes.txt"
    notes.write_text("not a document")
    other = dock(evi, notes)
    with evi.catalog.read() as conn:
        kinds = [recordings_db.get(conn, rid).kind for rid in ids]  # type: ignore[union-attr]
        pages = [recordings_db.get(conn, rid).media.get("pages") for rid in ids]  # type: ignore[union-attr]
        found = findings_db.listing(conn)
    assert kinds == ["document"] * 4
    assert pages == [2, 1, 3, 1]
    assert [f for f in found if set(f.recordings) & set(ids)] == [], "no finding on any document"
    assert ("not_media", (other,)) in [(f.kind, tuple(f.recordings)) for f in found], "the control: a text file is"

    labelling.label(
        retention_context(evi),
        ids,
        case_number="京朝公(治)行罚决字[2026]1号",
        parties=["张三"],
        handler="李四",
        by="wang.wu",
        now=datetime.now(UTC),
    )
    with evi.catalog.read() as conn:
        labels = latest_labels(conn, ids)
    assert set(labels) == set(ids)
