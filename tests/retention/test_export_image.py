"""The image writer on its own: what it writes is what xorriso reads, and the logged SHA-256 is the file's.

No object store here: the files are bytes in memory and streams of chunks,
which is all ``build_image`` is given by the export job.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from retention.export import image
from retention.export.image import ImageFile, build_image
from retention.export.layout import ExportError

MIB = 1 << 20


def _chunks(data: bytes, size: int = MIB) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _files() -> dict[str, bytes]:
    """A disc as the export job lists it: the documents and log files first, then the originals."""
    return {
        "MANIFEST.json": b'{"disc": 1}\n' * 9000,  # over 64 KiB: hashed as it is written
        "SHA256SUMS": b"0" * 100,
        "VERIFY.py": b"print('ok')\n",
        "日志证明/包含证明/entry-0000041.json": b"{}" * 40,
        "日志证明/checkpoint.txt": b"evidock\n42\n",
        "日志证明/一致性证明/from-12.json": os.urandom(70 * 1024),
        "原始录像/CAM01_20261120_080619_0001.mp4": os.urandom(3 * MIB + 5),
        "原始录像/CAM01_20261120_081000_0002.mp4": os.urandom(2048),  # exactly one block
        "原始录像/CAM02_20261120_090000_0001.wav": os.urandom(MIB - 1),
    }


def _image_files(files: dict[str, bytes]) -> list[ImageFile]:
    """Originals (the larger files) as streams, the rest as data, in the job's order: documents first."""
    out = []
    for path, data in files.items():
        if len(data) > 100 * 1024 and not path.endswith(".json"):
            out.append(ImageFile(path, len(data), stream=functools.partial(_chunks, data)))
        else:
            out.append(ImageFile(path, len(data), data=data))
    return out


def _extract(iso: Path, into: Path) -> None:
    subprocess.run(
        ["xorriso", "-osirrox", "on", "-indev", str(iso), "-extract", "/", str(into)],
        check=True,
        capture_output=True,
    )


def test_the_image_holds_every_file_and_its_sha256_is_taken_in_one_pass(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = _files()
    with caplog.at_level(logging.INFO, logger=image.__name__):
        made = build_image(_image_files(files), tmp_path / "disc.iso", volume_id="TEST", capacity=1 << 30)
    assert made.sha256 == hashlib.sha256(made.path.read_bytes()).hexdigest()
    assert made.size == made.path.stat().st_size
    assert "hashing the whole image again" not in caplog.text  # every data write ascended
    _extract(made.path, tmp_path / "out")
    found = {str(p.relative_to(tmp_path / "out")): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert found == files


def test_a_write_below_what_was_hashed_makes_the_sink_hash_the_whole_file_again(tmp_path: Path) -> None:
    with (tmp_path / "f").open("x+b") as raw, image._HashingSink(raw) as sink:
        sink.seek(MIB)
        sink.write(b"b" * MIB)  # handed to the hasher with the zeros below it
        sink.seek(10)
        sink.write(b"a" * (100 * 1024))  # goes back: what was hashed is stale
        digest, size = sink.result()
    assert sink.rehashed
    assert (digest, size) == (hashlib.sha256((tmp_path / "f").read_bytes()).hexdigest(), 2 * MIB)


def test_a_hasher_that_fails_makes_the_sink_hash_the_whole_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    pread = os.pread

    def pread_failing_once(fd: int, length: int, offset: int) -> bytes:
        calls.append(offset)
        if len(calls) == 1:
            raise OSError("a read error, once")
        return pread(fd, length, offset)

    monkeypatch.setattr(os, "pread", pread_failing_once)
    with (tmp_path / "f").open("x+b") as raw, image._HashingSink(raw) as sink:
        sink.write(b"x" * 5000)  # small: read back by the hasher before the next write's bytes
        sink.write(b"y" * MIB)
        digest, size = sink.result()
    assert sink.rehashed
    assert (digest, size) == (hashlib.sha256(b"x" * 5000 + b"y" * MIB).hexdigest(), 5000 + MIB)


def test_a_stream_that_ends_early_fails_and_leaves_no_file(tmp_path: Path) -> None:
    short = ImageFile("原始录像/a.mp4", 3 * MIB, stream=lambda: _chunks(b"z" * (2 * MIB)))
    with pytest.raises(ExportError, match="the stream ended at 2097152 of 3145728 bytes"):
        build_image([short], tmp_path / "disc.iso", volume_id="TEST", capacity=1 << 30)
    assert list(tmp_path.iterdir()) == []
