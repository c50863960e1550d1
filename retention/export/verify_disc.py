"""VERIFY.py — checks an evidock evidence disc offline. 检查 evidock 证据光盘（离线）。

This file is copied verbatim onto every disc as ``VERIFY.py``. It uses the
Python standard library only (Python 3.8 or later, any operating system) and
does its own Ed25519 signature check (RFC 8032), so a court clerk needs nothing
but a Python interpreter: ``python3 -I VERIFY.py`` (Windows: ``py -3 -I VERIFY.py``)
run from the disc, or with the disc's folder as argument.

What it checks, and what each check proves:

1. ``log/checkpoint.txt`` is signed by the verifier key (``log/log.vkey``, or the
   key given with ``--vkey``): the log's own claim "the first N entries have root R".
   Compare the key's fingerprint with the one the bureau publishes.
2. Every ``log/entries/*.json`` is entry *i* of that log (RFC 9162 inclusion proof).
3. Each recording's entries form its complete custody chain (each ``prev`` link
   is present) from its INGEST entry on, and an EXPORT entry of this export names
   this disc's ``MANIFEST.json`` by its SHA-256: the manifest is what was logged.
4. Every original file has the SHA-256 and size its INGEST entry logged (and the
   manifest lists): the bytes are the ones received at the dock.
5. ``VERIFY.py`` and ``README.txt`` have the hashes the manifest lists; every
   file in ``SHA256SUMS`` (the label sheets too) has its hash there.
6. Each ``log/consistency/*.json`` proves an earlier checkpoint (e.g. the one of
   the ingest time, also signed) is a prefix of the export checkpoint: nothing
   logged in between was rewritten (RFC 9162 consistency proof).
7. Outside witnesses (见证人), when the station has them: ``log/cosigned-checkpoint.txt``
   is the checkpoint with the witnesses' cosignatures (C2SP tlog-cosignature) and
   ``log/witnesses.json`` names the witnesses' keys and how many must have
   cosigned. Each cosignature is checked with this file's own Ed25519: a
   checkpoint re-signed over a rewritten history fails here, because another
   office's witness refuses to cosign it. ``--witness KEY`` (repeatable) trusts
   only the witness keys given (each must have cosigned); compare the printed
   fingerprints with those the witnesses' offices publish.
8. Trusted timestamps (可信时间戳, RFC 3161), when present: each
   ``log/timestamps/<id>.tsr`` must stamp the SHA-256 of ``log/checkpoint.txt``;
   its time (genTime) is printed in Beijing time. The token's signature needs
   X.509, beyond the standard library: the ``openssl ts -verify`` command to
   check it against the TSA's chain (``<id>.pem``) is printed.

The verdict is printed in Chinese and English; every failing file is named.
Exit status 0 means every check passed.

Formats: docs/log-format.md of evidock (entries, RFC 9162 proofs, C2SP
signed notes and ``tlog-checkpoint``, note keys); docs/export.md (the disc).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any

# -- the disc's layout (the exporter imports these names, so both sides agree) ---------------

MANIFEST = "MANIFEST.json"
SUMS = "SHA256SUMS"
VERIFY_NAME = "VERIFY.py"
README = "README.txt"
LABEL_HTML = "LABEL.html"
LABEL_TEXT = "LABEL.txt"
ORIGINALS = "原始录像"  # "original recordings"
CHECKPOINT = "log/checkpoint.txt"
VKEY = "log/log.vkey"
ENTRIES = "log/entries"
CONSISTENCY = "log/consistency"
COSIGNED = "log/cosigned-checkpoint.txt"
WITNESSES = "log/witnesses.json"
TIMESTAMPS = "log/timestamps"
WITNESSES_FORMAT = "evidock-witnesses-v1"
FORMAT = "evidock-disc-v1"
INCLUSION_FORMAT = "evidock-inclusion-proof-v1"  # the proof files' JSON form (docs/log-format.md §5.3)
CONSISTENCY_FORMAT = "evidock-consistency-proof-v1"
FIXED_FILES = (MANIFEST, SUMS, VERIFY_NAME, README, LABEL_HTML, LABEL_TEXT, CHECKPOINT, VKEY, COSIGNED, WITNESSES)
"""The disc's own files besides the originals (named in the manifest) and the proof files (the last two optional)."""
FOLDERS = (ORIGINALS, "log", ENTRIES, CONSISTENCY, TIMESTAMPS)
TIMESTAMP_FILE = re.compile(r"log/timestamps/[0-9a-f]{16}\.(tsr|pem)")  # a token and its TSA's chain
BEIJING = 8 * 3600  # seconds east of UTC: Asia/Shanghai, without daylight saving since 1991
ENTRY_FILE = re.compile(r"log/entries/[0-9]{12}\.json")  # <index>.json, each checked as a proof
CONSISTENCY_FILE = re.compile(r"log/consistency/from-[0-9]{12}\.json")  # from-<old size>.json, each checked

_CHUNK = 1 << 20


# -- Ed25519 verification, RFC 8032 §5.1 (its §6 reference code, written out) -----------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555  # -121665/121666 mod p
_SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752  # 2^((p-1)/4) mod p
if TYPE_CHECKING:  # only in annotations: ``tuple[...]`` cannot be subscripted at run time before Python 3.9
    _Point = tuple[int, int, int, int]  # extended homogeneous coordinates (X, Y, Z, T), x = X/Z, y = Y/Z


def _add(a: _Point, b: _Point) -> _Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    k1 = (y1 - x1) * (y2 - x2) % _P
    k2 = (y1 + x1) * (y2 + x2) % _P
    k3 = t1 * 2 * _D * t2 % _P
    k4 = z1 * 2 * z2 % _P
    e, f, g, h = k2 - k1, k4 - k3, k4 + k3, k2 + k1
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _multiply(scalar: int, point: _Point) -> _Point:
    result: _Point = (0, 1, 1, 0)  # the neutral element
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(a: _Point, b: _Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y: int, sign: int) -> int | None:
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _decompress(encoded: bytes) -> _Point | None:
    if len(encoded) != 32:
        return None
    y = int.from_bytes(encoded, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


# The base point B of RFC 8032 §5.1 (y = 4/5, x positive), as the RFC writes it out.
_BASE_X = 15112221349535400772501151409588531511454012693041857206046113283949847762202
_BASE_Y = 46316835694926478169428394003475163141307993866256225615783033603165251855960
_BASE: _Point = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % _P)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """RFC 8032 §5.1.7: whether ``signature`` is ``public_key``'s Ed25519 signature of ``message``."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decompress(public_key)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little") % _L
    return _equal(_multiply(s, _BASE), _add(r, _multiply(h, a)))


# -- RFC 9162 Merkle proofs -------------------------------------------------------------------


class Failure(Exception):
    """One check failed; the message says what was expected and what was found."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _inclusion_length(index: int, size: int) -> int:
    length, start, end = 0, 0, size
    while end - start > 1:
        k = 1 << ((end - start - 1).bit_length() - 1)
        if index < start + k:
            end = start + k
        else:
            start += k
        length += 1
    return length


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        raise Failure(f"entry index {index} is outside a tree of size {size}")
    if len(proof) != _inclusion_length(index, size) or any(len(p) != 32 for p in proof):
        raise Failure("inclusion proof has the wrong length or a hash that is not 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise Failure("inclusion proof does not lead to the checkpoint's root")


def _consistency_length(old: int, new: int) -> int:
    length, start, end, m, whole = 0, 0, new, old, True
    while m != end - start:
        k = 1 << ((end - start - 1).bit_length() - 1)
        if m <= k:
            end = start + k
        else:
            start += k
            m -= k
            whole = False
        length += 1
    return length + (0 if whole else 1)


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> None:
    """RFC 9162 §2.1.4.2 (sizes 0 < old <= new)."""
    if not 0 < old <= new:
        raise Failure(f"consistency proof needs 0 < old size <= new size, got {old} and {new}")
    if old == new:
        if proof or old_root != new_root:
            raise Failure("equal tree sizes need an empty proof and equal roots")
        return
    if len(proof) != _consistency_length(old, new) or any(len(p) != 32 for p in proof):
        raise Failure("consistency proof has the wrong length or a hash that is not 32 bytes")
    path = ([old_root] if old & (old - 1) == 0 else []) + list(proof)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Failure("consistency proof is longer than the path to the new root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise Failure("consistency proof does not lead from the old root to the new root")


# -- keys and signed checkpoints (C2SP signed-note, tlog-checkpoint) -----------------------------


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Failure(f"{what} is not base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise Failure(f"{what} is not canonical base64")
    return raw


def parse_vkey(text: str) -> tuple[str, bytes, bytes]:
    """``name+keyid+base64(0x01 ‖ key)`` -> (name, key id, public key); the key id must match."""
    name, _, rest = text.strip().partition("+")
    id_hex, _, encoded = rest.partition("+")
    typed = _b64(encoded, "verifier key")
    if not name or len(typed) != 33 or typed[0] != 1 or len(id_hex) != 8:
        raise Failure("verifier key is not an Ed25519 note key (name+keyid+base64)")
    public = typed[1:]
    key_id = hashlib.sha256(name.encode("utf-8") + b"\n\x01" + public).digest()[:4]
    if key_id.hex() != id_hex.lower():
        raise Failure(f"verifier key id {id_hex} does not match its name and key ({key_id.hex()})")
    return name, key_id, public


KEY_ADVICE = (
    '与公安机关公布的验证公钥逐字核对（或用 --vkey "公布的公钥" 运行 VERIFY.py，只信任公布的公钥）/ '
    "compare it character for character with the verifier key the bureau publishes "
    '(or run VERIFY.py --vkey "<published key>" to trust only the published key)'
)
"""How to check the key (VERIFY.py and the label sheet): a signature proves something only by a known key."""


def fingerprint(vkey: str) -> str:
    """SHA-256 of the verifier key line, in groups of four hex digits (printed on the label sheet)."""
    digest = hashlib.sha256(vkey.strip().encode("utf-8")).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


def open_checkpoint(note: str, vkey: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a signed checkpoint note after checking its signature by ``vkey``."""
    name, key_id, public = parse_vkey(vkey)
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise Failure("checkpoint is not a signed note (no blank line before signatures)")
    body, block = note[: split + 1], note[split + 2 :]
    for line in block[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Failure("signature line does not start with an em dash")
        signer, _, encoded = line[2:].partition(" ")
        raw = _b64(encoded, "signature")
        if signer == name and raw[:4] == key_id:
            if not ed25519_verify(public, body.encode("utf-8"), raw[4:]):
                raise Failure(f"the signature by {name} does not verify: the checkpoint was altered")
            return _parse_body(body)
    raise Failure(f"the checkpoint carries no signature by the verifier key {name} ({key_id.hex()})")


def _parse_body(body: str) -> tuple[str, int, bytes]:
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not lines[1].isdigit():
        raise Failure("checkpoint body must be origin, size, root")
    root = _b64(lines[2], "checkpoint root")
    if len(root) != 32:
        raise Failure("checkpoint root is not 32 bytes")
    return lines[0], int(lines[1]), root


# -- witness cosignatures (C2SP tlog-cosignature, evidock docs/witness.md W1-W5) ---------------


def parse_witness_key(text: str) -> tuple[str, bytes, bytes]:
    """``name+keyid+base64(0x04 ‖ key)`` -> (name, key id, public key); type 0x04, the key id must match."""
    name, _, rest = text.strip().partition("+")
    id_hex, _, encoded = rest.partition("+")
    typed = _b64(encoded, "witness key")
    if not name or len(typed) != 33 or typed[0] != 4 or len(id_hex) != 8:
        raise Failure(f"witness key {name!r} is not an Ed25519 cosignature key (name+keyid+base64, type 0x04)")
    key_id = hashlib.sha256(name.encode("utf-8") + b"\n\x04" + typed[1:]).digest()[:4]
    if key_id.hex() != id_hex.lower():
        raise Failure(f"witness key id {id_hex} does not match its name and key ({key_id.hex()})")
    return name, key_id, typed[1:]


def check_cosignature(body: str, line: str, witness: tuple[str, bytes, bytes]) -> int:
    """The time (POSIX seconds) of ``line``, a cosignature by ``witness`` on the checkpoint ``body``; else Failure."""
    name, key_id, public = witness
    raw = _b64(line[2:].partition(" ")[2], "cosignature")
    if len(raw) != 76 or raw[:4] != key_id:
        raise Failure(f"the cosignature by {name} is not 76 bytes with its key id")
    timestamp = int.from_bytes(raw[4:12], "big")
    message = f"cosignature/v1\ntime {timestamp}\n{body}".encode()
    if timestamp >= 2**63 or not ed25519_verify(public, message, raw[12:]):
        raise Failure(f"the cosignature by witness {name} does not verify: this is not the checkpoint it cosigned")
    return timestamp


def beijing_time(seconds: float) -> str:
    """A POSIX time as Beijing time (Asia/Shanghai), e.g. ``2026-11-20 09:30:00 (UTC+8)``."""
    zone = datetime.timezone(datetime.timedelta(seconds=BEIJING))
    moment = datetime.datetime.fromtimestamp(seconds, zone)
    fraction = f".{moment.microsecond // 1000:03d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%d %H:%M:%S") + fraction + " (Asia/Shanghai, UTC+8)"


def _witness_keys(root: str, given: list[str] | None) -> tuple[list[tuple[str, str, tuple[str, bytes, bytes]]], int]:
    """The witnesses (label, key text, parsed key) and the quorum: the disc's, or those given (all required)."""
    if given:
        named, quorum = [("(--witness)", key) for key in given], len(given)
    else:
        value = _read_json(root, WITNESSES)
        if value.get("format") != WITNESSES_FORMAT:
            raise Failure("format is {!r}, expected {!r}".format(value.get("format"), WITNESSES_FORMAT))
        named = [(str(w["name"]), str(w["vkey"])) for w in value["witnesses"]]
        quorum = int(value["quorum"])
    if not 1 <= quorum <= len(named):
        raise Failure(f"quorum {quorum} is not between 1 and the {len(named)} witness(es) listed")
    return [(label, vkey, parse_witness_key(vkey)) for label, vkey in named], quorum


def _check_witnesses(
    root: str, checkpoint: str, given: list[str] | None, report: Report, facts: dict[str, Any]
) -> None:
    """Step 7: the cosigned checkpoint against the witnesses' keys (the disc's, or those given) and the quorum."""
    if not given and not os.path.exists(os.path.join(root, *WITNESSES.split("/"))):
        facts["witnesses"] = []
        return
    try:
        keys, quorum = _witness_keys(root, given)
    except (Failure, KeyError, TypeError, ValueError) as exc:
        report.fail(WITNESSES, f"unusable: {exc}")
        return
    try:
        cosigned = _read_text(root, COSIGNED)
    except (OSError, UnicodeDecodeError) as exc:
        report.fail(COSIGNED, f"cannot be read: {exc}")
        return
    if not cosigned.startswith(checkpoint) or not cosigned.endswith("\n"):
        report.fail(COSIGNED, "is not log/checkpoint.txt with cosignature lines appended")
        return
    body = checkpoint[: checkpoint.rfind("\n\n") + 1]
    lines = []
    for line in cosigned[len(checkpoint) :].split("\n")[:-1]:
        try:
            if not line.startswith("\u2014 "):
                raise Failure("does not start with an em dash")
            lines.append((line, line[2:].partition(" ")[0], _b64(line[2:].partition(" ")[2], "cosignature")[:4]))
        except Failure as exc:
            report.fail(COSIGNED, f"signature line {line[:40]!r} is malformed: {exc}")
            return
    shown, count, bad = [], 0, False
    for label, vkey, (name, key_id, public) in keys:
        when = None
        for line in (text for text, signer, kid in lines if signer == name and kid == key_id):
            try:
                when = check_cosignature(body, line, (name, key_id, public))
            except Failure as exc:
                report.fail(COSIGNED, str(exc))
                when, bad = None, True
                break
        count += when is not None
        shown.append((label, vkey, fingerprint(vkey), beijing_time(when) if when is not None else None))
    facts["witnesses"] = shown
    facts["quorum"] = f"{count}/{quorum}"
    if count < quorum:
        report.fail(
            COSIGNED, f"{count} witness cosignature(s) verify; {quorum} are required: the checkpoint is not witnessed"
        )
    elif not bad:
        report.ok(COSIGNED)


def _der(data: bytes, at: int) -> tuple[int, int, int]:
    """One DER element at ``at``: (tag, start of its contents, end)."""
    if at + 2 > len(data):
        raise Failure("the token is truncated")
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4 or at + count > len(data):
            raise Failure("the token has a length it cannot have")
        length, at = int.from_bytes(data[at : at + count], "big"), at + count
    if at + length > len(data):
        raise Failure("the token is truncated")
    return tag, at, at + length


def _inside(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    found, at = [], start
    while at < end:
        element = _der(data, at)
        found.append(element)
        at = element[2]
    return found


def _oid(raw: bytes) -> str:
    parts, value = [], 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    first = min(parts[0] // 40, 2) if parts else 0
    return ".".join(str(p) for p in [first, parts[0] - 40 * first, *parts[1:]]) if parts else ""


SHA256_OID = "2.16.840.1.101.3.4.2.1"
SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
TST_INFO_OID = "1.2.840.113549.1.9.16.1.4"


def token_facts(der: bytes) -> tuple[str, bytes, str]:
    """(hash algorithm OID, message imprint, genTime text) of an RFC 3161 TimeStampResp (or bare token), DER.

    RFC 3161 §2.4.2 and RFC 5652: TimeStampResp = SEQUENCE {status, ContentInfo}; ContentInfo =
    SEQUENCE {signedData OID, [0] SignedData}; SignedData = SEQUENCE {version, digestAlgorithms,
    encapContentInfo = SEQUENCE {TSTInfo OID, [0] OCTET STRING TSTInfo}, ...}; TSTInfo = SEQUENCE
    {version, policy, messageImprint = SEQUENCE {AlgorithmIdentifier, OCTET STRING}, serial, genTime, ...}.
    Only the structure is read; the signature is for ``openssl ts -verify``.
    """
    try:
        tag, start, end = _der(der, 0)
        parts = _inside(der, start, end)
        if tag != 0x30 or not parts:
            raise Failure("not a DER SEQUENCE")
        if parts[0][0] == 0x30 and len(parts) == 2:  # a TimeStampResp: status first
            status = _inside(der, parts[0][1], parts[0][2])
            if not status or status[0][0] != 0x02 or int.from_bytes(der[status[0][1] : status[0][2]], "big") > 1:
                raise Failure("the TSA did not grant this token (PKIStatus)")
            parts = _inside(der, parts[1][1], parts[1][2])
        if len(parts) < 2 or _oid(der[parts[0][1] : parts[0][2]]) != SIGNED_DATA_OID or parts[1][0] != 0xA0:
            raise Failure("not a CMS SignedData token")
        signed = _inside(der, *_der(der, parts[1][1])[1:])
        encap = _inside(der, signed[2][1], signed[2][2])
        if _oid(der[encap[0][1] : encap[0][2]]) != TST_INFO_OID or encap[1][0] != 0xA0:
            raise Failure("the signed content is not a TSTInfo")
        octets = _der(der, encap[1][1])
        info = _inside(der, *_der(der, octets[1])[1:])
        imprint = _inside(der, info[2][1], info[2][2])
        algorithm = _inside(der, imprint[0][1], imprint[0][2])
        if info[4][0] != 0x18:
            raise Failure("genTime is not a GeneralizedTime")
        return (
            _oid(der[algorithm[0][1] : algorithm[0][2]]),
            der[imprint[1][1] : imprint[1][2]],
            der[info[4][1] : info[4][2]].decode("ascii"),
        )
    except (IndexError, UnicodeDecodeError) as exc:
        raise Failure(f"not an RFC 3161 time-stamp token: {exc}") from exc


def gen_time_seconds(text: str) -> float:
    """A GeneralizedTime ``YYYYMMDDHHMMSS[.fff]Z`` as POSIX seconds."""
    match = re.fullmatch(r"(\d{14})(\.\d+)?Z", text)
    if match is None:
        raise Failure(f"genTime {text!r} is not YYYYMMDDHHMMSS[.fff]Z")
    moment = datetime.datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(
        tzinfo=datetime.timezone(datetime.timedelta(0))
    )
    return moment.timestamp() + float(match.group(2) or 0)


def _check_timestamps(root: str, checkpoint: bytes, report: Report, facts: dict[str, Any]) -> None:
    """Step 8: each token stamps this checkpoint; its time and the command that checks its signature."""
    folder = os.path.join(root, *TIMESTAMPS.split("/"))
    names = sorted(n for n in os.listdir(folder) if n.endswith(".tsr")) if os.path.isdir(folder) else []
    expected = hashlib.sha256(checkpoint).digest()
    shown = []
    for name in names:
        path = TIMESTAMPS + "/" + name
        chain = path[: -len(".tsr")] + ".pem"
        try:
            with open(os.path.join(folder, name), "rb") as f:
                algorithm, imprint, gen_time = token_facts(f.read())
            if algorithm != SHA256_OID:
                raise Failure(f"the token's imprint uses {algorithm}, not SHA-256")
            if imprint != expected:
                raise Failure(
                    f"the token stamps {imprint.hex()}, not this checkpoint (SHA-256 {expected.hex()}): "
                    "it was made for another checkpoint"
                )
            when = gen_time_seconds(gen_time)
            if not os.path.exists(os.path.join(root, *chain.split("/"))):
                raise Failure(f"the TSA's certificate chain {chain} is missing")
        except (OSError, Failure) as exc:
            report.fail(path, f"not proven: {exc}")
            continue
        report.ok(path)
        command = f"openssl ts -verify -in {path} -data {CHECKPOINT} -CAfile {chain}"
        shown.append((path, beijing_time(when), command))
    facts["timestamps"] = shown


# -- the disc -----------------------------------------------------------------------------------


class Report:
    """Collects passed checks and failures, each naming the file concerned."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failures: list[tuple[str, str]] = []

    def ok(self, what: str) -> None:
        self.passed.append(what)

    def fail(self, path: str, message: str) -> None:
        self.failures.append((path, message))


def _read_text(root: str, path: str) -> str:
    with open(os.path.join(root, *path.split("/")), "rb") as f:
        return f.read().decode("utf-8")


def _read_json(root: str, path: str) -> Any:
    try:
        return json.loads(_read_text(root, path))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise Failure(f"cannot be read as JSON: {exc}") from exc


def file_sha256(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        chunk = f.read(_CHUNK)
        while chunk:
            digest.update(chunk)
            size += len(chunk)
            chunk = f.read(_CHUNK)
    return digest.hexdigest(), size


def _check_file(root: str, path: str, sha256: str, size: int | None, report: Report) -> None:
    full = os.path.join(root, *path.split("/"))
    try:
        found, found_size = file_sha256(full)
    except OSError as exc:
        report.fail(path, f"cannot be read: {exc.strerror or exc}")
        return
    if found != sha256 or (size is not None and found_size != size):
        report.fail(path, f"SHA-256 {found} ({found_size} bytes), expected {sha256} ({size} bytes)")
    else:
        report.ok(path)


class Entry:
    """A log entry from a proof file, checked to be in the checkpoint's tree."""

    def __init__(self, index: int, value: dict[str, Any], path: str) -> None:
        self.index = index
        self.value = value
        self.path = path


def _load_entries(root: str, size: int, tree_root: bytes, report: Report) -> list[Entry]:
    folder = os.path.join(root, *ENTRIES.split("/"))
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    if not names:
        report.fail(ENTRIES, "no log entries on the disc")
    found = []
    for name in names:
        path = ENTRIES + "/" + name
        try:
            proof = _read_json(root, path)
            if proof.get("format") != INCLUSION_FORMAT:
                raise Failure("format is {!r}, expected {!r}".format(proof.get("format"), INCLUSION_FORMAT))
            if name != "{:012d}.json".format(proof["index"]):
                raise Failure("the file name does not match the entry index {}".format(proof["index"]))
            data = _b64(proof["entry_b64"], "entry")
            if proof["tree_size"] != size:
                raise Failure("proof is for tree size {}, the checkpoint has {}".format(proof["tree_size"], size))
            hashes = [bytes.fromhex(h) for h in proof["proof"]]
            verify_inclusion(leaf_hash(data), int(proof["index"]), size, hashes, tree_root)
            value = json.loads(data.decode("utf-8"))
        except (Failure, KeyError, TypeError, ValueError) as exc:
            report.fail(path, f"not proven: {exc}")
            continue
        report.ok(path)
        found.append(Entry(int(proof["index"]), value, path))
    return found


def _chains(entries: list[Entry], recordings: list[str], report: Report) -> dict[str, list[Entry]]:
    """Each recording's entries, checked to link back (``prev``) to its INGEST entry with none missing."""
    chains: dict[str, list[Entry]] = {}
    for entry in sorted(entries, key=lambda e: e.index):
        rec = entry.value.get("recording")
        if isinstance(rec, str):
            chains.setdefault(rec, []).append(entry)
    for rec in recordings:
        chain = chains.get(rec, [])
        previous: int | None = None
        broken = not chain or chain[0].value.get("type") != "INGEST"
        for entry in chain:
            if entry.value.get("prev") != previous:
                broken = True
            previous = entry.index
        if broken:
            report.fail(ENTRIES, f"the custody chain of recording {rec} is incomplete or broken")
        else:
            report.ok(f"custody chain of {rec[:12]} ({len(chain)} entries)")
    return chains


def _check_manifest_logged(
    manifest_sha: str, manifest: dict[str, Any], chains: dict[str, list[Entry]], report: Report
) -> None:
    for item in manifest["recordings"]:
        exports = [
            e.value["body"]
            for e in chains.get(item["id"], [])
            if e.value.get("type") == "EXPORT" and e.value["body"].get("export_id") == manifest["export_id"]
        ]
        if not exports:
            report.fail(
                MANIFEST,
                "no logged EXPORT entry of export {} for recording {}".format(manifest["export_id"], item["id"]),
            )
        elif any(body.get("manifest_sha256") != manifest_sha for body in exports):
            report.fail(MANIFEST, f"SHA-256 {manifest_sha} is not the manifest the EXPORT entry logged: it was altered")
        else:
            report.ok("EXPORT entry names this manifest ({})".format(item["id"][:12]))


def _check_originals(root: str, manifest: dict[str, Any], chains: dict[str, list[Entry]], report: Report) -> None:
    for item in manifest["recordings"]:
        chain = chains.get(item["id"], [])
        ingest = chain[0].value["body"] if chain and chain[0].value.get("type") == "INGEST" else None
        if ingest is None:
            report.fail(item["path"], "no INGEST entry proves this recording")
            continue
        if ingest.get("sha256") != item["sha256"] or ingest.get("size") != item["size"]:
            report.fail(MANIFEST, "recording {}: hash or size differ from its INGEST entry".format(item["id"]))
        _check_file(root, item["path"], ingest["sha256"], ingest["size"], report)


# -- the manifest's facts against the entries on the disc ----------------------------------------

COMMIT_DOMAIN = b"evidock-commit-v1\x00"  # docs/log-format.md §2.5


def commitment(value: str, salt: bytes) -> str:
    """The commitment of ``value`` with ``salt`` (docs/log-format.md §2.5)."""
    return "sha256:" + hashlib.sha256(COMMIT_DOMAIN + salt + value.encode("utf-8")).hexdigest()


def display_name(body: dict[str, Any]) -> Any:
    """The original file name as evidock shows it: its exact bytes, undecodable ones as ``\\xff`` escapes."""
    raw = body.get("original_name_b64")
    if isinstance(raw, str):
        return base64.b64decode(raw).decode("utf-8", "backslashreplace")
    return body.get("original_name")


def _ingest_facts(entry: Entry) -> dict[str, Any]:
    """What a manifest record must say, by its INGEST entry (docs/log-format.md, "The disc's manifest")."""
    body = entry.value["body"]
    return {
        "sha256": body.get("sha256"),
        "size": body.get("size"),
        "original_name": display_name(body),
        "kind": body.get("kind"),
        "device": body.get("device"),
        "officer": body.get("officer"),
        "seq": body.get("sequence"),
        "start_raw": body.get("start_raw"),
        "end_raw": body.get("end_raw"),
        "duration_ms": body.get("duration_ms"),
        "station": entry.value.get("station"),
        "ingested_at": entry.value.get("time"),
        "ingest_entry": entry.index,
        "retain_until": body.get("retain_until"),
    }


def _differ(report: Report, rec: str, field: str, manifest_value: Any, logged: Any, *, entry: Entry) -> None:
    report.fail(
        MANIFEST,
        "recording {}: {} is {} in the manifest, but {} entry {} says {}".format(
            rec[:12],
            field,
            json.dumps(manifest_value, ensure_ascii=False),
            entry.value.get("type"),
            entry.index,
            json.dumps(logged, ensure_ascii=False),
        ),
    )


def _check_label(item: dict[str, Any], labels: list[Entry], report: Report) -> None:
    """The manifest's label of a recording is its latest LABEL entry; each disclosed party opens a commitment."""
    rec, label = str(item["id"]), item.get("label")
    if not labels:
        if label is not None:
            report.fail(MANIFEST, f"recording {rec[:12]}: the manifest gives it a label, but no LABEL entry does")
        return
    latest = labels[-1]
    body = latest.value["body"]
    if not isinstance(label, dict):
        _differ(report, rec, "label", label, body.get("case_number"), entry=latest)
        return
    expected = {
        "case_number": body.get("case_number"),
        "handler": body.get("handler"),
        "labelled_by": body.get("by"),
        "labelled_at": latest.value.get("time"),
        "entry": latest.index,
    }
    for field, logged in expected.items():
        if label.get(field) != logged:
            _differ(report, rec, "label." + field, label.get(field), logged, entry=latest)
    committed = body.get("parties") if isinstance(body.get("parties"), list) else []
    names, salts = label.get("parties") or [], label.get("party_salts") or []
    if len(salts) != len(names):
        report.fail(MANIFEST, f"recording {rec[:12]}: label.party_salts does not give one salt per party name")
        return
    for name, salt in zip(names, salts):  # noqa: B905  # lengths compared above; strict= needs Python 3.10
        if not _opens(str(name), salt, committed):
            shown = json.dumps(name, ensure_ascii=False)
            report.fail(
                MANIFEST,
                f"recording {rec[:12]}: party {shown} is not among the parties LABEL entry {latest.index} commits to",
            )


def _opens(name: str, salt: Any, committed: list[Any]) -> bool:
    try:
        raw = bytes.fromhex(salt) if isinstance(salt, str) else b""
    except ValueError:
        return False
    return len(raw) == 32 and commitment(name, raw) in committed


def _check_export_facts(manifest: dict[str, Any], exports: list[Entry], origin: str, report: Report) -> None:
    """The export's own facts in the manifest against its EXPORT entries (and the checkpoint's origin)."""
    if manifest.get("log_origin") != origin:
        report.fail(
            MANIFEST, "log_origin is {!r}, the checkpoint's origin is {!r}".format(manifest.get("log_origin"), origin)
        )
    request: dict[str, Any] = manifest["request"] if isinstance(manifest.get("request"), dict) else {}
    for entry in exports:
        body = entry.value["body"]
        expected = {
            "case_number": body.get("case_number"),
            "maker": body.get("maker"),
            "extractor": body.get("extractor"),
            "disc": body.get("disc"),
            "discs": body.get("discs"),
            "extracted_at": entry.value.get("time"),
            "station": entry.value.get("station"),
            "request.id": body.get("request"),
        }
        for field, logged in expected.items():
            found = request.get("id") if field == "request.id" else manifest.get(field)
            if found != logged:
                _differ(report, str(entry.value.get("recording")), field, found, logged, entry=entry)


def _check_access(item: dict[str, Any], by_index: dict[int, Entry], request: dict[str, Any], report: Report) -> None:
    """The manifest's ACCESS entry of this export is on the disc, about this recording, with the request's facts."""
    rec = str(item["id"])
    entry = by_index.get(item.get("access_entry"))  # type: ignore[arg-type]  # a wrong type simply finds nothing
    if entry is None or entry.value.get("type") != "ACCESS" or entry.value.get("recording") != rec:
        report.fail(
            MANIFEST,
            "recording {}: access_entry {} is not an ACCESS entry about it on this disc".format(
                rec[:12], item.get("access_entry")
            ),
        )
        return
    body = entry.value["body"]
    expected = {
        "request.approver": body.get("approver"),
        "request.category": body.get("requester_category"),
        "request.document_ref": body.get("document_ref"),
    }
    if body.get("action") != "export":
        _differ(report, rec, "access_entry (action)", "export", body.get("action"), entry=entry)
    for field, logged in expected.items():
        if request.get(field.split(".", 1)[1]) != logged:
            _differ(report, rec, field, request.get(field.split(".", 1)[1]), logged, entry=entry)


def check_manifest_facts(
    manifest: dict[str, Any], entries: list[Entry], chains: dict[str, list[Entry]], origin: str, report: Report
) -> None:
    """Every fact of MANIFEST.json that a log entry on the disc records must be what that entry says.

    The EXPORT entry vouches for the manifest's bytes, not for its facts: a manifest
    made from a forged catalog is still logged. So each record is compared with the
    recording's INGEST and latest LABEL entry, the export's facts with its EXPORT and
    ACCESS entries; and the case's recordings are those its LABEL entries name.
    """
    case = manifest.get("case_number")
    request: dict[str, Any] = manifest["request"] if isinstance(manifest.get("request"), dict) else {}
    by_index = {e.index: e for e in entries}
    on_discs = {str(r["id"]) for r in manifest["recordings"]}
    for other in manifest.get("other_discs", []):
        on_discs |= {str(r) for r in other.get("recordings", [])}
    exports: list[Entry] = []
    handlers: list[Any] = []
    parties: list[Any] = []
    for item in manifest["recordings"]:
        rec = str(item["id"])
        chain = chains.get(rec, [])
        if not chain or chain[0].value.get("type") != "INGEST":
            continue  # reported with the custody chain
        for field, logged in _ingest_facts(chain[0]).items():
            if item.get(field) != logged:
                _differ(report, rec, field, item.get(field), logged, entry=chain[0])
        labels = [e for e in chain if e.value.get("type") == "LABEL"]
        _check_label(item, labels, report)
        if not any(e.value["body"].get("case_number") == case for e in labels):
            report.fail(
                MANIFEST,
                f"recording {rec[:12]} is on this disc of case {case}, but no LABEL entry puts it in that case",
            )
        if labels:
            handlers.append(labels[-1].value["body"].get("handler"))
        parties += (item.get("label") or {}).get("parties") or []
        _check_access(item, by_index, request, report)
        exports += [
            e
            for e in chain
            if e.value.get("type") == "EXPORT" and e.value["body"].get("export_id") == manifest.get("export_id")
        ]
    _check_export_facts(manifest, exports, origin, report)
    named = sorted(
        {
            str(e.value.get("recording"))
            for e in entries
            if e.value.get("type") == "LABEL" and e.value["body"].get("case_number") == case
        }
    )
    left_out = [rec for rec in named if rec not in on_discs]
    if left_out and manifest.get("selection") == "case":
        for rec in left_out:
            report.fail(
                MANIFEST, f"recording {rec} is labelled with case {case} by the log, but is on no disc of this export"
            )
    shown = [h for h in str(manifest.get("handler") or "").split("、") if h]
    whole = manifest.get("discs") == 1
    if (set(shown) != set(handlers)) if whole else not set(handlers) <= set(shown):
        report.fail(
            MANIFEST,
            "handler {!r} is not the handlers of the recordings' LABEL entries ({})".format(
                manifest.get("handler"), "、".join(dict.fromkeys(h for h in handlers if h))
            ),
        )
    listed = [str(p) for p in manifest.get("parties") or []]
    if (set(listed) != set(parties)) if whole else not set(parties) <= set(listed):
        report.fail(
            MANIFEST,
            f"parties {json.dumps(listed, ensure_ascii=False)} are not the parties of the recordings' labels",
        )


def _check_sums(root: str, report: Report) -> None:
    try:
        lines = _read_text(root, SUMS).splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        report.fail(SUMS, f"cannot be read: {exc}")
        return
    for line in lines:
        sha256, _, path = line.partition("  ")
        if len(sha256) != 64 or not path:
            report.fail(SUMS, f"malformed line {line[:80]!r}")
            continue
        _check_file(root, path[2:] if path.startswith("./") else path, sha256, None, report)


def _check_consistency(root: str, vkey: str, size: int, tree_root: bytes, report: Report) -> None:
    folder = os.path.join(root, *CONSISTENCY.split("/"))
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = CONSISTENCY + "/" + name
        try:
            proof = _read_json(root, path)
            if proof.get("format") != CONSISTENCY_FORMAT:
                raise Failure("format is {!r}, expected {!r}".format(proof.get("format"), CONSISTENCY_FORMAT))
            _, old_size, old_root = open_checkpoint(proof["old_checkpoint"], vkey)
            if proof["old_size"] != old_size:
                raise Failure("old_size is {}, its checkpoint has {}".format(proof["old_size"], old_size))
            if proof["new_size"] != size:
                raise Failure("proof ends at size {}, the checkpoint has {}".format(proof["new_size"], size))
            hashes = [bytes.fromhex(h) for h in proof["proof"]]
            verify_consistency(old_size, size, old_root, tree_root, hashes)
        except (Failure, KeyError, TypeError, ValueError) as exc:
            report.fail(path, f"not proven: {exc}")
            continue
        report.ok(path)


def _check_nothing_added(root: str, manifest: dict[str, Any], report: Report) -> None:
    """Every file on the disc must be one of its own: fixed names, the manifest's originals, proof files.

    SHA256SUMS is not enough to admit a file: it is not logged, so whoever adds a
    file can add its line too. A file is admitted only by a name the format fixes
    or by the manifest (which an EXPORT entry logs).
    """
    listed = set(FIXED_FILES) | {str(r.get("path")) for r in manifest.get("recordings", [])}
    listed |= set(manifest.get("files", {}))
    for folder, dirs, files in os.walk(root):
        relative = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if relative == "." else relative + "/"
        for name in sorted(dirs):
            if prefix + name not in FOLDERS:
                report.fail(prefix + name + "/", "this folder is not part of an evidock disc: it was added")
        dirs[:] = sorted(d for d in dirs if prefix + d in FOLDERS)
        for name in sorted(files):
            path = prefix + name
            if path in listed or any(p.fullmatch(path) for p in (ENTRY_FILE, CONSISTENCY_FILE, TIMESTAMP_FILE)):
                continue
            report.fail(path, "this file is not part of the disc (neither the manifest nor the format names it)")


def verify_disc(
    root: str, vkey: str | None = None, witnesses: list[str] | None = None
) -> tuple[Report, dict[str, Any]]:
    """Check the disc whose top folder is ``root``; ``vkey`` and ``witnesses`` override the keys on the disc."""
    report = Report()
    facts: dict[str, Any] = {}
    try:
        key = vkey or _read_text(root, VKEY).strip()
        facts["key"] = key
        facts["fingerprint"] = fingerprint(key)
        checkpoint = _read_text(root, CHECKPOINT)
        origin, size, tree_root = open_checkpoint(checkpoint, key)
    except (OSError, UnicodeDecodeError, Failure) as exc:
        report.fail(CHECKPOINT, f"not proven: {exc}")
        return report, facts
    report.ok(CHECKPOINT)
    facts.update(origin=origin, size=str(size), root=tree_root.hex())
    try:
        manifest = _read_json(root, MANIFEST)
        if manifest.get("format") != FORMAT:
            raise Failure("not an evidock disc manifest ({!r})".format(manifest.get("format")))
        manifest_sha, _ = file_sha256(os.path.join(root, MANIFEST))
    except (OSError, Failure) as exc:
        report.fail(MANIFEST, str(exc))
        return report, facts
    facts.update(case=str(manifest.get("case_number")), disc="{}/{}".format(manifest["disc"], manifest["discs"]))
    entries = _load_entries(root, size, tree_root, report)
    chains = _chains(entries, [r["id"] for r in manifest["recordings"]], report)
    _check_manifest_logged(manifest_sha, manifest, chains, report)
    _check_originals(root, manifest, chains, report)
    check_manifest_facts(manifest, entries, chains, origin, report)
    for path, sha256 in sorted(manifest.get("files", {}).items()):
        _check_file(root, path, sha256, None, report)
    _check_sums(root, report)
    _check_consistency(root, key, size, tree_root, report)
    _check_witnesses(root, checkpoint, witnesses, report, facts)
    _check_timestamps(root, checkpoint.encode("utf-8"), report, facts)
    _check_nothing_added(root, manifest, report)
    return report, facts


def _print_outside_trust(facts: dict[str, Any]) -> None:
    if "witnesses" in facts and not facts["witnesses"]:
        print("见证人 witnesses: 无 none — 本光盘只由采集站自己的密钥签名 / this disc rests on the station's own key")
    for label, vkey, print_, when in facts.get("witnesses", []):
        said = "联署于 cosigned at " + when if when else "未联署 NOT cosigned"
        print(f"见证人 witness: {label}  {vkey}")
        print(f"    指纹 fingerprint: {print_}  {said}")
    if "quorum" in facts:
        print("见证人联署 cosignatures: {} (已验证/要求 verified/required)".format(facts["quorum"]))
    if facts.get("witnesses"):
        print(
            '核对见证人公钥 checking the witnesses\' keys: 与见证机构公布的公钥核对，或用 --witness "公钥" 运行 / '
            'compare with the keys the witnesses\' offices publish, or run with --witness "<key>"'
        )
    for path, when, command in facts.get("timestamps", []):
        print(f"可信时间戳 trusted timestamp: {path}  时间 genTime {when}")
        print(f"    签名核验 check its signature: {command}")


def _print_report(report: Report, facts: dict[str, Any]) -> None:
    print("evidock 证据光盘校验 / evidence disc verification")
    if "case" in facts:
        print("案号 case number: {}    光盘 disc: {}".format(facts["case"], facts["disc"]))
    if "fingerprint" in facts:
        print("验证公钥 verifier key: {}".format(facts["key"]))
        print("公钥指纹 key fingerprint: {}".format(facts["fingerprint"]))
        print("核对公钥 checking the key: " + KEY_ADVICE)
    if "root" in facts:
        print("日志检查点 checkpoint: {} 条 entries, root {}".format(facts["size"], facts["root"]))
    _print_outside_trust(facts)
    print(f"通过的检查 checks passed: {len(report.passed)}")
    for path, message in report.failures:
        print(f"失败 FAILED  {path}: {message}")
    if report.failures:
        names = sorted({path for path, _ in report.failures})
        print("结论：校验未通过，以下文件有问题：{}".format("、".join(names)))
        print("VERDICT: FAILED — {} problem(s) in: {}".format(len(report.failures), ", ".join(names)))
    else:
        print("结论：校验通过。光盘内容与执法记录仪采集站日志记录一致，未被改动。")
        print("VERDICT: PASSED — every file matches what the station's signed log recorded.")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="replace")  # a console that cannot show Chinese still gets the verdict
    vkey = None
    if "--vkey" in args:
        at = args.index("--vkey")
        vkey = args[at + 1] if at + 1 < len(args) else ""
        del args[at : at + 2]
    witnesses = []
    while "--witness" in args:
        at = args.index("--witness")
        witnesses.append(args[at + 1] if at + 1 < len(args) else "")
        del args[at : at + 2]
    root = args[0] if args else os.path.dirname(os.path.abspath(__file__))
    report, facts = verify_disc(root, vkey, witnesses or None)
    _print_report(report, facts)
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
