"""RFC 3161 tokens from a real local TSA (`openssl ts -reply`, evidock/local_tsa.py), checked by rfc3161-client."""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from evidock import local_tsa
from retention.export import verify_disc
from storage.timestamping import TimestampError, load_chain, openssl_verify_command, request_timestamp, verify_timestamp
from tests.witness.support import ToyLog, TsaProcess

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class RunningTsa:
    url: str
    directory: Path
    chain: list[x509.Certificate]


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningTsa]:
    running = TsaProcess(tmp_path_factory.mktemp("tsa")).start()
    try:
        yield RunningTsa(running.url, running.directory, load_chain(running.chain_path.read_bytes()))
    finally:
        running.stop()


def test_a_token_over_the_checkpoint_verifies(tsa: RunningTsa) -> None:
    note = ToyLog.new().grow(3).note()
    before = datetime.now(UTC).replace(microsecond=0)
    reply, facts = request_timestamp(tsa.url, note, tsa.chain)
    assert before - timedelta(seconds=2) <= facts.gen_time <= datetime.now(UTC) + timedelta(seconds=2)
    assert facts.tsa == "CN=evidock test TSA"
    assert verify_timestamp(reply, note, tsa.chain) == facts
    assert verify_timestamp(reply, note.encode("utf-8"), tsa.chain) == facts


def test_a_token_over_another_note_is_rejected(tsa: RunningTsa) -> None:
    log = ToyLog.new().grow(3)
    reply, _ = request_timestamp(tsa.url, log.note(), tsa.chain)
    with pytest.raises(TimestampError, match="token is over another message"):
        verify_timestamp(reply, log.grow(1).note(), tsa.chain)


def test_a_token_from_another_tsa_is_rejected(tsa: RunningTsa, tmp_path: Path) -> None:
    other = load_chain(local_tsa.init(tmp_path / "other", name="another TSA").read_bytes())
    note = ToyLog.new().grow(2).note()
    reply, _ = request_timestamp(tsa.url, note, tsa.chain)
    with pytest.raises(TimestampError, match="does not verify against the TSA chain"):
        verify_timestamp(reply, note, other)
    # The right TSA certificate under a root that did not issue it: refused too.
    with pytest.raises(TimestampError, match="does not verify against the TSA chain"):
        verify_timestamp(reply, note, [tsa.chain[0], other[-1]])


def test_a_tampered_token_is_rejected(tsa: RunningTsa) -> None:
    note = ToyLog.new().grow(2).note()
    reply, _ = request_timestamp(tsa.url, note, tsa.chain)
    # Flip one byte of the signature (the last bytes of the DER are the signer's signature value).
    tampered = reply[:-5] + bytes([reply[-5] ^ 0x01]) + reply[-4:]
    with pytest.raises(TimestampError):
        verify_timestamp(tampered, note, tsa.chain)


def test_openssl_alone_verifies_the_stored_token(tsa: RunningTsa, tmp_path: Path) -> None:
    """The command printed for a clerk works on the stored reply, the note and the chain file."""
    note = ToyLog.new().grow(4).note()
    reply, _ = request_timestamp(tsa.url, note, tsa.chain)
    (tmp_path / "checkpoint.tsr").write_bytes(reply)
    (tmp_path / "checkpoint.txt").write_bytes(note.encode("utf-8"))
    (tmp_path / "tsa-chain.pem").write_bytes((tsa.directory / local_tsa.CHAIN).read_bytes())
    command = openssl_verify_command("checkpoint.tsr", "checkpoint.txt", "tsa-chain.pem")
    done = subprocess.run(shlex.split(command), cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Verification: OK" in done.stdout
    (tmp_path / "checkpoint.txt").write_bytes(note.encode("utf-8") + b"x")
    done = subprocess.run(shlex.split(command), cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode != 0


def test_verify_py_reads_a_token_as_rfc3161_client_does_and_refuses_broken_ones(tsa: RunningTsa) -> None:
    """The disc verifier's own DER reading (standard library only) finds the same imprint and genTime."""
    note = ToyLog.new().grow(3).note()
    reply, facts = request_timestamp(tsa.url, note, tsa.chain)
    algorithm, imprint, gen_time = verify_disc.token_facts(reply)
    assert algorithm == verify_disc.SHA256_OID
    assert imprint == hashlib.sha256(note.encode("utf-8")).digest()
    # rfc3161-client drops genTime's fraction of a second (the local TSA gives milliseconds); VERIFY.py keeps it.
    assert int(verify_disc.gen_time_seconds(gen_time)) == facts.gen_time.timestamp()
    # Every prefix of the reply, and every single-byte change of its structure, is refused with a
    # Failure (or read as something that is not this note's imprint): never another exception.
    for end in range(len(reply)):
        with pytest.raises(verify_disc.Failure):
            verify_disc.token_facts(reply[:end])
    for at in range(0, len(reply), 7):
        changed = reply[:at] + bytes([reply[at] ^ 0xFF]) + reply[at + 1 :]
        try:
            verify_disc.token_facts(changed)
        except verify_disc.Failure:
            continue
