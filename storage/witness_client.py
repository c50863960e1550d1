"""The log side of C2SP ``tlog-witness``: submit a checkpoint to a witness, get its cosignature lines back.

One small seam to an outside system (a witness run by another office): every
network or protocol failure becomes a ``WitnessError`` with the cause kept; a
409 carrying the witness's size is an ordinary answer (:class:`Conflict`), not
an error, because the protocol uses it to tell a log which old size to prove
from (a log that does not know it "MAY initially make a request with a old size
of zero to obtain it").

The client keeps one HTTP/1.1 connection open (the spec: "Clients SHOULD use
... HTTP keep-alive"). The answer's lines are returned unverified: check each
with ``chain.cosignature.verify_cosignature`` against the witness key you
configured (the spec: "The client MUST ignore any cosignatures from unknown keys").
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from chain.checkpoint import SIGNATURE_PREFIX
from chain.witness_request import format_add_checkpoint
from storage.errors import StorageError

SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_ANSWER = 64 * 1024  # bytes


class WitnessError(StorageError):
    """A witness could not be reached or refused the checkpoint; ``status`` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Conflict:
    """The witness's latest cosigned size is ``size``, not the old size sent: prove from ``size`` and submit again."""

    size: int


class WitnessClient:
    """A keep-alive connection to one witness; thread-safe (one request at a time)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ValueError(f"witness URL must be http(s)://host[:port][/prefix], got {url!r}")
        self.url = url
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port
        self._path = parsed.path.rstrip("/") + "/add-checkpoint"
        self._timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _post(self, body: bytes) -> tuple[int, str, bytes]:
        """One POST; a kept-alive connection the server closed meanwhile is reopened once."""
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request("POST", self._path, body=body, headers={"Content-Type": "text/plain"})
                response = connection.getresponse()
                answer = response.read(MAX_ANSWER + 1)
                content_type = response.getheader("Content-Type", "")
                if response.will_close:
                    self.close_unlocked()
                return response.status, content_type, answer
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close_unlocked()
                if attempt == 2:
                    raise WitnessError(f"witness {self.url} closed the connection: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close_unlocked()
                raise WitnessError(f"witness {self.url} unreachable: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def close_unlocked(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def add_checkpoint(self, old_size: int, proof: Sequence[bytes], note: str) -> list[str] | Conflict:
        """Submit ``note`` with the consistency proof from ``old_size``; the cosignature lines or a Conflict."""
        body = format_add_checkpoint(old_size, proof, note)
        with self._lock:
            status, content_type, answer = self._post(body)
        text = answer.decode("utf-8", errors="replace")
        if len(answer) > MAX_ANSWER:
            raise WitnessError(f"witness {self.url} answered more than {MAX_ANSWER} bytes", status=status)
        if status == 409 and content_type.split(";")[0].strip() == SIZE_CONTENT_TYPE:
            size_text = text.removesuffix("\n")
            if not size_text.isdigit():
                raise WitnessError(
                    f"witness {self.url}: 409 with a size that is not a number: {size_text[:40]!r}", status=409
                )
            return Conflict(int(size_text))
        if status != 200:
            raise WitnessError(
                f"witness {self.url} refused the checkpoint: HTTP {status}: {text.strip()[:300]}", status=status
            )
        if not text.endswith("\n"):
            raise WitnessError(f"witness {self.url}: answer must be signature lines ending in newlines", status=status)
        lines = text[:-1].split("\n")
        if not lines or any(not line.startswith(SIGNATURE_PREFIX) for line in lines):
            raise WitnessError(f"witness {self.url}: answer is not note signature lines: {text[:80]!r}", status=status)
        return lines


def submit(
    url: str, old_size: int, proof: Sequence[bytes], note: str, *, timeout: float = 10.0
) -> list[str] | Conflict:
    """One-shot :meth:`WitnessClient.add_checkpoint` (opens and closes its own connection)."""
    client = WitnessClient(url, timeout=timeout)
    try:
        return client.add_checkpoint(old_size, proof, note)
    finally:
        client.close()
