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
taken in the same pass, as the image is written (``_HashingSink``).
"""

from __future__ import annotations

import hashlib
import io
import logging
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

log = logging.getLogger(__name__)

_BLOCK = 1 << 20  # bytes copied per step while writing the image
_QUEUE_DEPTH = 16  # chunks read ahead from the object store (a few MiB)
_STREAMED = 64 << 10  # a write this large is file data: the image is hashed up to its end
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
        if not self._buffer and wanted > 0:
            chunk = next(self._chunks, None)
            if chunk is not None and len(chunk) == wanted:  # the usual case: whole chunks, no copy
                self._position += wanted
                self._finish()
                return chunk
            self._buffer = memoryview(chunk) if chunk is not None else self._buffer
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
        self._finish()
        return b"".join(parts)

    def _finish(self) -> None:
        """At the last byte, run the source to its end: the gate checks the SHA-256 there."""
        if self._position == self._size and self._chunks is not None:
            if self._buffer or next(self._chunks, None) is not None:
                raise ExportError(f"{self._path}: the stream is longer than {self._size} bytes")
            self._chunks = iter(())


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


def _extent_order(iso_path: str) -> tuple[int, list[bytes]]:
    """Where pycdlib will put this file's data: it walks the tree breadth first, names in byte order.

    pycdlib writes the files' data in the order they were added; adding them
    in the order of their extents makes those writes ascend through the image,
    which lets ``_HashingSink`` hash it in the same pass (any other order is
    still hashed correctly, by reading the image again at the end).
    """
    parts = iso_path.strip("/").split("/")
    return len(parts), [part.encode("ascii") for part in parts]


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

    It is not fsynced. The image is a copy, made again at will from the
    originals, and everything that uses it checks it against the SHA-256 that
    is logged (the burn reads the disc back; VERIFY.py checks every file on
    it), so an image damaged by a power cut is caught, never trusted. Waiting
    for the disk would double the time of a 4 GiB image on a dock PC's disk
    (~300 MB/s written through vs ~800 MB/s into the page cache).
    """
    if target.exists():
        raise ExportError(f"{target} exists already; an image is never overwritten")
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=volume_id[:32])
    tree = _Tree(iso)
    placed = sorted(((tree.file_path(item.path), item) for item in files), key=lambda pair: _extent_order(pair[0]))
    for iso_path, item in placed:
        joliet = "/" + item.path
        name = item.path.rpartition("/")[2]
        if item.data is not None:
            iso.add_fp(io.BytesIO(item.data), len(item.data), iso_path, rr_name=name, joliet_path=joliet)
        elif item.stream is not None:
            reader = _Reader(item.path, item.size, item.stream)
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
        with part.open("x+b") as raw, _HashingSink(raw) as sink:  # read too: the hasher reads back
            iso.write_fp(cast(BinaryIO, sink), blocksize=_BLOCK, progress_cb=written)
            digest, length = sink.result()
        iso.close()
        if length != size:
            raise ExportError(f"{part.name}: wrote {length} bytes, expected {size}")
        os.link(part, target)  # fails rather than replace an image that appeared meanwhile
    finally:
        part.unlink(missing_ok=True)
    return Image(target, size, digest)


class _HashingSink:
    """The image file, hashed as it is written, in one pass and in file order, on a second thread.

    A SHA-256 must see the bytes in order, and pycdlib writes out of order:
    the volume descriptors and directories first, going back and forth near
    the start, then each file's data, in ascending order when the files were
    added in the order of their extents (``build_image`` does that). So the
    sink keeps a *frontier*: everything below it is handed to the hasher. A
    large write at or above the frontier means everything below it is
    finished (the metadata, the padding, the small files before it): the
    hasher reads that stretch back from the file (it is small, and its holes
    read as zeros) and then hashes the written bytes themselves, which it is
    handed by reference, so the originals are never read a second time.
    ``result`` hashes what is left after the frontier.

    If a write ever lands below the frontier (a layout this reasoning does not
    cover), or the hasher fails, ``result`` hashes the whole file again from
    the start: the digest is always of the file, the frontier only saves time.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._fd = raw.fileno()
        self._digest = hashlib.sha256()
        self._frontier = 0  # written bytes below this are handed to the hasher
        self._hashed = 0  # the hasher's own position
        self._stale = False
        self._error: BaseException | None = None
        self._work: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, name="disc-image-hash", daemon=True)
        self.rehashed = False  # True when ``result`` had to hash the whole file again

    def __enter__(self) -> _HashingSink:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._thread.is_alive():
            self._work.put(None)
            self._thread.join()

    # -- the file object pycdlib writes to --

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def write(self, data: bytes) -> int:
        at = self._raw.tell()
        if at < self._frontier:
            self._stale = True
        written = self._raw.write(data)
        if written != len(data):
            raise ExportError(f"the image took {written} of {len(data)} bytes at offset {at}")
        if not self._stale and len(data) >= _STREAMED and at >= self._frontier:
            self._raw.flush()  # the hasher reads the stretch below by descriptor
            self._work.put((at, bytes(data)))  # no copy for bytes, which pycdlib writes
            self._frontier = at + written
        return written

    # -- the hashing thread --

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            if self._error is not None:
                continue  # keep taking work, so that the writer never blocks on a full queue
            at, data = item
            try:
                self._hash_file(at)
                self._digest.update(data)
                self._hashed += len(data)
            except BaseException as exc:  # reported by result(), which hashes the file again
                self._error = exc

    def _hash_file(self, end: int) -> None:
        """Hash the file's bytes from what is hashed up to ``end``."""
        while self._hashed < end:
            chunk = os.pread(self._fd, min(_BLOCK, end - self._hashed), self._hashed)
            if not chunk:
                raise ExportError(f"the image ended at {self._hashed} bytes while hashing")
            self._digest.update(chunk)
            self._hashed += len(chunk)

    def result(self) -> tuple[str, int]:
        """SHA-256 and size of the whole file, once pycdlib is done writing."""
        self.__exit__()
        self._raw.flush()
        size = os.fstat(self._fd).st_size
        if self._stale or self._error is not None:
            why = self._error or "a write went back below what was hashed"
            log.info("image hash: hashing the whole image again (%s)", why)
            self.rehashed = True
            self._digest, self._hashed = hashlib.sha256(), 0
        self._hash_file(size)
        return self._digest.hexdigest(), self._hashed
