# ruff: noqa: RUF001 - the Chinese messages use full-width punctuation on purpose
"""Device, officer, start time and sequence number from a recording's file name.

Cameras name their files in *local* time on the *device* clock; ``parse_name``
turns that into an aware UTC datetime using the time zone the caller passes
(``Asia/Shanghai`` at the bureau). The result is the device's raw start: the
clock correction (``ingest.clock``) is applied later, and both are kept.

Patterns are per vendor and configurable. Three built in (``BUILTIN_PATTERNS``):

* ``dock``: ``DEVICE_OFFICER_YYYYMMDDhhmmss_SEQ.ext``,
  e.g. ``DSJ0012_010203_20261120080619_0001.mp4``
* ``split-date``: ``DEVICE_OFFICER_YYYYMMDD_hhmmss_SEQ.ext``,
  e.g. ``DSJ0012_010203_20261120_080619_0001.MP4``
* ``date-first``: ``YYYYMMDD_hhmmss_DEVICE.ext``, e.g. ``20261120_080619_DSJ0012.wav``

``dock`` is the layout of DESIGN.md (and the default). ``split-date`` has date and
time apart, as Hikvision-style cameras do. ``date-first`` is the generic
recorder/phone style with no officer and no sequence number. These are shapes,
not promises about any one product: compare with a real file before relying on one.

A pattern is a regular expression matched against the *whole* name, with named
groups ``device`` and ``start`` (required) and ``officer``, ``seq``, ``ext``
(optional); ``start_format`` is the ``strptime`` format of the ``start`` group.
Patterns are compiled ASCII-only, so ``\\d`` never matches full-width or other
non-ASCII digits. A name that fits no pattern, or whose date is impossible
(``20261345…``), gives ``None``; the caller records an UNMATCHED_NAME finding
(``unmatched_name_finding``) and stores the file all the same.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Final

from chain.errors import EvidockError
from ingest.findings import Finding, FindingKind, display_text

__all__ = [
    "BUILTIN_PATTERNS",
    "DEFAULT_PATTERN",
    "MAX_NAME_LENGTH",
    "NameFacts",
    "NamePattern",
    "PatternError",
    "parse_name",
    "unmatched_name_finding",
]

MAX_NAME_LENGTH: Final = 1024  # characters; longer names are refused unread (255 bytes is the usual limit)
_REQUIRED_GROUPS: Final = frozenset({"device", "start"})
_KNOWN_GROUPS: Final = frozenset({"device", "start", "officer", "seq", "ext"})


class PatternError(EvidockError):
    """A configured file-name pattern cannot be used (bad regex, missing group, bad format)."""


@dataclass(frozen=True, slots=True)
class NamePattern:
    """One vendor's file-name layout. Build it with ``NamePattern.compile``."""

    name: str  # e.g. "dock"; shown in findings and logs
    regex: re.Pattern[str]
    start_format: str = "%Y%m%d%H%M%S"  # strptime format of the ``start`` group, local time
    example: str = ""  # a name that matches, shown when a name does not

    @classmethod
    def compile(cls, name: str, regex: str, *, start_format: str = "%Y%m%d%H%M%S", example: str = "") -> NamePattern:
        """Check and compile a pattern (from config.toml); ``PatternError`` says what to fix."""
        try:
            compiled = re.compile(regex, re.ASCII)
        except re.error as exc:
            raise PatternError(f"file-name pattern {name!r}: invalid regular expression: {exc}") from exc
        groups = set(compiled.groupindex)
        if missing := _REQUIRED_GROUPS - groups:
            raise PatternError(
                f"file-name pattern {name!r}: expected named groups (?P<device>…) and "
                f"(?P<start>…), missing {', '.join(sorted(missing))}"
            )
        if unknown := groups - _KNOWN_GROUPS:
            raise PatternError(
                f"file-name pattern {name!r}: unknown named groups {', '.join(sorted(unknown))}; "
                f"use only {', '.join(sorted(_KNOWN_GROUPS))}"
            )
        if not _reads_own_output(start_format):
            raise PatternError(
                f"file-name pattern {name!r}: start_format {start_format!r} is not a strptime "
                "format that reads its own output; expected e.g. '%Y%m%d%H%M%S'"
            )
        pattern = cls(name=name, regex=compiled, start_format=start_format, example=example)
        if example and _match(pattern, example) is None:
            raise PatternError(f"file-name pattern {name!r}: its own example {example!r} does not match")
        return pattern


def _reads_own_output(start_format: str) -> bool:
    """A usable format has a directive and parses what it formats (catches typos like ``%Q``)."""
    if "%" not in start_format:
        return False
    sample = datetime(2026, 11, 20, 8, 6, 19, tzinfo=UTC)
    try:
        datetime.strptime(sample.strftime(start_format), start_format)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class NameFacts:
    """What a file name says. ``start`` is the device's raw clock reading, as aware UTC."""

    pattern: str  # NamePattern.name that matched
    device: str
    officer: str | None  # 警号 (officer number), when the name carries it
    start: datetime  # device clock, converted from local time to aware UTC; not corrected
    local_start: datetime  # the same reading as written in the name (naive, local)
    seq: int | None  # file sequence number, when the name carries it
    ext: str | None  # lower-case, without the dot


def _match(pattern: NamePattern, name: str, tz: tzinfo = UTC) -> NameFacts | None:
    found = pattern.regex.fullmatch(name)
    if found is None:
        return None
    groups = found.groupdict()
    device, start_text, seq, ext = (
        groups["device"],
        groups["start"],
        groups.get("seq"),
        groups.get("ext"),
    )
    if not device or not start_text:  # optional groups in a configured pattern
        return None
    try:
        local = datetime.strptime(start_text, pattern.start_format)  # local time; zone added below
        aware = local.replace(tzinfo=tz) if local.tzinfo is None else local
        start = aware.astimezone(UTC)
        number = int(seq) if seq else None
    except (ValueError, OverflowError):  # impossible date, out of range in UTC, odd digits
        return None
    return NameFacts(
        pattern=pattern.name,
        device=device,
        officer=groups.get("officer") or None,
        start=start,
        local_start=local.replace(tzinfo=None),
        seq=number,
        ext=ext.lower() if ext else None,
    )


_ID: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"  # 1-64 chars, no leading/trailing '-'
_EXT: Final = r"(?:\.(?P<ext>[A-Za-z0-9]{1,5}))"

DEFAULT_PATTERN: Final = NamePattern.compile(
    "dock",
    rf"(?P<device>{_ID})_(?P<officer>{_ID})_(?P<start>\d{{14}})_(?P<seq>\d{{1,9}}){_EXT}?",
    example="DSJ0012_010203_20261120080619_0001.mp4",
)
BUILTIN_PATTERNS: Final[tuple[NamePattern, ...]] = (
    DEFAULT_PATTERN,
    NamePattern.compile(
        "split-date",
        rf"(?P<device>{_ID})_(?P<officer>{_ID})_(?P<start>\d{{8}}_\d{{6}})_(?P<seq>\d{{1,9}}){_EXT}?",
        start_format="%Y%m%d_%H%M%S",
        example="DSJ0012_010203_20261120_080619_0001.MP4",
    ),
    NamePattern.compile(
        "date-first",
        rf"(?P<start>\d{{8}}_\d{{6}})_(?P<device>{_ID}){_EXT}?",
        start_format="%Y%m%d_%H%M%S",
        example="20261120_080619_DSJ0012.wav",
    ),
)


def parse_name(name: str, patterns: Sequence[NamePattern], tz: tzinfo) -> NameFacts | None:
    """The facts in ``name`` by the first pattern that matches it whole, or ``None``.

    ``tz`` is the local time zone the device writes names in. A ``start_format``
    that carries its own offset (``%z``) wins over ``tz``. In a zone with
    daylight saving time, an ambiguous local time reads as the earlier instant
    (``fold=0``). Never raises for any ``name``.
    """
    if len(name) > MAX_NAME_LENGTH:
        return None
    for pattern in patterns:
        facts = _match(pattern, name, tz)
        if facts is not None:
            return facts
    return None


def unmatched_name_finding(
    recording: str, name: str, patterns: Sequence[NamePattern], *, device: str | None = None
) -> Finding:
    """The UNMATCHED_NAME finding for a file whose name ``parse_name`` could not read."""
    shown = display_text(name)
    examples = ", ".join(p.example or p.name for p in patterns) or "(no patterns configured)"
    return Finding(
        kind=FindingKind.UNMATCHED_NAME,
        recordings=(recording,),
        device=device,
        detail={
            "name": display_text(name, limit=300),
            "patterns": ", ".join(p.name for p in patterns),
        },
        message=(
            f'file name "{shown}" matches no configured pattern (expected e.g. {examples}); '
            "device, officer and start time are unknown. The file is stored; enter them by hand "
            "or add the vendor's pattern to config.toml."
        ),
        message_zh=(
            f"文件名「{shown}」不符合任何已配置的命名规则（例如 {examples}），无法识别设备编号、"
            "警号和开始时间。文件已原样保存；请人工补录，或在 config.toml 中添加该厂商的命名规则。"
        ),
    )
