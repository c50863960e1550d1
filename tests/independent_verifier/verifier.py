"""A second verifier of evidock's log, written only from docs/log-format.md.

Since issue 14 it also checks witness cosignatures, written only from
docs/witness.md ("Wire formats").

It imports nothing from evidock (standard library and ``cryptography`` only),
so agreement with ``chain`` shows the document is enough to check a log. The
API takes what a person holding a disc or CLI output has: checkpoint note
text, the verifier key string, entry bytes, indices, and proofs as lists of
hex strings. Every check failure raises ``VerificationError``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class VerificationError(Exception):
    """The log, an entry, a proof or a checkpoint does not verify."""


@dataclass(frozen=True)
class CheckpointClaim:
    origin: str
    size: int
    root: bytes


# -- §3 hashes -----------------------------------------------------------------

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


# -- §4 the tree ---------------------------------------------------------------


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes, straight from the definition."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _largest_power_of_two_below(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


# -- §5 proofs -----------------------------------------------------------------


def _path_length(m: int, n: int) -> int:
    steps = 0
    while n > 1:
        k = _largest_power_of_two_below(n)
        if m < k:
            n = k
        else:
            m, n = m - k, n - k
        steps += 1
    return steps


def _proof_length(m: int, n: int) -> int:
    elements, whole = 0, True
    while m != n:
        k = _largest_power_of_two_below(n)
        if m <= k:
            n = k
        else:
            m, n, whole = m - k, n - k, False
        elements += 1
    return elements + (0 if whole else 1)


def _hashes(proof_hex: Sequence[str]) -> list[bytes]:
    try:
        proof = [bytes.fromhex(item) for item in proof_hex]
    except ValueError as exc:
        raise VerificationError(f"proof element is not hex: {exc}") from exc
    for item in proof:
        if len(item) != 32:
            raise VerificationError(f"proof element is {len(item)} bytes, not 32")
    return proof


def check_inclusion(leaf: bytes, m: int, n: int, proof: Sequence[bytes], root: bytes) -> None:
    if m >= n or m < 0:
        raise VerificationError(f"index {m} is not in a tree of {n}")
    if len(leaf) != 32:
        raise VerificationError("leaf hash is not 32 bytes")
    if len(proof) != _path_length(m, n):
        raise VerificationError(f"proof length {len(proof)}, want {_path_length(m, n)}")
    fn, sn, r = m, n - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("proof too long")
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn //= 2
                    sn //= 2
        else:
            r = node_hash(r, p)
        fn //= 2
        sn //= 2
    if sn != 0 or r != root:
        raise VerificationError("inclusion proof does not reach the root")


def _check_trivial_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Steps 1-3 of §5.2; True when they settle it."""
    if m > n:
        raise VerificationError("old size larger than new size")
    if m == n:
        if proof or old_root != new_root or (m == 0 and old_root != EMPTY_ROOT):
            raise VerificationError("equal sizes need an empty proof and equal roots")
        return True
    if m == 0:
        raise VerificationError("consistency from the empty tree proves nothing")
    return False


def check_consistency(m: int, n: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    if _check_trivial_consistency(m, n, old_root, new_root, proof):
        return
    if len(proof) != _proof_length(m, n):
        raise VerificationError(f"proof length {len(proof)}, want {_proof_length(m, n)}")
    path = list(proof)
    if m & (m - 1) == 0:
        path = [old_root, *path]
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("proof too long")
        if fn % 2 == 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn //= 2
                    sn //= 2
        else:
            sr = node_hash(sr, c)
        fn //= 2
        sn //= 2
    if sn != 0 or fr != old_root or sr != new_root:
        raise VerificationError("consistency proof does not reach both roots")


# -- §6 keys, notes, checkpoints -----------------------------------------------


def _b64(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise VerificationError(f"bad base64 {text!r}") from exc
    if base64.b64encode(raw).decode() != text:
        raise VerificationError(f"non-canonical base64 {text!r}")
    return raw


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def parse_verifier_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    name, _, rest = vkey.partition("+")
    key_id_hex, _, key_b64 = rest.partition("+")
    if not _valid_name(name) or not re.fullmatch(r"[0-9a-fA-F]{8}", key_id_hex):
        raise VerificationError("malformed verifier key")
    typed = _b64(key_b64)
    if len(typed) != 33 or typed[0] != 1:
        raise VerificationError("verifier key is not Ed25519")
    key_id = hashlib.sha256(name.encode() + b"\n" + typed).digest()[:4]
    if key_id != bytes.fromhex(key_id_hex):
        raise VerificationError("verifier key id does not match")
    return name, key_id, Ed25519PublicKey.from_public_bytes(typed[1:])


def open_signed_note(note: str, vkey: str) -> str:
    name, key_id, public_key = parse_verifier_key(vkey)
    if any(c < " " and c != "\n" for c in note):
        raise VerificationError("control character in note")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise VerificationError("no blank line in note")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block.endswith("\n"):
        raise VerificationError("signature block must end with newline")
    lines = block[:-1].split("\n")
    if len(lines) > 100:
        raise VerificationError("too many signatures")
    found = None
    for line in lines:
        if not line.startswith("\u2014 "):
            raise VerificationError("signature line without em dash")
        signer, _, sig_b64 = line[2:].partition(" ")
        raw = _b64(sig_b64)
        if not _valid_name(signer) or len(raw) < 5:
            raise VerificationError("malformed signature line")
        if found is None and signer == name and raw[:4] == key_id:
            found = raw[4:]
    if found is None:
        raise VerificationError(f"no signature by {name}")
    try:
        public_key.verify(found, text.encode())
    except InvalidSignature as exc:
        raise VerificationError("signature does not verify") from exc
    return text


def verify_checkpoint(note: str, vkey: str, *, origin: str | None = None) -> CheckpointClaim:
    """The checkpoint in ``note`` if it is signed by ``vkey`` (and is for ``origin``)."""
    text = open_signed_note(note, vkey)
    lines = text[:-1].split("\n")
    if len(lines) < 3 or any(line == "" for line in lines):
        raise VerificationError("checkpoint needs origin, size and root lines, none empty")
    if not re.fullmatch(r"0|[1-9][0-9]*", lines[1]) or int(lines[1]) >= 2**64:
        raise VerificationError("bad checkpoint size")
    root = _b64(lines[2])
    if len(root) != 32:
        raise VerificationError("checkpoint root is not 32 bytes")
    if origin is not None and lines[0] != origin:
        raise VerificationError("checkpoint is for another log")
    return CheckpointClaim(lines[0], int(lines[1]), root)


# -- docs/witness.md W1-W3: witness cosignatures -------------------------------


def parse_witness_key(vkey: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """W1: ``name+id+base64(0x04 || key)``, id = SHA-256(name || 0x0A || 0x04 || key)[:4]."""
    name, _, rest = vkey.partition("+")
    key_id_hex, _, key_b64 = rest.partition("+")
    if not _valid_name(name) or not re.fullmatch(r"[0-9a-fA-F]{8}", key_id_hex):
        raise VerificationError("malformed witness key")
    typed = _b64(key_b64)
    if len(typed) != 33 or typed[0] != 4:
        raise VerificationError("witness key is not type 0x04 (cosignature/v1)")
    key_id = hashlib.sha256(name.encode() + b"\n" + typed).digest()[:4]
    if key_id != bytes.fromhex(key_id_hex):
        raise VerificationError("witness key id does not match")
    return name, key_id, Ed25519PublicKey.from_public_bytes(typed[1:])


def verify_cosignature(note: str, line: str, witness_vkey: str) -> int:
    """W2-W3: the timestamp of a cosignature line by ``witness_vkey`` on the checkpoint body of ``note``."""
    name, key_id, public_key = parse_witness_key(witness_vkey)
    cut = note.rfind("\n\n")
    body = note[: cut + 1] if cut >= 0 else note
    line = line.removesuffix("\n")
    if not line.startswith("\u2014 "):
        raise VerificationError("cosignature line without em dash")
    signer, _, sig_b64 = line[2:].partition(" ")
    raw = _b64(sig_b64)
    if signer != name or raw[:4] != key_id:
        raise VerificationError(f"cosignature is not by {name}")
    if len(raw) != 76:
        raise VerificationError("cosignature is not 76 bytes")
    timestamp = int.from_bytes(raw[4:12], "big")
    if timestamp >= 2**63:
        raise VerificationError("cosignature timestamp too large")
    message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
    try:
        public_key.verify(raw[12:], message)
    except InvalidSignature as exc:
        raise VerificationError("cosignature does not verify") from exc
    return timestamp


def verify_cosigned_checkpoint(note: str, vkey: str, witness_vkeys: Sequence[str], quorum: int) -> list[str]:
    """W5: the names of the witnesses (of ``witness_vkeys``) whose cosignature on ``note`` verifies.

    The log's signature must verify; a line by a listed witness that fails is an
    error; lines by other keys are ignored; fewer than ``quorum`` witnesses is an error.
    """
    verify_checkpoint(note, vkey)
    cut = note.rfind("\n\n")
    lines = note[cut + 2 :].removesuffix("\n").split("\n")
    found = []
    for witness_vkey in witness_vkeys:
        name, key_id, _ = parse_witness_key(witness_vkey)
        mine = [
            line
            for line in lines
            if line[2:].partition(" ")[0] == name and _b64(line[2:].partition(" ")[2])[:4] == key_id
        ]
        for line in mine:
            verify_cosignature(note, line, witness_vkey)
        if mine:
            found.append(name)
    if len(found) < quorum:
        raise VerificationError(f"{len(found)} witness cosignature(s), the quorum is {quorum}")
    return sorted(found)


# -- §2 entries ----------------------------------------------------------------


_LITERALS = {None: "null", True: "true", False: "false"}


def _canonical(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return _LITERALS[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list):
        return "[" + ",".join(_canonical(item) for item in value) + "]"
    keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
    return "{" + ",".join(_quote(k) + ":" + _canonical(value[k]) for k in keys) + "}"


_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _quote(text: str) -> str:
    out = []
    for c in text:
        if c in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[c])
        elif c < " ":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _reject_float(text: str) -> None:
    raise VerificationError(f"non-integer number {text}")


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise VerificationError("repeated member name")
    return dict(pairs)


def _check_values(value: Any) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise VerificationError("integer out of range")
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise VerificationError("unpaired surrogate") from exc
    elif isinstance(value, list):
        for item in value:
            _check_values(item)
    else:
        for key, item in value.items():
            _check_values(key)
            _check_values(item)


def _is_time(v: Any) -> bool:
    if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v, re.ASCII):
        return False
    try:
        datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


def _is_time_ms(v: Any) -> bool:
    if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", v, re.ASCII):
        return False
    try:
        datetime.strptime(v[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def _is_b64(v: Any) -> bool:
    try:
        return isinstance(v, str) and bool(v) and base64.b64encode(base64.b64decode(v, validate=True)).decode() == v
    except binascii.Error:
        return False


_KINDS = {
    "text": lambda v: isinstance(v, str) and v != "",
    "sha256": lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None,
    "count": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "time": _is_time,
    "time-ms": _is_time_ms,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "commitment": lambda v: isinstance(v, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", v) is not None,
    "commitments": lambda v: (
        isinstance(v, list) and all(isinstance(c, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", c) for c in v)
    ),
    "bool": lambda v: isinstance(v, bool),
    "strings": lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
    "b64": _is_b64,
}

# type: (recording rule, {key: (kind, nullable, required)}) from the §2.4 table.
_R, _O = True, False
_SCHEMA: dict[str, tuple[str, dict[str, tuple[str, bool, bool]]]] = {
    "INGEST": (
        "yes",
        {
            "sha256": ("sha256", False, _R),
            "size": ("count", False, _R),
            "object_key": ("text", False, _R),
            "version_id": ("text", False, _R),
            "original_name": ("text", False, _R),
            "device": ("text", True, _R),
            "officer": ("text", True, _R),
            "start_raw": ("time", True, _R),
            "sequence": ("count", True, _R),
            "retain_until": ("time", False, _R),
            "received_at": ("time", False, _R),
            "original_name_b64": ("b64", False, _O),
        },
    ),
    "LABEL": (
        "yes",
        {
            "case_number": ("text", False, _R),
            "parties": ("commitments", False, _R),
            "handler": ("text", False, _R),
        },
    ),
    "FINDING": ("yes", {"finding_id": ("text", False, _R), "kind": ("text", False, _R)}),
    "EXPLANATION": (
        "yes",
        {
            "finding_id": ("text", False, _R),
            "author": ("text", False, _R),
            "explanation": ("text", False, _R),
        },
    ),
    "ACCESS": (
        "either",
        {
            "actor": ("text", False, _R),
            "role": ("text", False, _R),
            "action": ("text", False, _R),
            "reason": ("text", False, _R),
            "approver": ("text", True, _R),
            "requester_category": ("text", True, _R),
            "document_ref": ("text", True, _R),
            "approval": ("count", True, _O),
            "requester": ("commitment", True, _O),
        },
    ),
    "APPROVAL": (
        "either",
        {
            "approver": ("text", False, _R),
            "action": ("text", False, _R),
            "decision": ("text", False, _R),
            "reason": ("text", False, _R),
        },
    ),
    "HOLD": ("yes", {"action": ("text", False, _R), "reason": ("text", False, _R)}),
    "RETENTION": ("yes", {"retain_until": ("time", False, _R), "reason": ("text", False, _R)}),
    "EXPORT": (
        "yes",
        {
            "export_id": ("text", False, _R),
            "maker": ("text", False, _R),
            "extractor": ("text", False, _R),
        },
    ),
    "EXPORT_SEALED": (
        "no",
        {
            "export_id": ("text", False, _R),
            "image_sha256": ("sha256", False, _R),
            "image_size": ("count", False, _R),
        },
    ),
    "FIXITY": ("yes", {"sha256": ("sha256", False, _R), "match": ("bool", False, _R)}),
    "PURGE": (
        "yes",
        {
            "object_key": ("text", False, _R),
            "version_id": ("text", False, _R),
            "reason": ("text", False, _R),
        },
    ),
    "KEY": ("no", {"action": ("text", False, _R), "vkey": ("text", False, _R)}),
    "USER": (
        "no",
        {
            "action": ("text", False, _R),
            "user": ("text", False, _R),
            "actor": ("text", False, _R),
            "role": ("text", True, _R),
            "detail": ("text", False, _R),
        },
    ),
    "CLOCK": (
        "either",
        {
            "device": ("text", False, _R),
            "device_time": ("time-ms", False, _R),
            "station_time": ("time-ms", False, _R),
            "offset_ms": ("integer", False, _R),
            "source": ("text", False, _R),
            "by": ("text", False, _R),
        },
    ),
    "REQUEST": (
        "yes",
        {
            "request": ("count", False, _R),
            "requested_by": ("text", False, _R),
            "action": ("text", False, _R),
            "reason": ("text", False, _R),
            "requester_category": ("text", False, _R),
            "document_ref": ("text", True, _R),
            "requester": ("commitment", True, _O),
            "party": ("commitment", True, _O),
        },
    ),
    "CASE": ("no", {"case_number": ("text", False, _R), "action": ("text", False, _R), "by": ("text", False, _R)}),
    "DECISION": ("no", {"case_number": ("text", False, _R), "action": ("text", False, _R), "by": ("text", False, _R)}),
    "REVIEW": ("no", {"case_number": ("text", False, _R), "action": ("text", False, _R), "by": ("text", False, _R)}),
    "PUBLICATION": (
        "no",
        {"case_number": ("text", False, _R), "action": ("text", False, _R), "by": ("text", False, _R)},
    ),
    "DERIVED": (
        "yes",
        {
            "kind": ("text", False, _R),
            "original_sha256": ("sha256", False, _R),
            "sha256": ("sha256", False, _R),
            "size": ("count", False, _R),
            "object_key": ("text", False, _R),
            "version_id": ("text", False, _R),
            "ffmpeg": ("text", False, _R),
            "arguments": ("strings", False, _R),
            "requested_by": ("text", False, _R),
            "approved_by": ("text", True, _R),
            "retain_until": ("time", True, _R),
            "redaction": ("count", True, _O),
            "spec_sha256": ("sha256", True, _O),
        },
    ),
    "REDACTION": (
        "yes",
        {
            "redaction": ("count", False, _R),
            "action": ("text", False, _R),
            "by": ("text", False, _R),
            "spec_sha256": ("sha256", True, _R),
            "request": ("count", True, _O),
        },
    ),
}


def check_entry(entry: bytes) -> dict[str, Any]:
    """The parsed entry if its bytes are canonical and its fields follow §2."""
    try:
        value = json.loads(
            entry.decode("utf-8"),
            parse_float=_reject_float,
            parse_constant=_reject_float,
            object_pairs_hook=_no_repeats,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"entry is not UTF-8 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise VerificationError("entry is not an object")
    _check_values(value)
    if _canonical(value).encode("utf-8") != entry:
        raise VerificationError("entry bytes are not canonical")
    _check_envelope(value)
    _check_body(value["type"], value["body"])
    return value


def _check_envelope(value: dict[str, Any]) -> None:
    if set(value) != {"v", "type", "time", "station", "recording", "prev", "body"}:
        raise VerificationError("entry members are wrong")
    if not _KINDS["count"](value["v"]) or value["v"] != 1:
        raise VerificationError("entry version is not 1")
    if value["type"] not in _SCHEMA:
        raise VerificationError(f"unknown type {value['type']!r}")
    if not _is_time(value["time"]) or not _KINDS["text"](value["station"]):
        raise VerificationError("bad time or station")
    rule = _SCHEMA[value["type"]][0]
    recording, prev = value["recording"], value["prev"]
    if recording is not None and not _KINDS["text"](recording):
        raise VerificationError("bad recording")
    if (rule == "yes" and recording is None) or (rule == "no" and recording is not None):
        raise VerificationError(f"{value['type']} recording rule broken")
    if prev is not None and (not _KINDS["count"](prev) or recording is None):
        raise VerificationError("bad prev")


def _check_body(entry_type: str, body: Any) -> None:
    if not isinstance(body, dict):
        raise VerificationError("body is not an object")
    for key, (kind, nullable, required) in _SCHEMA[entry_type][1].items():
        if key not in body:
            if required:
                raise VerificationError(f"{entry_type} body lacks {key}")
            continue
        if not (_KINDS[kind](body[key]) or (nullable and body[key] is None)):
            raise VerificationError(f"{entry_type} body {key} is not {kind}")


def commitment_opens(commitment: str, value: str, salt: bytes) -> bool:
    digest = hashlib.sha256(b"evidock-commit-v1\x00" + salt + value.encode("utf-8")).hexdigest()
    return len(salt) == 32 and commitment == "sha256:" + digest


# -- putting it together -------------------------------------------------------


def verify_entry(entry: bytes, index: int, proof_hex: Sequence[str], note: str, vkey: str) -> dict[str, Any]:
    """Entry ``index`` of the log the signed checkpoint ``note`` describes; returns it parsed."""
    claim = verify_checkpoint(note, vkey)
    parsed = check_entry(entry)
    check_inclusion(leaf_hash(entry), index, claim.size, _hashes(proof_hex), claim.root)
    return parsed


def verify_extension(old_note: str, new_note: str, proof_hex: Sequence[str], vkey: str) -> None:
    """The log of ``new_note`` extends the log of ``old_note`` (same key, same origin)."""
    old = verify_checkpoint(old_note, vkey)
    new = verify_checkpoint(new_note, vkey, origin=old.origin)
    proof = _hashes(proof_hex)
    if old.size == 0 and new.size > 0:
        if old.root != EMPTY_ROOT or proof:
            raise VerificationError("bad empty checkpoint")
        return
    check_consistency(old.size, new.size, old.root, new.root, proof)


def verify_full_log(entries: Sequence[bytes], note: str, vkey: str) -> None:
    """Every entry canonical, custody chains linked, first ``size`` entries give the root."""
    claim = verify_checkpoint(note, vkey)
    if len(entries) < claim.size:
        raise VerificationError("log shorter than checkpoint")
    last: dict[str, int] = {}
    for index, entry in enumerate(entries):
        parsed = check_entry(entry)
        recording = parsed["recording"]
        if recording is not None:
            if parsed["prev"] != last.get(recording):
                raise VerificationError(f"entry {index} breaks the custody chain")
            last[recording] = index
    if mth([leaf_hash(e) for e in entries[: claim.size]]) != claim.root:
        raise VerificationError("entries do not give the checkpoint root")


# -- §5.3 proofs as JSON (the CLI's and the disc's proof files) ------------------------------


def verify_inclusion_json(proof: dict[str, Any], vkey: str) -> dict[str, Any]:
    """An inclusion proof in the §5.3 form, against its own signed checkpoint; returns the entry parsed."""
    if proof.get("format") != "evidock-inclusion-proof-v1":
        raise VerificationError(f"unknown proof format {proof.get('format')!r}")
    note = proof.get("checkpoint")
    if not isinstance(note, str):
        raise VerificationError("no signed checkpoint to check the proof against")
    claim = verify_checkpoint(note, vkey)
    if claim.size != proof["tree_size"] or claim.root.hex() != proof["root"]:
        raise VerificationError("the proof's tree is not the checkpoint's")
    return verify_entry(base64.b64decode(proof["entry_b64"], validate=True), proof["index"], proof["proof"], note, vkey)


def verify_consistency_json(proof: dict[str, Any], vkey: str) -> None:
    """A consistency proof in the §5.3 form, between its two signed checkpoints."""
    if proof.get("format") != "evidock-consistency-proof-v1":
        raise VerificationError(f"unknown proof format {proof.get('format')!r}")
    old, new = proof.get("old_checkpoint"), proof.get("new_checkpoint")
    if not isinstance(old, str) or not isinstance(new, str):
        raise VerificationError("both signed checkpoints are needed")
    if verify_checkpoint(old, vkey).size != proof["old_size"] or verify_checkpoint(new, vkey).size != proof["new_size"]:
        raise VerificationError("the proof's sizes are not the checkpoints'")
    verify_extension(old, new, proof["proof"], vkey)


# -- §9 the catalog as a projection (recordings, labels) ---------------------------------------


def _second(value: Any) -> str | None:
    """A time as `YYYY-MM-DDTHH:MM:SSZ` (whole seconds), from §2.2 text or a catalog datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        return value[:19].replace(" ", "T") + "Z"  # a §2.2 time, or SQLite's text of a datetime
    return f"{value:%Y-%m-%dT%H:%M:%S}Z"


def _name(body: dict[str, Any]) -> str:
    if "original_name_b64" in body:
        return base64.b64decode(body["original_name_b64"]).decode("utf-8", "backslashreplace")
    return str(body["original_name"])


def check_projection(
    entries: Sequence[bytes],
    recordings: Sequence[dict[str, Any]],
    labels: Sequence[dict[str, Any]],
    salts: dict[tuple[int, str], bytes],
) -> list[str]:
    """Differences between the `recordings` and `labels` rows and what §9 says the entries make of them."""
    want_rec: dict[str, dict[str, Any]] = {}
    want_lab: dict[int, dict[str, Any]] = {}
    for index, data in enumerate(entries):
        e = check_entry(data)
        body = e["body"]
        if e["type"] == "INGEST":
            want_rec[e["recording"]] = {
                "id": e["recording"], "size": body["size"], "object_key": body["object_key"],
                "version_id": body["version_id"], "retain_until": body["retain_until"], "original_name": _name(body),
                "station": e["station"], "device": body["device"], "officer": body["officer"], "seq": body["sequence"],
                "start_raw": body["start_raw"], "end_raw": body.get("end_raw"), "duration_ms": body.get("duration_ms"),
                "kind": body.get("kind"), "media": body.get("media"), "notes": body.get("notes"),
                "ingested_at": e["time"], "ingest_entry": index,
            }  # fmt: skip
        elif e["type"] == "LABEL":
            want_lab[index] = {
                "recording": e["recording"], "case_number": body["case_number"], "parties": body["parties"],
                "handler": body["handler"], "labelled_by": body.get("by"), "labelled_at": e["time"], "entry": index,
            }  # fmt: skip
    found: list[str] = []
    times = {"retain_until", "start_raw", "end_raw", "ingested_at", "labelled_at"}

    def compare(table: str, key: object, want: dict[str, Any], row: dict[str, Any]) -> None:
        for column, logged in want.items():
            have, value = row.get(column), logged
            if column in times:
                value, have = _second(logged), _second(have)
            if column == "parties":
                names = have if isinstance(have, list) else []
                ok = len(names) == len(value) and all(
                    commitment_opens(c, n, salts.get((int(key), f"parties[{i}]"), b""))  # type: ignore[call-overload]
                    for i, (c, n) in enumerate(zip(value, names, strict=True))
                )
            else:
                ok = have == value
            if not ok:
                found.append(f"{table} {key} {column}: catalog {have!r}, log {value!r}")

    rows_rec = {r["id"]: r for r in recordings}
    rows_lab = {int(r["entry"]): r for r in labels}
    for key in sorted(set(want_rec) | set(rows_rec)):
        if key not in rows_rec or key not in want_rec:
            found.append(f"recordings {key}: {'missing' if key in want_rec else 'no INGEST entry'}")
        else:
            compare("recordings", key, want_rec[key], rows_rec[key])
    for key in sorted(set(want_lab) | set(rows_lab)):
        if key not in rows_lab or key not in want_lab:
            found.append(f"labels {key}: {'missing' if key in want_lab else 'no LABEL entry'}")
        else:
            compare("labels", key, want_lab[key], rows_lab[key])
    return found
