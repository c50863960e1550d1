"""Checkpoints in C2SP signed notes: interoperability with the Go reference, and every tamper."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from chain.checkpoint import (
    Checkpoint,
    SignerKey,
    format_checkpoint,
    format_skey,
    format_vkey,
    generate_skey,
    key_id,
    open_note,
    parse_checkpoint,
    parse_skey,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    split_note,
    verify_note,
    vkey_of,
)
from chain.errors import CheckpointError, ProofError

# golang.org/x/mod/sumdb/note's published example (note_test.go, and the C2SP spec).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNATURE_LINE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)

ORIGIN = "evidock.test/log"
SIGNER = parse_skey(format_skey(ORIGIN, Ed25519PrivateKey.from_private_bytes(bytes(range(32)))))
VKEY = str(SIGNER.verifier())
ROOT = hashlib.sha256(b"root").digest()
CHECKPOINT = Checkpoint(ORIGIN, 1234, ROOT)
NOTE = sign_checkpoint(CHECKPOINT, SIGNER)


def _other_signer(name: str = ORIGIN) -> SignerKey:
    return parse_skey(generate_skey(name))


# -- interoperability with golang.org/x/mod/sumdb/note ------------------------------------


def test_go_reference_signature_is_reproduced_exactly() -> None:
    signer = parse_skey(GO_SKEY)
    assert signer.key_id.hex() == "c74f20a3"
    assert vkey_of(GO_SKEY) == GO_VKEY
    assert format_skey(signer.name, signer.private_key) == GO_SKEY
    assert sign_note(GO_TEXT, signer.name, signer.private_key) == GO_TEXT + "\n" + GO_SIGNATURE_LINE


def test_go_reference_note_verifies() -> None:
    assert open_note(GO_TEXT + "\n" + GO_SIGNATURE_LINE, GO_VKEY) == GO_TEXT


def test_go_reference_note_with_one_changed_byte_fails() -> None:
    with pytest.raises(CheckpointError, match="does not verify"):
        open_note(GO_TEXT.replace("answer", "Answer") + "\n" + GO_SIGNATURE_LINE, GO_VKEY)


# -- round trip ----------------------------------------------------------------------------


def test_checkpoint_body_format() -> None:
    body = format_checkpoint(CHECKPOINT)
    assert body == f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n"
    assert parse_checkpoint(body) == CHECKPOINT


def test_signed_note_layout() -> None:
    body, rest = NOTE.split("\n\n")
    assert body + "\n" == format_checkpoint(CHECKPOINT)
    assert rest.startswith("\u2014 " + ORIGIN + " ")
    raw = base64.b64decode(rest.split(" ")[2])
    assert raw[:4] == SIGNER.key_id
    assert len(raw) == 4 + 64


def test_sign_then_verify() -> None:
    assert verify_note(NOTE, VKEY) == CHECKPOINT
    assert verify_note(NOTE, SIGNER.verifier(), origin=ORIGIN) == CHECKPOINT


@given(
    st.text(
        alphabet=st.characters(min_codepoint=0x21, exclude_characters="+", exclude_categories=["Cs"]),
        min_size=1,
        max_size=20,
    ).filter(lambda name: not any(ch.isspace() for ch in name)),
    st.integers(min_value=0, max_value=2**64 - 1),
    st.binary(min_size=32, max_size=32),
    st.lists(
        st.text(
            alphabet=st.characters(min_codepoint=0x20, exclude_categories=["Cs"]),
            min_size=1,
            max_size=10,
        ),
        max_size=3,
    ),
)
def test_any_checkpoint_round_trips(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    checkpoint = Checkpoint(origin, size, root, tuple(extensions))
    signer = parse_skey(format_skey(origin, Ed25519PrivateKey.from_private_bytes(bytes(32))))
    note = sign_checkpoint(checkpoint, signer)
    assert verify_note(note, str(signer.verifier())) == checkpoint


def test_key_id_is_the_documented_hash() -> None:
    public = SIGNER.private_key.public_key()
    expected = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public.public_bytes_raw()).digest()[:4]
    assert key_id(ORIGIN, public) == expected == SIGNER.key_id
    assert VKEY.startswith(f"{ORIGIN}+{expected.hex()}+")
    assert format_vkey(ORIGIN, public) == VKEY


def test_signer_key_repr_hides_the_secret() -> None:
    assert "PRIVATE" not in repr(SIGNER)
    assert repr(SIGNER.private_key) not in repr(SIGNER)


# -- tampering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n1234\n", "\n1235\n"),
        ("\n1234\n", "\n123\n"),
        (ORIGIN + "\n", "evidock.test/other\n"),
        (base64.b64encode(ROOT).decode(), base64.b64encode(hashlib.sha256(b"x").digest()).decode()),
    ],
)
def test_changed_body_fails(old: str, new: str) -> None:
    tampered = NOTE.replace(old, new, 1)
    assert tampered != NOTE
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(tampered, VKEY)


def test_signature_by_another_key_with_the_same_name_fails() -> None:
    impostor = _other_signer()
    note = sign_checkpoint(CHECKPOINT, impostor)
    with pytest.raises(CheckpointError, match="no signature by"):
        verify_note(note, VKEY)


def test_signature_with_a_wrong_key_name_fails() -> None:
    renamed = NOTE.replace(f"\u2014 {ORIGIN} ", "\u2014 evidock.test/other ")
    with pytest.raises(CheckpointError, match="no signature by"):
        verify_note(renamed, VKEY)


def test_our_key_id_under_another_name_is_not_our_signature() -> None:
    signature = NOTE.split("\n\n")[1].split(" ")[2]
    note = NOTE.split("\n\n")[0] + f"\n\n\u2014 someone-else {signature}"
    with pytest.raises(CheckpointError, match="no signature by"):
        verify_note(note, VKEY)


@pytest.mark.parametrize("dash", ["-", "--", "\u2013", "\u2014", ""])
def test_signature_line_without_em_dash_and_space_is_malformed(dash: str) -> None:
    broken = NOTE.replace("\u2014 ", dash, 1) if dash == "\u2014" else NOTE.replace("\u2014", dash)
    with pytest.raises(CheckpointError, match="em dash"):
        verify_note(broken, VKEY)


def test_flipped_signature_bit_fails() -> None:
    body, line = NOTE.split("\n\n")
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[10] ^= 0x01
    note = f"{body}\n\n\u2014 {ORIGIN} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(note, VKEY)


def test_other_signatures_are_ignored_but_ours_decides() -> None:
    witness = _other_signer("witness.example")
    cosigned = NOTE + sign_note(format_checkpoint(CHECKPOINT), witness.name, witness.private_key).split("\n\n")[1]
    assert verify_note(cosigned, VKEY) == CHECKPOINT
    assert verify_note(cosigned, str(witness.verifier())) == CHECKPOINT
    names = [signature.name for signature in split_note(cosigned)[1]]
    assert names == [ORIGIN, "witness.example"]


def test_a_bad_signature_by_our_key_is_not_rescued_by_a_later_good_one() -> None:
    body, line = NOTE.split("\n\n")
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[-1] ^= 0x01
    bad = f"\u2014 {ORIGIN} {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_note(f"{body}\n\n{bad}{line}", VKEY)


def test_origin_is_checked_when_given() -> None:
    with pytest.raises(CheckpointError, match=r"expected origin 'evidock\.test/other'"):
        verify_note(NOTE, VKEY, origin="evidock.test/other")


@pytest.mark.parametrize(
    "note",
    [
        NOTE.replace("\n\n", "\n"),  # no blank line
        NOTE.rstrip("\n"),  # last signature line unterminated
        NOTE + "\n",  # empty signature block after a final blank line
        NOTE.replace("\n1234\n", "\n1234\r\n"),  # control character
        NOTE.replace(f"\u2014 {ORIGIN} ", f"\u2014 {ORIGIN}  "),  # empty base64
        NOTE.replace(f"\u2014 {ORIGIN} ", f"\u2014 {ORIGIN}+x "),  # '+' in key name
        NOTE[: NOTE.index("\u2014")] + "\u2014 " + ORIGIN + " AAAA\n",  # too short
        NOTE[: NOTE.index("\u2014")] + "\u2014 " + ORIGIN + " A===\n",  # not base64
        NOTE + "".join(NOTE.split("\n\n")[1] for _ in range(100)),  # 101 signatures
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(CheckpointError):
        verify_note(note, VKEY)


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n1234\n",  # no root line
        f"\n1234\n{base64.b64encode(ROOT).decode()}\n",  # empty origin
        f"{ORIGIN}\n01234\n{base64.b64encode(ROOT).decode()}\n",  # leading zero
        f"{ORIGIN}\n+1234\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n\u0661\u0662\n{base64.b64encode(ROOT).decode()}\n",  # Arabic-Indic digits
        f"{ORIGIN}\n{2**64}\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n1234\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31-byte root
        f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",  # unpadded
        f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}",  # no final newline
        f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n\nextension\n",  # empty line
    ],
)
def test_malformed_checkpoint_bodies_are_refused(body: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(body)


def test_extension_lines_round_trip() -> None:
    checkpoint = Checkpoint(ORIGIN, 7, ROOT, ("— time 1700000000", "extra"))
    assert parse_checkpoint(format_checkpoint(checkpoint)) == checkpoint


# -- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "vkey",
    [
        VKEY.replace(VKEY.split("+")[1], "00000000"),  # key id that does not match
        VKEY.replace(ORIGIN, "evidock.test/renamed"),  # name that does not match the id
        "+".join(VKEY.split("+", 2)[:2]),  # no key
        f"{ORIGIN}+{VKEY.split('+')[1]}+" + base64.b64encode(b"\x02" + bytes(32)).decode(),
        f"{ORIGIN}+{VKEY.split('+')[1]}+" + base64.b64encode(b"\x01" + bytes(31)).decode(),
        f"{ORIGIN}+zzzzzzzz+" + VKEY.split("+", 2)[2],
        "+" + VKEY,
        "has space+" + VKEY.split("+", 1)[1],
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(CheckpointError):
        parse_vkey(vkey)


@pytest.mark.parametrize(
    "skey",
    [
        GO_SKEY.removeprefix("PRIVATE+KEY+"),
        GO_SKEY.replace("c74f20a3", "c74f20a4"),
        GO_SKEY.replace("PeterNeumann", "PaulNeumann"),
        GO_SKEY[:-4],
    ],
)
def test_malformed_signer_keys_are_refused(skey: str) -> None:
    with pytest.raises(CheckpointError):
        parse_skey(skey)


def test_key_names_are_checked_when_signing() -> None:
    with pytest.raises(ValueError, match="key name"):
        sign_note("text\n", "bad name", SIGNER.private_key)
    with pytest.raises(ValueError, match="key name"):
        format_vkey("bad+name", SIGNER.private_key.public_key())
    with pytest.raises(ValueError, match="end with a newline"):
        sign_note("text", ORIGIN, SIGNER.private_key)


def test_checkpoint_errors_are_proof_errors() -> None:
    assert issubclass(CheckpointError, ProofError)
