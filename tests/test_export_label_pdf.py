"""`evidock export disc --pdf FILE`: the discs' label sheets printed, one A4 page per disc, as they are on the discs.

Real export (three clips in the real S3, module world of test_export_disc),
split over three discs; the PDF is made by Chromium from each image's
LABEL.html, page 1 rendered by pdftoppm (not blank), its text read by
pdftotext: the title, case number, maker, extractor and each disc's number,
and the footer names the checkpoint on the discs (size, root, key fingerprint).
"""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path

import pycdlib
import pytest

from chain.checkpoint import verify_note
from evidock.app import open_app
from evidock.keys import load_vkey
from retention.export import layout
from retention.export.verify_disc import CHECKPOINT, fingerprint
from storage import custody
from storage import recordings as recordings_db
from tests.pdf_pages import ink, needs_poppler, page_one_png, pdf_text
from tests.test_export_disc import CASE, World, _export, _log_size, _request, act, world

pytestmark = [pytest.mark.s3, pytest.mark.slow, needs_poppler]
__all__ = ["act", "world"]  # the module-scoped world of test_export_disc


def _disc_file(image: Path, path: str) -> str:
    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path=f"/{path}")
    finally:
        iso.close()
    return out.getvalue().decode("utf-8")


def _one_recording_per_disc(world: World) -> int:
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        items = []
        for rec in world.recordings:
            found = recordings_db.get(conn, rec)
            assert found is not None
            items.append(layout.Item(rec, found.size, len(custody.chain_indexes(conn, rec, below=2**62)) + 4))
    return max(layout.room_needed([item]) for item in items)


def test_the_label_sheets_of_three_discs_print_one_page_each(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    act("c1")
    target = tmp_path / "光盘标签.pdf"
    request = _request(world, world.recordings)
    capacity = _one_recording_per_disc(world)  # after the request: its entries go on the discs too
    code, result, err = _export(
        world,
        capsys,
        request,
        tmp_path / "out",
        "--capacity",
        str(capacity),
        "--pdf",
        str(target),
    )
    assert code == 0, err
    assert result is not None
    assert result["label_pdf"] == str(target)
    assert f"wrote {target}" in err
    assert target.read_bytes().startswith(b"%PDF-")
    info = subprocess.run(["pdfinfo", str(target)], check=True, capture_output=True, text=True).stdout
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in info.splitlines())}
    assert fields["Page size"].endswith("(A4)"), info
    assert fields["Pages"] == "3", info

    images = [Path(d["image"]) for d in result["discs"]]
    note = verify_note(_disc_file(images[0], CHECKPOINT), load_vkey(world.settings))
    text = pdf_text(target)
    flat = "".join(text.split())
    assert text.count("执法记录仪视音频证据光盘 标签") == 3
    for number in (1, 2, 3):
        assert f"光盘编号Disc{number}/3" in flat
    assert f"案号Casenumber{CASE}" in flat
    assert "制作人Maker王五" in flat
    assert "提取人Extractor赵六" in flat
    assert result["export_id"] in flat
    assert flat.count(f"根{note.root.hex()}") == 3, "the footer of every page names the discs' checkpoint"
    assert flat.count(f"大小{note.size}") == 3
    assert "公钥指纹" + fingerprint(load_vkey(world.settings)).replace(" ", "") in flat
    assert ink(page_one_png(target)) > 0.01


def test_a_missing_pdf_folder_is_refused_before_the_export(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    act("c1")
    request = _request(world, world.recordings)
    before = _log_size(world)
    target = tmp_path / "no" / "labels.pdf"
    code, _, err = _export(world, capsys, request, tmp_path / "out", "--pdf", str(target))
    assert code == 1
    assert err == f"error: --pdf {target}: folder {target.parent} does not exist\n"
    assert _log_size(world) == before, "nothing exported, nothing logged"
    assert not list((tmp_path / "out").iterdir())
