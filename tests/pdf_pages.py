"""Looking at a PDF in tests: page 1 rendered by poppler's pdftoppm (how much ink), its text by pdftotext."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="poppler-utils missing (scripts/install.sh)"
)


def page_one_png(pdf: Path) -> Path:
    prefix = pdf.with_suffix("")
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(prefix)], check=True)
    (png,) = pdf.parent.glob(f"{prefix.name}-*1.png")
    return png


def ink(png: Path) -> float:
    """Share of an 8-bit grey or RGB PNG's pixels that are not near white (PNG filters undone, stdlib only)."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 1
    while pos < len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            assert colour in (0, 2)
            bpp = 1 if colour == 0 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    stride = width * bpp
    raw, dark, prior = zlib.decompress(idat), 0, bytearray(stride)
    for y in range(height):
        row_filter, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a, b, c = (line[x - bpp] if x >= bpp else 0), prior[x], (prior[x - bpp] if x >= bpp else 0)
            if row_filter == 1:
                line[x] = (line[x] + a) & 0xFF
            elif row_filter == 2:
                line[x] = (line[x] + b) & 0xFF
            elif row_filter == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif row_filter == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        dark += sum(1 for v in line[::bpp] if v < 200)
        prior = line
    return dark / (width * height)


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-raw", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
