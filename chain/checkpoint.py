"""Checkpoints (C2SP ``tlog-checkpoint``) in signed notes (C2SP ``signed-note``), Ed25519.

A checkpoint body is three lines and optional extension lines, each ending in
a newline::

    evidock.example/dock-log
    1000000
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

origin (the log's name), tree size in decimal, root hash in standard base64.

A signed note is the body, a blank line, then one line per signature::

    — <key name> <base64(key id (4 bytes) ‖ Ed25519 signature (64 bytes))>

starting with U+2014 EM DASH and a space. The signature covers the body bytes
(UTF-8, with its final newline). The key id is the first 4 bytes of
``SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)``, 0x01 naming Ed25519.

Keys are exchanged as strings, as in ``golang.org/x/mod/sumdb/note``:

* verifier key: ``<name>+<key id, 8 hex digits>+<base64(0x01 ‖ public key)>``
* signer key: ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ 32-byte seed)>``

Parsing follows the Go reference: the signature block starts after the *last*
blank line; a note may carry signatures by other keys (witness cosignatures),
which are checked for form and otherwise ignored; the first signature by the
trusted key decides, and if it does not verify the whole note is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chain.errors import CheckpointError
from chain.merkle import HASH_SIZE

ED25519 = 0x01
"""Signature type byte for Ed25519 in key ids and key strings (C2SP signed-note)."""

SIGNATURE_PREFIX = "\u2014 "
"""Every signature line starts with U+2014 EM DASH then a space."""

MAX_SIGNATURES = 100
"""More signature lines than this and the note is refused (as in the Go reference)."""

_SKEY_PREFIX = "PRIVATE+KEY+"
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")
_MAX_SIZE = 2**64 - 1


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed claim: the first ``size`` entries have Merkle root ``root``."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The ``tlog-checkpoint`` note text (what gets signed)."""
        return format_checkpoint(self)


@dataclass(frozen=True)
class VerifierKey:
    """A public key a note is checked against, with its name and 4-byte key id."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    def __str__(self) -> str:
        return format_vkey(self.name, self.public_key)


@dataclass(frozen=True)
class SignerKey:
    """A private signing key with its name and 4-byte key id."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey

    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.key_id, self.private_key.public_key())

    def __repr__(self) -> str:
        return f"SignerKey(name={self.name!r}, key_id={self.key_id.hex()!r}, private_key=...)"


# -- checks shared by notes, checkpoints and keys -------------------------------


_Error = type[Exception]
"""Checks raise ``CheckpointError`` on data read in, ``ValueError`` on what a caller builds."""


def _check_name(name: str, error: _Error = CheckpointError) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise error(f"key name must be non-empty with no spaces and no '+', got {name!r}")
    _check_note_text(name, "key name", error)


def _check_note_text(text: str, what: str, error: _Error = CheckpointError) -> None:
    """UTF-8 (guaranteed by ``str`` without lone surrogates), no control characters but newline."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(f"{what} is not valid UTF-8: {exc}") from exc
    for position, ch in enumerate(text):
        if ch < " " and ch != "\n":
            raise error(f"{what} holds control character {ch!r} at {position}; only newline is allowed")


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64, padded, canonical (re-encoding gives the same text)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise CheckpointError(f"{what} is not standard base64: {text!r}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckpointError(f"{what} is not canonical standard base64: {text!r}")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# -- keys ----------------------------------------------------------------------


def _public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """First 4 bytes of ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)``."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ED25519]) + _public_bytes(public_key)).digest()
    return digest[:4]


def format_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """``<name>+<key id hex>+<base64(0x01 ‖ public key)>``."""
    _check_name(name, ValueError)
    encoded = _b64encode(bytes([ED25519]) + _public_bytes(public_key))
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def _split_key(text: str, what: str) -> tuple[str, bytes, bytes]:
    """``name+hash+base64`` into name, key id and the decoded typed key (0x01 ‖ 32 bytes)."""
    name, _, rest = text.partition("+")
    id_hex, _, encoded = rest.partition("+")
    _check_name(name)
    if not _KEY_ID_HEX.fullmatch(id_hex):
        raise CheckpointError(f"{what} key id must be 8 hex digits, got {id_hex!r}")
    typed = _b64decode(encoded, f"{what} key")
    if len(typed) != 33 or typed[0] != ED25519:
        raise CheckpointError(
            f"{what} key must be 0x01 and 32 bytes (Ed25519), got {len(typed)} bytes starting {typed[:1].hex()!r}"
        )
    return name, bytes.fromhex(id_hex), typed[1:]


def parse_vkey(text: str) -> VerifierKey:
    """A verifier key from its note string; the key id must match name and key."""
    name, claimed_id, raw = _split_key(text, "verifier")
    public_key = Ed25519PublicKey.from_public_bytes(raw)
    actual = key_id(name, public_key)
    if actual != claimed_id:
        raise CheckpointError(
            f"verifier key id does not match its name and key: expected {actual.hex()}, got {claimed_id.hex()}"
        )
    return VerifierKey(name, actual, public_key)


def format_skey(name: str, private_key: Ed25519PrivateKey) -> str:
    """``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 ‖ seed)>``. A secret: never log it."""
    _check_name(name, ValueError)
    kid = key_id(name, private_key.public_key())
    encoded = _b64encode(bytes([ED25519]) + private_key.private_bytes_raw())
    return f"{_SKEY_PREFIX}{name}+{kid.hex()}+{encoded}"


def parse_skey(text: str) -> SignerKey:
    """A signer key from its note string; the key id must match name and derived public key."""
    if not text.startswith(_SKEY_PREFIX):
        raise CheckpointError(f"signer key must start with {_SKEY_PREFIX!r}")
    name, claimed_id, seed = _split_key(text.removeprefix(_SKEY_PREFIX), "signer")
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    actual = key_id(name, private_key.public_key())
    if actual != claimed_id:
        raise CheckpointError(
            f"signer key id does not match its name and key: expected {actual.hex()}, got {claimed_id.hex()}"
        )
    return SignerKey(name, actual, private_key)


def generate_skey(name: str) -> str:
    """A new random Ed25519 signer key string named ``name``."""
    return format_skey(name, Ed25519PrivateKey.generate())


def vkey_of(skey: str) -> str:
    """The verifier key string that checks signatures made with ``skey``."""
    signer = parse_skey(skey)
    return format_vkey(signer.name, signer.private_key.public_key())


# -- checkpoint bodies ---------------------------------------------------------


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """The ``tlog-checkpoint`` body: origin, size, base64 root, extensions; each ends in newline."""
    if not checkpoint.origin or "\n" in checkpoint.origin:
        raise ValueError(f"checkpoint origin must be one non-empty line, got {checkpoint.origin!r}")
    if not 0 <= checkpoint.size <= _MAX_SIZE:
        raise ValueError(f"checkpoint size must be in [0, 2^64), got {checkpoint.size}")
    if len(checkpoint.root) != HASH_SIZE:
        raise ValueError(f"checkpoint root must be {HASH_SIZE} bytes, got {len(checkpoint.root)}")
    for line in checkpoint.extensions:
        if not line or "\n" in line:
            raise ValueError(f"checkpoint extension must be one non-empty line, got {line!r}")
    lines = [checkpoint.origin, str(checkpoint.size), _b64encode(checkpoint.root)]
    body = "\n".join([*lines, *checkpoint.extensions]) + "\n"
    _check_note_text(body, "checkpoint", ValueError)
    return body


def parse_checkpoint(body: str) -> Checkpoint:
    """A checkpoint from its note text (signature not checked here: see :func:`verify_note`)."""
    _check_note_text(body, "checkpoint")
    if not body.endswith("\n"):
        raise CheckpointError("checkpoint must end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(
            f"checkpoint must have origin, size and root lines: expected 3 or more lines, got {len(lines)}"
        )
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin line is empty")
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > _MAX_SIZE:
        raise CheckpointError(
            f"checkpoint size must be a decimal number without leading zeros below 2^64, got {size_text!r}"
        )
    root = _b64decode(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash has wrong size: expected {HASH_SIZE} bytes, got {len(root)}")
    if any(not line for line in extensions):
        raise CheckpointError("checkpoint has an empty line; extension lines must not be empty")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


# -- signed notes --------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note, parsed but not verified."""

    name: str
    key_id: bytes
    signature: bytes


def sign_note(body: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """``body`` signed by ``private_key`` as key ``name``: body, blank line, signature line."""
    _check_name(name, ValueError)
    if not body or not body.endswith("\n"):
        raise ValueError("note text must be non-empty and end with a newline")
    _check_note_text(body, "note text", ValueError)
    signature = private_key.sign(body.encode("utf-8"))
    kid = key_id(name, private_key.public_key())
    return f"{body}\n{SIGNATURE_PREFIX}{name} {_b64encode(kid + signature)}\n"


def split_note(text: str) -> tuple[str, list[NoteSignature]]:
    """The text and signature lines of a signed note, checked for form only."""
    _check_note_text(text, "signed note")
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("signed note has no blank line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block or not block.endswith("\n"):
        raise CheckpointError("signed note must end with signature lines, each ending in newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"signed note has too many signatures: at most {MAX_SIGNATURES}, got {len(lines)}")
    signatures = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError(
                f"signature line {number} must start with an em dash (U+2014) and a space, got {line[:20]!r}"
            )
        name, _, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        _check_name(name)
        raw = _b64decode(encoded, f"signature line {number}")
        if len(raw) < 5:
            raise CheckpointError(
                f"signature line {number} is too short: expected key id and signature, got {len(raw)} bytes"
            )
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return body, signatures


def open_note(text: str, vkey: str | VerifierKey) -> str:
    """The text of a signed note after checking its signature by ``vkey``.

    Signatures by other keys are ignored. Raises ``CheckpointError`` if the note
    is malformed, carries no signature by this key, or that signature fails.
    """
    key = parse_vkey(vkey) if isinstance(vkey, str) else vkey
    body, signatures = split_note(text)
    for signature in signatures:
        if signature.name == key.name and signature.key_id == key.key_id:
            try:
                key.public_key.verify(signature.signature, body.encode("utf-8"))
            except InvalidSignature as exc:
                raise CheckpointError(f"signature by {key.name} (key id {key.key_id.hex()}) does not verify") from exc
            return body
    raise CheckpointError(
        f"signed note has no signature by {key.name} (key id {key.key_id.hex()}); found {_describe(signatures)}"
    )


def _describe(signatures: Sequence[NoteSignature]) -> str:
    found = [f"{s.name} (key id {s.key_id.hex()})" for s in signatures]
    return ", ".join(found) if found else "none"


def verify_note(text: str, vkey: str | VerifierKey, *, origin: str | None = None) -> Checkpoint:
    """The checkpoint in a signed note, after checking its signature by ``vkey``.

    With ``origin``, the checkpoint must also be for that log.
    """
    checkpoint = parse_checkpoint(open_note(text, vkey))
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint is for another log: expected origin {origin!r}, got {checkpoint.origin!r}")
    return checkpoint


def sign_checkpoint(checkpoint: Checkpoint, signer: SignerKey) -> str:
    """The signed note of a checkpoint."""
    return sign_note(format_checkpoint(checkpoint), signer.name, signer.private_key)
