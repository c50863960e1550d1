"""The ISO 9660 image: Joliet for Windows, Rock Ridge for Linux and macOS, written by pycdlib.

Why pycdlib and not ``xorriso``: pycdlib (pure Python) takes each file as a
file object of known length, so the originals are streamed from the object
store *straight into the image* — through the access gate, which checks each
one's SHA-256 as it goes — instead of being downloaded to a staging folder
first and read again by xorriso (twice the disk traffic for a 25 GB Blu-ray).
xorriso remains the burner (``burn``) and the tests' independent reader.

Names: the ISO 9660 names are generated (``F00001.MP4``: level 3 allows only
A-Z, 0-9 and _), and the names a person sees come from the Joliet (UCS-2, up
to 64 characters) and Rock Ridge (UTF-8) trees, which carry the real names,
Chinese included.

Memory stays flat: each original is read in the object store's chunks through
a small bounded queue filled by one background thread (so the network read and
the gate's hashing overlap with writing the image); the image's SHA-256 is
taken by reading the finished file back, which also proves it is readable.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import pycdlib

from retention.export.layout import ExportError

_BLOCK = 1 << 20  # bytes copied per step while writing the image
_QUEUE_DEPTH = 16  # chunks read ahead from the object store (a few MiB)
_ASCII_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class ImageFile:
    """A file to put on the disc: ``data`` in memory, or ``stream`` giving exactly ``size`` bytes."""

    path: str  # on the disc, "/"-separated, may hold Chinese
    size: int
    data: bytes | None = None
    stream: Callable[[], Iterator[bytes]] | None = None


@dataclass(frozen=True)
class Image:
    path: Path
    size: int
    sha256: str


class _Reader:
    """A read-only file object over a chunk iterator of known length (what pycdlib reads from).

    A stream that ends early or runs long is an error, never a short file:
    pycdlib itself would silently stop at a short read.
    """

    mode = "rb"  # pycdlib checks for a binary file object this way

    def __init__(self, path: str, size: int, opener: Callable[[], Iterator[bytes]]) -> None:
        self._path = path
        self._size = size
        self._opener = opener
        self._chunks: Iterator[bytes] | None = None
        self._buffer = memoryview(b"")
        self._position = 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET or offset != self._position:
            raise ExportError(f"{self._path}: the image writer tried to seek in a stream")
        return offset

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        if self._chunks is None:
            self._chunks = _read_ahead(self._opener())
        wanted = self._size - self._position if size < 0 else min(size, self._size - self._position)
        parts: list[bytes] = []
        while wanted > 0:
            if not self._buffer:
                chunk = next(self._chunks, None)
                if chunk is None:
                    raise ExportError(f"{self._path}: the stream ended at {self._position} of {self._size} bytes")
                self._buffer = memoryview(chunk)
            piece = self._buffer[:wanted]
            self._buffer = self._buffer[len(piece) :]
            parts.append(bytes(piece))
            wanted -= len(piece)
            self._position += len(piece)
        if self._position == self._size and self._chunks is not None:
            # Run the source to its end: the gate checks the SHA-256 there.
            if self._buffer or next(self._chunks, None) is not None:
                raise ExportError(f"{self._path}: the stream is longer than {self._size} bytes")
            self._chunks = iter(())
        return b"".join(parts)


_END = object()


def _read_ahead(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks`` pulled by a background thread into a bounded queue; errors re-raised here."""
    pipe: queue.Queue[object] = queue.Queue(maxsize=_QUEUE_DEPTH)
    stop = threading.Event()

    def pump() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        pipe.put(chunk, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pipe.put(_END)
        except BaseException as exc:
            pipe.put(exc)

    thread = threading.Thread(target=pump, name="disc-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = pipe.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]  # only bytes, _END and exceptions are put
    finally:
        stop.set()


def _iso_name(name: str, taken: set[str], *, directory: bool) -> str:
    """A unique ISO 9660 level-3 name for ``name`` (d-characters only; the real name is in Joliet/RR)."""
    stem, ext = (name, "") if directory or "." not in name else name.rsplit(".", 1)
    ext = _d_characters(ext)[:8]
    base = (_d_characters(stem) if _ASCII_NAME.fullmatch(name) else "F")[: 22 - len(ext)] or "F"
    candidate, number = base, 1
    while _with_ext(candidate, ext) in taken:
        number += 1
        candidate = f"{base}_{number}"
    taken.add(_with_ext(candidate, ext))
    return _with_ext(candidate, ext)


def _d_characters(text: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", text.upper())


def _with_ext(stem: str, ext: str) -> str:
    return f"{stem}.{ext}" if ext else stem


class _Tree:
    """Directories added to the image so far, with their ISO names."""

    def __init__(self, iso: pycdlib.PyCdlib) -> None:
        self._iso = iso
        self._dirs: dict[str, str] = {"": ""}
        self._taken: dict[str, set[str]] = {"": set()}

    def directory(self, path: str) -> str:
        """The ISO path of disc directory ``path`` ("" is the root), adding it and its parents."""
        if path in self._dirs:
            return self._dirs[path]
        parent, _, name = path.rpartition("/")
        iso_parent = self.directory(parent)
        iso_path = f"{iso_parent}/{_iso_name(name, self._taken[parent], directory=True)}"
        self._iso.add_directory(iso_path, rr_name=name, joliet_path=f"/{path}")
        self._dirs[path] = iso_path
        self._taken[path] = set()
        return iso_path

    def file_path(self, path: str) -> str:
        parent, _, name = path.rpartition("/")
        return f"{self.directory(parent)}/{_iso_name(name, self._taken.setdefault(parent, set()), directory=False)};1"


def build_image(
    files: Sequence[ImageFile],
    target: Path,
    *,
    volume_id: str,
    capacity: int,
    progress: Callable[[int], None] | None = None,
) -> Image:
    """Write the image to ``target`` (never over an existing file) and return its size and SHA-256.

    The image is written to ``target``'s name plus ``.part`` and renamed when
    complete; on any error the partial file is removed.
    """
    if target.exists():
        raise ExportError(f"{target} exists already; an image is never overwritten")
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=volume_id[:32])
    tree = _Tree(iso)
    readers = []
    for item in files:
        iso_path = tree.file_path(item.path)
        joliet = "/" + item.path
        name = item.path.rpartition("/")[2]
        if item.data is not None:
            iso.add_fp(io.BytesIO(item.data), len(item.data), iso_path, rr_name=name, joliet_path=joliet)
        elif item.stream is not None:
            reader = _Reader(item.path, item.size, item.stream)
            readers.append(reader)
            # pycdlib only calls seek, tell and read on it (its BinaryIO annotation asks for more)
            iso.add_fp(cast(BinaryIO, reader), item.size, iso_path, rr_name=name, joliet_path=joliet)
        else:
            raise ValueError(f"{item.path}: an image file needs data or a stream")
    size = iso.pvd.space_size * iso.logical_block_size
    if size > capacity:
        raise ExportError(f"the image of {target.name} would be {size} bytes, more than the disc's {capacity}")
    part = target.with_name(target.name + ".part")
    done = [0]

    def written(total_done: int, _total: int, _opaque: object) -> None:
        if progress is not None:
            progress(total_done - done[0])
        done[0] = total_done

    try:
        with part.open("xb") as sink:
            iso.write_fp(sink, blocksize=_BLOCK, progress_cb=written)
            sink.flush()
            os.fsync(sink.fileno())
        iso.close()
        digest, length = _hash_file(part)
        if length != size:
            raise ExportError(f"{part.name}: wrote {length} bytes, expected {size}")
        os.link(part, target)  # fails rather than replace an image that appeared meanwhile
    finally:
        part.unlink(missing_ok=True)
    return Image(target, size, digest)


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buffer):
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size
