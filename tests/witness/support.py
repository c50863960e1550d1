"""A small signed log (chain's real Merkle tree and note signing) and real witness processes for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from chain.checkpoint import Checkpoint, SignerKey, generate_skey, parse_skey, sign_checkpoint, vkey_of
from chain.merkle import MemoryNodes, consistency_proof, leaf_hash
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ToyLog:
    """A log with real RFC 9162 nodes, signing C2SP checkpoints with its own Ed25519 key."""

    skey: str
    tree: MemoryNodes = field(default_factory=MemoryNodes)

    @classmethod
    def new(cls, origin: str = "test.evidock/dock-log", skey: str | None = None) -> ToyLog:
        return cls(skey or generate_skey(origin))

    @property
    def signer(self) -> SignerKey:
        return parse_skey(self.skey)

    @property
    def vkey(self) -> str:
        return vkey_of(self.skey)

    @property
    def origin(self) -> str:
        return self.signer.name

    def append(self, *entries: bytes) -> ToyLog:
        for entry in entries:
            self.tree.append(leaf_hash(entry))
        return self

    def grow(self, count: int, tag: str = "entry") -> ToyLog:
        start = self.tree.size
        return self.append(*(f"{tag} {i}".encode() for i in range(start, start + count)))

    def note(self) -> str:
        return sign_checkpoint(Checkpoint(self.origin, self.tree.size, self.tree.root()), self.signer)

    def proof(self, old_size: int) -> list[bytes]:
        if old_size in {0, self.tree.size}:
            return []
        return consistency_proof(old_size, self.tree.size, self.tree)

    def copy(self) -> ToyLog:
        """Same key, same entries so far: the start of a fork."""
        fork = ToyLog(self.skey)
        for index in range(self.tree.size):
            fork.tree.append(self.tree.nodes([(0, index)])[0])
        return fork


def evidock(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evidock.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=env,
        cwd=REPO,
    )


class WitnessProcess:
    """``evidock witness serve`` in a subprocess on a free port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WitnessProcess:
        stderr = self.directory / "serve.stderr"
        with stderr.open("ab") as sink:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "evidock.cli",
                    "witness",
                    "serve",
                    "--dir",
                    str(self.directory),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=sink,
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"witness exited with {self.process.returncode}: {stderr.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1) as answer:  # noqa: S310 - local test URL
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"witness on {self.url} did not start within 30 s")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class TsaProcess:
    """The local OpenSSL TSA (``python -m evidock.local_tsa serve``) in a subprocess on a free port."""

    def __init__(self, directory: Path, *, name: str = "evidock test TSA") -> None:
        from evidock import local_tsa

        self.directory = directory
        self.chain_path = local_tsa.init(directory, name=name)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> TsaProcess:
        with (self.directory / "serve.log").open("ab") as sink:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "evidock.local_tsa",
                    "serve",
                    str(self.directory),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                ],
                stdout=sink,
                stderr=sink,
                cwd=REPO,
            )
        deadline = time.monotonic() + 20
        while True:
            try:
                request = urllib.request.Request(self.url, data=b"x", method="POST")  # noqa: S310 - local test URL
                urllib.request.urlopen(request, timeout=1)  # noqa: S310 - local test URL
            except urllib.error.HTTPError as error:
                error.close()
                return self  # it answers (400: not a query)
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(
                        f"local TSA did not start: {(self.directory / 'serve.log').read_text()}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
