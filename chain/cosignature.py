"""Witness cosignatures on checkpoints (C2SP ``tlog-cosignature``, type ``cosignature/v1``, Ed25519).

A cosignature is a signed-note signature line added to a log's checkpoint by a
*witness* (another office) that checked the checkpoint is consistent with every
checkpoint of that log it saw before. It is what makes a rewritten history
detectable without trusting the log's own key: the witness refuses to cosign a
checkpoint that forks from what it saw (see ``witness/`` and docs/witness.md).

Format (tlog-cosignature, "Format" and "Ed25519 signed message")::

    — <witness name> base64(key id (4 bytes) ‖ timestamp (u64 big-endian) ‖ Ed25519 signature (64 bytes))

* key id = ``SHA-256(name ‖ 0x0A ‖ 0x04 ‖ 32-byte public key)[:4]`` — the
  signature type byte is **0x04**, not the 0x01 of a log's own key, so a
  cosignature can never be mistaken for a log signature;
* the signed message is ``cosignature/v1\\n``, ``time <timestamp>\\n`` (decimal,
  no leading zeros), then the whole checkpoint body including its extension
  lines and final newline, without any signature line;
* timestamp: POSIX seconds when the witness cosigned, at most 2^63 - 1.

Key strings follow the signed-note ``vkey`` form with type 0x04:
``<name>+<key id hex>+base64(0x04 ‖ public key)``. The witness keeps its secret
as ``PRIVATE+KEY+<name>+<key id hex>+base64(0x04 ‖ 32-byte seed)`` (evidock's
own spelling, mirroring the log's signer key; it never leaves the witness).

Semantics (tlog-cosignature): "as of the specified time, the consistent tree
head with the largest size the cosigner has observed for the log identified by
the origin line has the specified root hash". Extension lines are signed but the
witness makes no statement about them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chain.checkpoint import SIGNATURE_PREFIX, split_note
from chain.errors import CheckpointError

COSIGNATURE_V1 = 0x04
"""Signature type byte of an Ed25519 ``cosignature/v1`` (C2SP signed-note, tlog-cosignature)."""

HEADER = "cosignature/v1\n"
"""First line of every signed message: domain separation from log signatures."""

MAX_TIMESTAMP = 2**63 - 1
"""tlog-cosignature: the timestamp "MUST NOT exceed 2^63 - 1"."""

_SKEY_PREFIX = "PRIVATE+KEY+"
_SIGNATURE_BYTES = 4 + 8 + 64


@dataclass(frozen=True)
class CosignerKey:
    """A witness's public key: name, 4-byte key id (type 0x04) and Ed25519 key."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    def __str__(self) -> str:
        return format_cosigner_vkey(self.name, self.public_key)


@dataclass(frozen=True)
class CosignerSecret:
    """A witness's signing key. Never log it."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey

    def verifier(self) -> CosignerKey:
        return CosignerKey(self.name, self.key_id, self.private_key.public_key())

    def __repr__(self) -> str:
        return f"CosignerSecret(name={self.name!r}, key_id={self.key_id.hex()!r}, private_key=...)"


@dataclass(frozen=True)
class Cosignature:
    """One verified cosignature: who signed and when (POSIX seconds, UTC)."""

    name: str
    key_id: bytes
    timestamp: int


# -- keys ----------------------------------------------------------------------


def _check_name(name: str, error: type[Exception]) -> None:
    """A key name: non-empty, no white space, no '+', no control characters (signed-note)."""
    if not name or "+" in name or any(ch.isspace() or ch < " " for ch in name):
        raise error(f"witness key name must be non-empty with no spaces and no '+', got {name!r}")


def cosigner_key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """``SHA-256(name ‖ "\\n" ‖ 0x04 ‖ public key)[:4]`` (tlog-cosignature, "Format")."""
    raw = public_key.public_bytes_raw()
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([COSIGNATURE_V1]) + raw).digest()[:4]


def format_cosigner_vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """``<name>+<key id hex>+base64(0x04 ‖ public key)``."""
    _check_name(name, ValueError)
    encoded = base64.b64encode(bytes([COSIGNATURE_V1]) + public_key.public_bytes_raw()).decode("ascii")
    return f"{name}+{cosigner_key_id(name, public_key).hex()}+{encoded}"


def _split_key(text: str, what: str) -> tuple[str, bytes, bytes]:
    name, _, rest = text.partition("+")
    id_hex, _, encoded = rest.partition("+")
    _check_name(name, CheckpointError)
    try:
        claimed = bytes.fromhex(id_hex)
        typed = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise CheckpointError(f"{what} key is not <name>+<8 hex digits>+<base64>: {text[:60]!r}") from exc
    if len(claimed) != 4 or len(id_hex) != 8:
        raise CheckpointError(f"{what} key id must be 8 hex digits, got {id_hex!r}")
    if len(typed) != 33 or typed[0] != COSIGNATURE_V1:
        raise CheckpointError(
            f"{what} key must be type 0x04 (cosignature/v1, Ed25519) and 32 bytes, got {len(typed)} bytes "
            f"starting {typed[:1].hex()!r}"
        )
    return name, claimed, typed[1:]


def parse_cosigner_vkey(text: str) -> CosignerKey:
    """A witness's public key from its vkey string; the key id must match the name and key."""
    name, claimed, raw = _split_key(text.strip(), "witness verifier")
    public_key = Ed25519PublicKey.from_public_bytes(raw)
    actual = cosigner_key_id(name, public_key)
    if actual != claimed:
        raise CheckpointError(
            f"witness verifier key id does not match its name and key: expected {actual.hex()}, got {claimed.hex()}"
        )
    return CosignerKey(name, actual, public_key)


def generate_cosigner_skey(name: str) -> str:
    """A new random witness secret key string named ``name``."""
    private_key = Ed25519PrivateKey.generate()
    _check_name(name, ValueError)
    kid = cosigner_key_id(name, private_key.public_key())
    encoded = base64.b64encode(bytes([COSIGNATURE_V1]) + private_key.private_bytes_raw()).decode("ascii")
    return f"{_SKEY_PREFIX}{name}+{kid.hex()}+{encoded}"


def parse_cosigner_skey(text: str) -> CosignerSecret:
    """A witness secret key from its string; the key id must match the name and derived public key."""
    text = text.strip()
    if not text.startswith(_SKEY_PREFIX):
        raise CheckpointError(f"witness secret key must start with {_SKEY_PREFIX!r}")
    name, claimed, seed = _split_key(text.removeprefix(_SKEY_PREFIX), "witness secret")
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    actual = cosigner_key_id(name, private_key.public_key())
    if actual != claimed:
        raise CheckpointError(
            f"witness secret key id does not match its name and key: expected {actual.hex()}, got {claimed.hex()}"
        )
    return CosignerSecret(name, actual, private_key)


# -- signing and verifying -----------------------------------------------------


def checkpoint_body(note: str) -> str:
    """The body of a signed note (everything before its signature block), or ``note`` if it is a bare body."""
    if "\n\n" in note:
        body, _ = split_note(note)
        return body
    if not note.endswith("\n"):
        raise CheckpointError("checkpoint body must end with a newline")
    return note


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes a ``cosignature/v1`` signs (tlog-cosignature, "Ed25519 signed message")."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"cosignature timestamp must be in [0, 2^63), got {timestamp}")
    return (HEADER + f"time {timestamp}\n" + body).encode("utf-8")


def cosign(note: str, timestamp: int, secret: CosignerSecret) -> str:
    """The cosignature line (ending in a newline) of ``secret`` on the checkpoint in ``note`` at ``timestamp``."""
    body = checkpoint_body(note)
    signature = secret.private_key.sign(cosigned_message(body, timestamp))
    raw = secret.key_id + struct.pack(">Q", timestamp) + signature
    return f"{SIGNATURE_PREFIX}{secret.name} {base64.b64encode(raw).decode('ascii')}\n"


def verify_cosignature(note: str, line: str, witness_vkey: str | CosignerKey) -> int:
    """Check one cosignature line on ``note`` (signed note or bare body); return its timestamp (POSIX s).

    Raises ``CheckpointError`` if the line is not a cosignature by this witness
    (other name or key id), is malformed, or does not verify. Whether the
    timestamp is plausible (not in the future, not before the log signed the
    checkpoint) is the caller's judgement: this function has no clock.
    """
    key = parse_cosigner_vkey(witness_vkey) if isinstance(witness_vkey, str) else witness_vkey
    body = checkpoint_body(note)
    text = line.removesuffix("\n")
    if not text.startswith(SIGNATURE_PREFIX) or "\n" in text:
        raise CheckpointError(f"a cosignature is one line starting with an em dash and a space, got {text[:30]!r}")
    name, _, encoded = text.removeprefix(SIGNATURE_PREFIX).partition(" ")
    if name != key.name:
        raise CheckpointError(f"cosignature is by {name!r}, not by witness {key.name!r}")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise CheckpointError(f"cosignature by {name} is not standard base64") from exc
    if base64.b64encode(raw).decode("ascii") != encoded:
        raise CheckpointError(f"cosignature by {name} is not canonical base64")
    if raw[:4] != key.key_id:
        raise CheckpointError(
            f"cosignature by {name} has key id {raw[:4].hex()}, expected {key.key_id.hex()} (type 0x04)"
        )
    if len(raw) != _SIGNATURE_BYTES:
        raise CheckpointError(
            f"cosignature by {name} has wrong length: expected {_SIGNATURE_BYTES} bytes "
            f"(key id, timestamp, Ed25519 signature), got {len(raw)}"
        )
    (timestamp,) = struct.unpack(">Q", raw[4:12])
    if timestamp > MAX_TIMESTAMP:
        raise CheckpointError(f"cosignature by {name} has timestamp {timestamp} above 2^63 - 1")
    try:
        key.public_key.verify(raw[12:], cosigned_message(body, timestamp))
    except InvalidSignature as exc:
        raise CheckpointError(f"cosignature by {name} (key id {key.key_id.hex()}) does not verify") from exc
    return int(timestamp)


def check_cosignature_time(
    timestamp: int, *, signed_at: datetime, checked_at: datetime, skew: timedelta = timedelta(minutes=5)
) -> datetime:
    """The cosignature's time as a UTC datetime, if plausible; ``CheckpointError`` if not.

    Plausible: not before the log signed the checkpoint (``signed_at``) and not
    after the moment of checking (``checked_at``; tlog-cosignature: "verifiers
    MAY reject cosignatures with timestamps in the future"), each with ``skew``
    for clocks that differ between offices. Both instants must be timezone-aware.
    """
    if signed_at.tzinfo is None or checked_at.tzinfo is None:
        raise ValueError("signed_at and checked_at must be timezone-aware")
    moment = datetime.fromtimestamp(timestamp, UTC)
    if moment < signed_at - skew:
        raise CheckpointError(
            f"cosignature time {moment.isoformat()} is before the checkpoint was signed ({signed_at.isoformat()})"
        )
    if moment > checked_at + skew:
        raise CheckpointError(f"cosignature time {moment.isoformat()} is in the future (now {checked_at.isoformat()})")
    return moment


def find_cosignatures(note: str, witnesses: list[CosignerKey]) -> list[Cosignature]:
    """The verified cosignatures in a signed note by any of ``witnesses`` (one per witness, first that verifies).

    Lines by unknown keys are ignored (tlog-witness: "The client MUST ignore any
    cosignatures from unknown keys"); a line by a known witness that does not
    verify raises ``CheckpointError``, as a bad trusted signature does in a note.
    """
    body, signatures = split_note(note)
    found: dict[str, Cosignature] = {}
    for signature in signatures:
        for key in witnesses:
            if signature.name != key.name or signature.key_id != key.key_id or key.name in found:
                continue
            encoded = base64.b64encode(signature.key_id + signature.signature).decode("ascii")
            timestamp = verify_cosignature(body, f"{SIGNATURE_PREFIX}{signature.name} {encoded}", key)
            found[key.name] = Cosignature(key.name, key.key_id, timestamp)
    return list(found.values())


def with_cosignatures(note: str, lines: list[str]) -> str:
    """``note`` with the cosignature ``lines`` appended to its signature block (lines already there are kept once)."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise ValueError("note must be a signed note (body, blank line, signature lines)")
    present = set(note.split("\n"))
    added = [line.removesuffix("\n") for line in lines if line.removesuffix("\n") not in present]
    return note + "".join(f"{line}\n" for line in dict.fromkeys(added))
