"""docs/witness.md's example is what the code builds, and both verifiers (chain and the independent one) accept it."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain.cosignature import (
    check_cosignature_time,
    cosign,
    cosigned_message,
    cosigner_key_id,
    find_cosignatures,
    format_cosigner_vkey,
    parse_cosigner_skey,
    verify_cosignature,
    with_cosignatures,
)
from chain.errors import CheckpointError
from tests.chain.log_format_example import build
from tests.independent_verifier import verifier as independent

DOCUMENT = (Path(__file__).resolve().parents[2] / "docs" / "witness.md").read_text(encoding="utf-8")
SEED = hashlib.sha256(b"evidock example witness key: never use it for a real witness").digest()
NAME = "example.evidock/witness"
TIMESTAMP = 1795000000
LOG_NOTE = build().note


def _skey() -> str:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    key_id = cosigner_key_id(NAME, key.public_key())
    return f"PRIVATE+KEY+{NAME}+{key_id.hex()}+" + base64.b64encode(b"\x04" + SEED).decode()


def test_the_document_shows_the_example_as_built() -> None:
    secret = parse_cosigner_skey(_skey())
    vkey = format_cosigner_vkey(NAME, secret.private_key.public_key())
    line = cosign(LOG_NOTE, TIMESTAMP, secret)
    cosigned = with_cosignatures(LOG_NOTE, [line])
    for value in (
        _skey(),
        vkey,
        line.removesuffix("\n"),
        cosigned,
        cosigned_message(LOG_NOTE.split("\n\n")[0] + "\n", TIMESTAMP).decode(),
    ):
        assert value in DOCUMENT
    raw = base64.b64decode(line.split(" ")[-1])
    assert raw[:4].hex() == vkey.split("+")[1]
    assert raw[4:12].hex() == "000000006afd86c0"
    assert raw[:4].hex() in DOCUMENT
    assert raw[4:12].hex() in DOCUMENT


def test_both_verifiers_accept_the_example_and_refuse_changes() -> None:
    vkey = format_cosigner_vkey(NAME, Ed25519PrivateKey.from_private_bytes(SEED).public_key())
    line = cosign(LOG_NOTE, TIMESTAMP, parse_cosigner_skey(_skey()))
    cosigned = with_cosignatures(LOG_NOTE, [line])
    assert verify_cosignature(cosigned, line, vkey) == TIMESTAMP
    assert independent.verify_cosignature(cosigned, line, vkey) == TIMESTAMP
    independent.verify_checkpoint(cosigned, build().vkey)  # the log's own signature still verifies beside it
    # Another timestamp in the line (same signature): both refuse.
    raw = bytearray(base64.b64decode(line.split(" ")[-1]))
    raw[11] ^= 1
    forged = f"— {NAME} {base64.b64encode(bytes(raw)).decode()}"
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_cosignature(LOG_NOTE, forged, vkey)
    with pytest.raises(independent.VerificationError):
        independent.verify_cosignature(LOG_NOTE, forged, vkey)
    # A type 0x01 key with the same name and public key is not a witness key.
    typed_01 = f"{NAME}+00000000+" + base64.b64encode(b"\x01" + base64.b64decode(vkey.split("+")[2])[1:]).decode()
    with pytest.raises(CheckpointError, match="type 0x04"):
        verify_cosignature(LOG_NOTE, line, typed_01)
    with pytest.raises(independent.VerificationError):
        independent.verify_cosignature(LOG_NOTE, line, typed_01)


def test_find_cosignatures_ignores_unknown_keys_and_refuses_a_bad_known_one() -> None:
    secret = parse_cosigner_skey(_skey())
    other = parse_cosigner_skey(_other_skey())
    cosigned = with_cosignatures(LOG_NOTE, [cosign(LOG_NOTE, TIMESTAMP, secret), cosign(LOG_NOTE, 1, other)])
    found = find_cosignatures(cosigned, [secret.verifier()])
    assert [(c.name, c.timestamp) for c in found] == [(NAME, TIMESTAMP)]
    assert find_cosignatures(LOG_NOTE, [secret.verifier()]) == []
    # The witness's line moved onto another checkpoint does not verify.
    other_note = LOG_NOTE.replace("example.evidock/log\n3\n", "example.evidock/log\n4\n", 1)
    with pytest.raises(CheckpointError, match="does not verify"):
        find_cosignatures(with_cosignatures(other_note, [cosign(LOG_NOTE, TIMESTAMP, secret)]), [secret.verifier()])


def _other_skey() -> str:
    seed = hashlib.sha256(b"another example witness").digest()
    key = Ed25519PrivateKey.from_private_bytes(seed)
    name = "other.example/witness"
    return (
        f"PRIVATE+KEY+{name}+{cosigner_key_id(name, key.public_key()).hex()}+"
        + base64.b64encode(b"\x04" + seed).decode()
    )


def test_cosignature_time_must_fall_between_signing_and_checking() -> None:
    signed = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)
    checked = datetime(2026, 11, 20, tzinfo=UTC)
    assert check_cosignature_time(TIMESTAMP, signed_at=signed, checked_at=checked) == datetime(
        2026, 11, 18, 11, 6, 40, tzinfo=UTC
    )
    with pytest.raises(CheckpointError, match="before the checkpoint was signed"):
        check_cosignature_time(TIMESTAMP, signed_at=signed + timedelta(hours=1), checked_at=checked)
    with pytest.raises(CheckpointError, match="in the future"):
        check_cosignature_time(TIMESTAMP, signed_at=signed, checked_at=signed)
    # Within the allowed skew between two offices' clocks: accepted.
    check_cosignature_time(TIMESTAMP, signed_at=signed + timedelta(minutes=10), checked_at=checked)
