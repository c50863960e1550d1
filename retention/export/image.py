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
taken by re-reading the file as it is written (``_HashingSink``), so the
bytes hashed are the bytes on disk.
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
_LAG = 8 << 20  # bytes the image hasher stays behind the writer
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
        with part.open("x+b") as raw, _HashingSink(raw) as sink:  # read too: the hasher re-reads
            iso.write_fp(cast(BinaryIO, sink), blocksize=_BLOCK, progress_cb=written)
            raw.flush()
            os.fsync(raw.fileno())
            digest, length = sink.result()
        iso.close()
        if length != size:
            raise ExportError(f"{part.name}: wrote {length} bytes, expected {size}")
        os.link(part, target)  # fails rather than replace an image that appeared meanwhile
    finally:
        part.unlink(missing_ok=True)
    return Image(target, size, digest)


class _HashingSink:
    """The image file, hashed while it is written: a second thread re-reads what is written and hashes it.

    pycdlib writes the volume descriptors and directories first, going back
    and forth near the start, and then the file data in ascending order. The
    hashing thread trails the highest byte written by ``_LAG`` bytes, so it
    reads only what is finished (from the page cache, on the other core). A
    write below what the thread may already have read marks the digest stale,
    and ``result`` then hashes the whole file again: the digest is always of
    the bytes on disk, the overlap only saves time.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._fd = raw.fileno()
        self._lock = threading.Condition()
        self._end = 0  # highest byte written + 1
        self._allowed = 0  # the hasher may read below this
        self._done = False
        self._stale = False
        self._digest = hashlib.sha256()
        self._hashed = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="disc-image-hash", daemon=True)

    def __enter__(self) -> _HashingSink:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            self._done = True
            self._lock.notify()
        self._thread.join()

    # -- the file object pycdlib writes to --

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def write(self, data: bytes) -> int:
        at = self._raw.tell()
        with self._lock:
            if at < self._allowed:
                self._stale = True
        written = self._raw.write(data)
        self._raw.flush()  # the hasher reads the file by descriptor
        with self._lock:
            self._end = max(self._end, at + written)
            self._allowed = max(self._allowed, self._end - _LAG)
            self._lock.notify()
        return written

    # -- the hashing thread --

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    while self._hashed >= self._allowed and not self._done:
                        self._lock.wait()
                    if self._done:
                        return
                    limit = self._allowed
                self._hash_up_to(limit)
        except BaseException as exc:  # reported by result()
            self._error = exc

    def _hash_up_to(self, limit: int) -> None:
        while self._hashed < limit:
            chunk = os.pread(self._fd, min(_BLOCK, limit - self._hashed), self._hashed)
            if not chunk:
                raise ExportError(f"the image ended at {self._hashed} bytes while hashing")
            self._digest.update(chunk)
            self._hashed += len(chunk)

    def result(self) -> tuple[str, int]:
        """SHA-256 and size of the whole file, once pycdlib is done writing (call before closing)."""
        self.__exit__()
        size = os.fstat(self._fd).st_size
        if self._error is not None or self._stale:
            log.info("image hash: hashing the whole image again (%s)", self._error or "a write went back")
            self._digest, self._hashed = hashlib.sha256(), 0
        self._hash_up_to(size)
        return self._digest.hexdigest(), self._hashed
