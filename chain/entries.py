"""Typed log entries and their one canonical byte encoding.

An entry is a JSON object canonicalised with RFC 8785 (JCS)::

    {"body":{...},"prev":12,"recording":"<id>","station":"dock-01",
     "time":"2026-11-26T12:00:00Z","type":"LABEL","v":1}

Those canonical bytes are what the Merkle leaf hashes, so they must be the same
on every machine forever. Hence the restrictions:

* **Integers only.** JCS formats numbers as ECMAScript doubles; a float such as
  ``0.1`` or ``1e21`` has a canonical form, but whether every producer derives
  the same double from a measurement is exactly the trap. Durations are whole
  milliseconds, sizes whole bytes. Integers are limited to ±(2^53 - 1), the
  range a double holds exactly (RFC 8785 §3.2.2.3, I-JSON).
* **Times are strings,** RFC 3339 in UTC with ``Z`` and whole seconds:
  ``2026-11-26T12:00:00Z``. Sub-second parts are dropped by
  :func:`format_time`; the log's order is its index, not its clock.
* **Decoding refuses anything but canonical bytes:** decode, re-encode, and the
  bytes must be identical. Two encodings of one entry would be two leaves.

Personal data (party names, requester names, anything a disclosure may leave
out) goes into a body only as a salted commitment (:func:`commit`), so a copy of
the log given to a party can omit the salt and value and still verify.

Bodies are plain dicts checked against a per-type table of required keys and
their kinds (``BODY_FIELDS``). Extra keys are allowed, so later versions can add
fields without changing what existing ones mean.

The per-recording custody chain: every entry about a recording carries in
``prev`` the log index of the previous entry about the same recording (``null``
for its first entry), so the entries of one recording can be walked and checked
for gaps without reading the whole log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import NoReturn, TypeAlias

import rfc8785

from chain.errors import EntryError

FORMAT_VERSION = 1
"""The ``v`` of every entry this code writes and reads."""

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer an entry may hold (RFC 8785 §3.2.2.3: doubles represent it exactly)."""

SALT_SIZE = 32
"""Bytes of random salt in a commitment."""

COMMITMENT_PREFIX = "sha256:"
_COMMIT_DOMAIN = b"evidock-commit-v1\x00"
"""Domain separation: commitments can never collide with leaf, node or file hashes."""

JsonValue: TypeAlias = "bool | int | str | list[JsonValue] | dict[str, JsonValue] | None"


class EntryType(StrEnum):
    """What an entry records. The value is the ``type`` string in the JSON."""

    INGEST = "INGEST"  # a recording stored unchanged; opens the recording's custody chain
    LABEL = "LABEL"  # case number, parties, handler (art. 26)
    FINDING = "FINDING"  # a continuity gap, clock offset or other problem found
    EXPLANATION = "EXPLANATION"  # the written explanation closing a finding (art. 7)
    ACCESS = "ACCESS"  # a view, stream, download, copy or export (art. 27, 29)
    APPROVAL = "APPROVAL"  # an approval or refusal of an access or export
    REQUEST = "REQUEST"  # a copy, download or export of a recording asked for (art. 29), before any decision
    HOLD = "HOLD"  # legal hold set or released
    RETENTION = "RETENTION"  # retain-until changed (only ever extended)
    EXPORT = "EXPORT"  # a recording put on a disc export, written before the image is sealed
    EXPORT_SEALED = "EXPORT_SEALED"  # the finished disc image of one export and its hash
    FIXITY = "FIXITY"  # a stored object re-read and its hash compared
    PURGE = "PURGE"  # a recording deleted after its retention ended
    KEY = "KEY"  # a checkpoint signing key added or retired
    USER = "USER"  # a person's rights changed: user added, role changed, user disabled, API token issued
    CLOCK = "CLOCK"  # a device clock read against the station's NTP clock at docking (art. 7)
    CASE = "CASE"  # a case (案号) closed, its case file formed or handed to the archive (art. 26)
    DECISION = "DECISION"  # a case's facts, proposed or final decision, or a major flag (法制审核办法 art. 5-7, 14)
    REVIEW = "REVIEW"  # a step of the legal review (法制审核) of a major decision (法制审核办法 art. 8-13)
    PUBLICATION = "PUBLICATION"  # a decision published, excluded or withdrawn (公示办法 art. 9-10)
    # -- derived files (playback proxies, redacted copies; originals untouched, art. 28, 29) --
    DERIVED = "DERIVED"  # a file made from one original by a recorded ffmpeg command, stored beside it
    REDACTION = "REDACTION"  # a redaction drafted, submitted, approved or refused, or "no third parties present"


# -- times ---------------------------------------------------------------------

_TIME_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with ``Z`` and whole seconds (any fraction dropped).

    A naive datetime is refused: its meaning depends on the machine's zone.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r} refused: pass a timezone-aware datetime")
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


def parse_time(text: str) -> datetime:
    """The aware UTC datetime of a time written by :func:`format_time`; anything else is refused."""
    if not _TIME_PATTERN.fullmatch(text):
        raise EntryError(f"time must look like 2026-11-26T12:00:00Z (UTC, whole seconds), got {text!r}")
    try:
        # The pattern above fixes the form; fromisoformat only has to reject impossible dates.
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise EntryError(f"time {text!r} is not a real date and time: {exc}") from exc


# -- commitments ---------------------------------------------------------------


def new_salt() -> bytes:
    """32 random bytes for one commitment (``secrets``, not I/O)."""
    return secrets.token_bytes(SALT_SIZE)


def commit(value: str, salt: bytes) -> str:
    """Commit to ``value`` without revealing it: ``"sha256:" + hex(SHA-256(layout))``.

    Layout: the ASCII tag ``evidock-commit-v1``, one 0x00 byte, the 32-byte
    salt, then ``value`` in UTF-8 exactly as given (no normalisation). Keep the
    salt beside the entry (never in it); revealing value and salt opens it.
    """
    if len(salt) != SALT_SIZE:
        raise ValueError(f"commitment salt must be {SALT_SIZE} bytes, got {len(salt)}")
    digest = hashlib.sha256(_COMMIT_DOMAIN + salt + value.encode("utf-8")).hexdigest()
    return COMMITMENT_PREFIX + digest


def opens(commitment: str, value: str, salt: bytes) -> bool:
    """Whether ``value`` and ``salt`` open ``commitment``."""
    if len(salt) != SALT_SIZE:
        return False
    try:
        expected = commit(value, salt)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), commitment.encode("utf-8", "replace"))


# -- original file names -------------------------------------------------------


def original_name_fields(name: str | bytes) -> dict[str, JsonValue]:
    """INGEST body fields for a file name as the dock gave it, losslessly.

    ``original_name`` is always the readable UTF-8 form. When the name's bytes
    are not valid UTF-8 (or a ``str`` carries ``os.fsdecode``'s surrogate
    escapes), invalid bytes show as U+FFFD there and ``original_name_b64``
    holds the exact bytes in standard base64.
    """
    if isinstance(name, str):
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            name = name.encode("utf-8", "surrogateescape")
        else:
            return {"original_name": name}
    try:
        return {"original_name": name.decode("utf-8")}
    except UnicodeDecodeError:
        return {
            "original_name": name.decode("utf-8", "replace"),
            "original_name_b64": base64.b64encode(name).decode("ascii"),
        }


def original_name_bytes(body: Mapping[str, JsonValue]) -> bytes:
    """The exact bytes of the original file name recorded in an INGEST body."""
    raw = body.get("original_name_b64")
    if isinstance(raw, str):
        return base64.b64decode(raw, validate=True)
    name = body.get("original_name")
    if not isinstance(name, str):
        raise EntryError("INGEST body has no original_name")
    return name.encode("utf-8")


# -- body fields ---------------------------------------------------------------

_Check: TypeAlias = Callable[[JsonValue], str | None]
"""Returns ``None`` if the value is acceptable, else what was expected."""

_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMITMENT = re.compile(r"sha256:[0-9a-f]{64}")


def _is_int(value: JsonValue) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: JsonValue) -> str | None:
    return None if isinstance(value, str) and value else "a non-empty string"


def _sha256_hex(value: JsonValue) -> str | None:
    ok = isinstance(value, str) and _HEX_SHA256.fullmatch(value)
    return None if ok else "64 lowercase hex digits (SHA-256)"


def _count(value: JsonValue) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return None if ok else "an integer >= 0"


_TIME_MS_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z")


def _time_ms(value: JsonValue) -> str | None:
    """A measured instant: RFC 3339 UTC with ``Z``, milliseconds when not zero (``2026-11-20T00:06:19.250Z``)."""
    if isinstance(value, str) and _TIME_MS_PATTERN.fullmatch(value):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return None
    return "a UTC time like 2026-11-20T00:06:19.250Z (milliseconds optional)"


def _integer(value: JsonValue) -> str | None:
    return None if _is_int(value) else "an integer"


def _time(value: JsonValue) -> str | None:
    if isinstance(value, str) and _TIME_PATTERN.fullmatch(value):
        try:
            parse_time(value)
        except EntryError:
            pass
        else:
            return None
    return "a UTC time like 2026-11-26T12:00:00Z"


def _commitment(value: JsonValue) -> str | None:
    ok = isinstance(value, str) and _COMMITMENT.fullmatch(value)
    return None if ok else "a commitment 'sha256:<64 hex>'"


def _commitments(value: JsonValue) -> str | None:
    if isinstance(value, list) and all(_commitment(item) is None for item in value):
        return None
    return "a list of commitments 'sha256:<64 hex>'"


def _boolean(value: JsonValue) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _base64(value: JsonValue) -> str | None:
    if isinstance(value, str) and value:
        try:
            if base64.b64encode(base64.b64decode(value, validate=True)).decode() == value:
                return None
        except binascii.Error:
            pass
    return "canonical standard base64"


def _texts(value: JsonValue) -> str | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return None
    return "a list of strings"


def _or_null(check: _Check) -> _Check:
    def nullable(value: JsonValue) -> str | None:
        problem = check(value)
        return None if value is None or problem is None else f"{problem} or null"

    return nullable


@dataclass(frozen=True)
class BodyField:
    """One known body key: how its value is checked, and whether it must be present."""

    check: _Check
    required: bool = True


def _fields(**spec: _Check | BodyField) -> Mapping[str, BodyField]:
    return MappingProxyType(
        {key: item if isinstance(item, BodyField) else BodyField(item) for key, item in spec.items()}
    )


def _optional(check: _Check) -> BodyField:
    return BodyField(check, required=False)


BODY_FIELDS: Mapping[EntryType, Mapping[str, BodyField]] = MappingProxyType(
    {
        EntryType.INGEST: _fields(
            sha256=_sha256_hex,  # of the original bytes, as stored
            size=_count,  # bytes
            object_key=_text,
            version_id=_text,  # the object store's version id of the stored original
            original_name=_text,  # see original_name_fields
            original_name_b64=_optional(_base64),
            device=_or_null(_text),
            officer=_or_null(_text),
            start_raw=_or_null(_time),  # the device clock's start time, uncorrected
            sequence=_or_null(_count),  # the device's file sequence number
            retain_until=_time,
            received_at=_time,  # when the station received the file
        ),
        EntryType.LABEL: _fields(
            case_number=_text,  # 案号
            parties=_commitments,  # 当事人, each committed
            handler=_text,  # 承办人
        ),
        EntryType.FINDING: _fields(finding_id=_text, kind=_text),
        EntryType.EXPLANATION: _fields(finding_id=_text, author=_text, explanation=_text),
        EntryType.ACCESS: _fields(
            actor=_text,
            role=_text,
            action=_text,  # view, stream, download, copy, export, metadata
            reason=_text,
            approver=_or_null(_text),
            approval=_optional(_or_null(_count)),  # log index of the APPROVAL entry
            requester_category=_or_null(_text),
            document_ref=_or_null(_text),  # official letter, 律师调查令, ...
            requester=_optional(_or_null(_commitment)),
        ),
        EntryType.APPROVAL: _fields(approver=_text, action=_text, decision=_text, reason=_text),
        EntryType.REQUEST: _fields(
            request=_count,  # the request's number, as people and APPROVAL and ACCESS entries name it
            requested_by=_text,
            action=_text,  # copy, download or export
            reason=_text,  # 事由
            requester_category=_text,
            document_ref=_or_null(_text),  # 文号, 律师调查令
            requester=_optional(_or_null(_commitment)),  # the outside requester (or the party)
            party=_optional(_or_null(_commitment)),  # category party: whose recordings (当事人)
        ),
        EntryType.HOLD: _fields(action=_text, reason=_text),  # action: set | release
        EntryType.RETENTION: _fields(retain_until=_time, reason=_text),
        EntryType.EXPORT: _fields(export_id=_text, maker=_text, extractor=_text),  # 制作人, 提取人
        EntryType.EXPORT_SEALED: _fields(export_id=_text, image_sha256=_sha256_hex, image_size=_count),
        EntryType.FIXITY: _fields(sha256=_sha256_hex, match=_boolean),
        EntryType.PURGE: _fields(object_key=_text, version_id=_text, reason=_text),
        EntryType.KEY: _fields(action=_text, vkey=_text),  # action: add | retire
        EntryType.USER: _fields(
            action=_text,  # add | set-role | disable | token
            user=_text,  # the user name (login) changed
            actor=_text,  # who changed it; "(bootstrap)" for the first admin
            role=_or_null(_text),  # the user's role after the change
            detail=_text,  # "custodian -> admin", the disable reason, ...; never a secret or its hash
        ),
        EntryType.CLOCK: _fields(
            device=_text,
            device_time=_time_ms,  # what the device's clock said
            station_time=_time_ms,  # the station's NTP clock at that moment
            offset_ms=_integer,  # device - station, whole milliseconds (negative: the device is behind)
            source=_text,  # sidecar, cli or api
            by=_text,  # who reported it: the user, or the station for a docked sidecar
        ),
        EntryType.CASE: _fields(
            case_number=_text,  # 案号
            action=_text,  # close | done
            by=_text,
        ),
        # The decision, review and publication entries (the ``cases`` package) name their step in
        # ``action``; what each step holds is in docs/log-format.md. Texts that may name a person
        # (a decision, a proposal, an opinion's reasons) are in them only as commitments.
        EntryType.DECISION: _fields(case_number=_text, action=_text, by=_text),  # facts | propose | mark-major | final
        EntryType.REVIEW: _fields(case_number=_text, action=_text, by=_text),  # submit | check | ... | decide
        EntryType.PUBLICATION: _fields(case_number=_text, action=_text, by=_text),  # publish | exclude | withdraw
        # -- derived files --
        EntryType.DERIVED: _fields(
            kind=_text,  # proxy | redacted
            original_sha256=_sha256_hex,  # the original it was made from: always the entry's recording
            sha256=_sha256_hex,  # of the derived file's bytes, as stored
            size=_count,  # bytes
            object_key=_text,  # its own key, never the original's
            version_id=_text,
            ffmpeg=_text,  # the first line of `ffmpeg -version` that made it
            arguments=_texts,  # ffmpeg's arguments, "{input}" and "{output}" standing for the two files
            requested_by=_text,  # who asked (the station for an automatic playback proxy)
            approved_by=_or_null(_text),  # the second custodian who approved a redaction
            retain_until=_or_null(_time),  # its COMPLIANCE lock, never after the original's
            redaction=_optional(_or_null(_count)),  # the redaction rendered
            spec_sha256=_optional(_or_null(_sha256_hex)),  # SHA-256 of the redaction spec's RFC 8785 bytes
        ),
        EntryType.REDACTION: _fields(
            redaction=_count,  # the redaction's number
            action=_text,  # draft | submit | approve | reject | no-third-parties
            by=_text,
            spec_sha256=_or_null(_sha256_hex),  # the exact spec acted on; null for no-third-parties
            request=_optional(_or_null(_count)),  # the party's access request it serves
        ),
    }
)

RECORDING_REQUIRED = frozenset(
    {
        EntryType.INGEST,
        EntryType.LABEL,
        EntryType.FINDING,
        EntryType.EXPLANATION,
        EntryType.HOLD,
        EntryType.RETENTION,
        EntryType.EXPORT,
        EntryType.FIXITY,
        EntryType.PURGE,
        EntryType.REQUEST,
        EntryType.DERIVED,
        EntryType.REDACTION,
    }
)
"""Types that are always about one recording. ACCESS, APPROVAL and CLOCK (a docked sidecar or not) may or may not be."""

RECORDING_FORBIDDEN = frozenset({EntryType.EXPORT_SEALED, EntryType.KEY, EntryType.USER, EntryType.CASE}) | {
    EntryType.DECISION,
    EntryType.REVIEW,
    EntryType.PUBLICATION,
}
"""Types about no single recording (an export image covers several; a key covers the log; a user, people;
a case and its decision, review and publication, all its recordings)."""


# -- the entry -----------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    raise EntryError(message)


def _frozen_json(value: object, where: str) -> JsonValue:
    """A deep copy of ``value`` as JSON data, refusing what the format does not allow."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            _fail(f"{where}: integer {value} is outside ±(2^53 - 1)")
        return value
    if isinstance(value, float):
        _fail(f"{where}: float {value!r} refused; use integers (milliseconds, bytes)")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            _fail(f"{where}: string {value!r} is not valid Unicode (lone surrogate)")
        return value
    if isinstance(value, list | tuple):
        return [_frozen_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        copied: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                _fail(f"{where}: object key {key!r} is not a string")
            copied[key] = _frozen_json(item, f"{where}.{key}")
        return copied
    _fail(f"{where}: {type(value).__name__} is not a JSON value")


class _Unusual(Exception):
    """The fast copy met something it leaves to :func:`_frozen_json` (which decides, and words the error)."""


def _plain_copy(value: object) -> JsonValue:
    """:func:`_frozen_json` for the common case, much faster: exact built-in types and ASCII keys.

    Anything else (a float, a big integer, a lone surrogate, a tuple, a
    non-ASCII key, a subclass) raises ``_Unusual`` and takes the careful path.
    """
    kind = type(value)
    if kind is str:
        if not value.isascii():  # type: ignore[attr-defined]  # kind is str
            try:
                value.encode("utf-8")  # type: ignore[attr-defined]
            except UnicodeEncodeError:
                raise _Unusual from None
        return value  # type: ignore[return-value]
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # type: ignore[operator]
            return value  # type: ignore[return-value]
        raise _Unusual
    if value is None or kind is bool:
        return value  # type: ignore[return-value]
    if kind is dict or kind is MappingProxyType:
        copied: dict[str, JsonValue] = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str or not key.isascii():
                raise _Unusual
            copied[key] = _plain_copy(item)
        return copied
    if kind is list:
        return [_plain_copy(item) for item in value]  # type: ignore[attr-defined]
    raise _Unusual


def _json_copy(value: object, where: str) -> tuple[JsonValue, bool]:
    """A deep copy of ``value`` as JSON data (see :func:`_frozen_json`), and whether all its keys are ASCII."""
    try:
        return _plain_copy(value), True
    except _Unusual:
        copied = _frozen_json(value, where)
        return copied, _ascii_keys(copied)


@dataclass(frozen=True)
class Entry:
    """One log entry. Construct it directly or with :func:`new_entry`; it checks itself.

    ``time`` is the canonical string (see :func:`format_time`); ``timestamp``
    gives it as a datetime. ``body`` is copied on construction.
    """

    type: EntryType
    time: str
    station: str
    recording: str | None
    prev: int | None
    body: Mapping[str, JsonValue]
    _plain_keys: bool = field(init=False, repr=False, compare=False, default=True)
    """Every body key is ASCII: :func:`encode` may take the fast path (set on construction)."""

    def __post_init__(self) -> None:
        if not isinstance(self.type, EntryType):
            _fail(f"entry type must be an EntryType, got {self.type!r}")
        if not isinstance(self.time, str):
            _fail(f"entry time must be a string, got {self.time!r}")
        parse_time(self.time)
        if not isinstance(self.station, str) or not self.station:
            _fail(f"entry station must be a non-empty string, got {self.station!r}")
        _frozen_json(self.station, "station")
        self._check_custody()
        body, ascii_keys = _json_copy(self.body, "body")
        if not isinstance(body, dict):
            _fail(f"entry body must be an object, got {type(self.body).__name__}")
        for key, spec in BODY_FIELDS[self.type].items():
            if key not in body:
                if spec.required:
                    _fail(f"{self.type} body lacks required key {key!r}")
                continue
            problem = spec.check(body[key])
            if problem is not None:
                _fail(f"{self.type} body {key!r} must be {problem}, got {body[key]!r}")
        object.__setattr__(self, "body", MappingProxyType(body))
        object.__setattr__(self, "_plain_keys", ascii_keys)

    def _check_custody(self) -> None:
        if self.recording is not None and (not isinstance(self.recording, str) or not self.recording):
            _fail(f"entry recording must be a non-empty string or null, got {self.recording!r}")
        _frozen_json(self.recording, "recording")
        if self.type in RECORDING_REQUIRED and self.recording is None:
            _fail(f"{self.type} entry must name its recording")
        if self.type in RECORDING_FORBIDDEN and self.recording is not None:
            _fail(f"{self.type} entry is about no single recording; recording must be null")
        if self.prev is not None:
            if not _is_int(self.prev) or not 0 <= self.prev <= MAX_SAFE_INTEGER:
                _fail(f"entry prev must be a log index >= 0 or null, got {self.prev!r}")
            if self.recording is None:
                _fail(f"entry prev is {self.prev} but recording is null; prev links one recording's entries")

    @property
    def timestamp(self) -> datetime:
        return parse_time(self.time)

    def as_json(self) -> dict[str, JsonValue]:
        """The entry as the JSON object that :func:`encode` canonicalises; the caller's own copy."""
        value = self._canonical_value()
        value["body"] = _json_copy(self.body, "body")[0]
        return value

    def _canonical_value(self) -> dict[str, JsonValue]:
        """What :func:`encode` serialises. The body's nested values are shared, not copied again:
        they are the private copy made on construction, and encoding only reads them."""
        return {
            "v": FORMAT_VERSION,
            "type": self.type.value,
            "time": self.time,
            "station": self.station,
            "recording": self.recording,
            "prev": self.prev,
            "body": dict(self.body),
        }


def new_entry(
    entry_type: EntryType,
    *,
    time: datetime,
    station: str,
    recording: str | None,
    prev: int | None,
    body: Mapping[str, JsonValue],
) -> Entry:
    """An entry at ``time`` (aware; formatted with :func:`format_time`)."""
    return Entry(entry_type, format_time(time), station, recording, prev, body)


def _sorted_json(value: JsonValue) -> bytes:
    """RFC 8785 bytes by the C JSON encoder, for values where the two agree.

    They agree on what entries may hold: integers only (no floats, so no
    number formatting to differ), strings escaped alike (``\\b \\t \\n \\f \\r``,
    other controls as lower-case ``\\u00xx``, nothing else escaped), and object
    keys that are ASCII, where sorting by code point equals RFC 8785's sorting by
    UTF-16 code unit. Anything else goes through ``rfc8785`` itself. This is
    what keeps ``verify`` over a long log fast; the tests compare both paths.
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()


def _ascii_keys(value: JsonValue) -> bool:
    if isinstance(value, dict):
        return all(k.isascii() and _ascii_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_ascii_keys(v) for v in value)
    return True


def encode(entry: Entry) -> bytes:
    """The canonical bytes of an entry: RFC 8785 JSON, UTF-8. These are the leaf's data."""
    value = entry._canonical_value()
    if entry._plain_keys:
        return _sorted_json(value)
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:  # Entry checks prevent this; keep the cause
        raise EntryError(f"entry cannot be canonicalised: {exc}") from exc


_TOP_LEVEL_KEYS = frozenset({"v", "type", "time", "station", "recording", "prev", "body"})


def _no_duplicates(pairs: list[tuple[str, JsonValue]]) -> dict[str, JsonValue]:
    result: dict[str, JsonValue] = {}
    for key, value in pairs:
        if key in result:
            _fail(f"entry JSON repeats key {key!r}")
        result[key] = value
    return result


def _no_float(text: str) -> NoReturn:
    _fail(f"entry JSON holds a non-integer number {text}; entries hold integers only")


def _parse_json(data: bytes) -> dict[str, JsonValue]:
    """Strict JSON: UTF-8, no repeated keys, no non-integer numbers, an object at the top."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EntryError(f"entry bytes are not UTF-8: {exc}") from exc
    try:
        raw = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_float,
        )
    except json.JSONDecodeError as exc:
        raise EntryError(f"entry bytes are not JSON: {exc}") from exc
    except RecursionError as exc:
        raise EntryError("entry JSON is nested too deeply") from exc
    if not isinstance(raw, dict):
        _fail(f"entry must be a JSON object, got {type(raw).__name__}")
    return raw


def _entry_from_json(raw: dict[str, JsonValue]) -> Entry:
    if set(raw) != _TOP_LEVEL_KEYS:
        _fail(f"entry keys must be {sorted(_TOP_LEVEL_KEYS)}, got {sorted(raw)}")
    version = raw["v"]
    if not _is_int(version) or version != FORMAT_VERSION:
        _fail(f"entry format version must be {FORMAT_VERSION}, got {version!r}")
    type_name = raw["type"]
    if not isinstance(type_name, str) or type_name not in EntryType.__members__:
        _fail(f"unknown entry type {type_name!r}")
    time, station, recording, prev, body = (
        raw["time"],
        raw["station"],
        raw["recording"],
        raw["prev"],
        raw["body"],
    )
    if not isinstance(time, str):
        _fail(f"entry time must be a string, got {time!r}")
    if not isinstance(station, str):
        _fail(f"entry station must be a string, got {station!r}")
    if recording is not None and not isinstance(recording, str):
        _fail(f"entry recording must be a string or null, got {recording!r}")
    if prev is not None and (isinstance(prev, bool) or not isinstance(prev, int)):
        _fail(f"entry prev must be a log index or null, got {prev!r}")
    if not isinstance(body, dict):
        _fail(f"entry body must be an object, got {type(body).__name__}")
    return Entry(EntryType(type_name), time, station, recording, prev, body)


def _decode_canonical(data: bytes) -> Entry | None:
    """The entry if ``data`` is its canonical encoding, by the C JSON parser alone; else ``None``.

    Without :func:`_parse_json`'s hooks: they exist to word the error for bad
    input, and canonical bytes cannot repeat a key or hold a float (re-encoding
    would differ). So this accepts exactly what :func:`decode` accepts, and
    :func:`decode` takes the careful path only for bytes that fail here.
    """
    try:
        raw = json.loads(data.decode("utf-8"))
        if not isinstance(raw, dict):
            return None
        entry = _entry_from_json(raw)
        return entry if encode(entry) == data else None
    except (ValueError, EntryError, RecursionError):
        return None


def decode(data: bytes) -> Entry:
    """The entry whose canonical encoding is exactly ``data``; else raise ``EntryError``."""
    fast = _decode_canonical(data)
    if fast is not None:
        return fast
    entry = _entry_from_json(_parse_json(data))
    canonical = encode(entry)
    if canonical != data:
        at = next(
            (i for i, (a, b) in enumerate(zip(canonical, data, strict=False)) if a != b),
            min(len(canonical), len(data)),
        )
        _fail(
            f"entry bytes are not canonical RFC 8785: first difference at byte {at}: "
            f"expected {canonical[at : at + 40]!r}, got {data[at : at + 40]!r}"
        )
    return entry
