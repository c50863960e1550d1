"""A reader that hashes what passes through it, so a file is read exactly once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import BinaryIO


class HashingReader:
    """Wraps an open file: every byte the uploader reads is also fed to SHA-256.

    The uploader reads sequentially in the calling thread (minio reads each part
    before handing it to its upload threads), so the digest sees the bytes in
    file order. Memory stays bounded by the uploader's part buffers.
    """

    def __init__(
        self, raw: BinaryIO, progress: Callable[[int], None] | None = None, *, marks: Iterable[int] = ()
    ) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self._progress = progress
        self._marks = sorted({m for m in marks if m > 0})
        self.prefix_digests: dict[int, str] = {}  # mark -> SHA-256 of the first ``mark`` bytes
        self.bytes_read = 0
        self.error: OSError | None = None  # a read error of the file itself (the uploader wraps what it sees)

    def read(self, size: int = -1) -> bytes:
        try:
            chunk = self._raw.read(size)
        except OSError as exc:
            self.error = exc
            raise
        if chunk:
            self._update(chunk)
            self.bytes_read += len(chunk)
            if self._progress is not None:
                self._progress(len(chunk))
        return chunk

    def _update(self, chunk: bytes) -> None:
        """Feed ``chunk``, taking the digest at every mark it crosses (earlier files' sizes)."""
        view = memoryview(chunk)
        position = self.bytes_read
        while self._marks and self._marks[0] <= position + len(view):
            cut = self._marks.pop(0) - position
            self._digest.update(view[:cut])
            position += cut
            view = view[cut:]
            self.prefix_digests[position] = self._digest.copy().hexdigest()
        self._digest.update(view)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
