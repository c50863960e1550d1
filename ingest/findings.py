# ruff: noqa: RUF001 - the Chinese messages use full-width punctuation on purpose
"""What the checks report: one ``Finding`` per fact that needs a person's attention.

A finding never blocks storage (the original is preserved first, then flagged,
DESIGN "Data flow" step 6). Each one names the recordings it concerns, the
facts found (``detail``), and says in English and in Chinese what was expected,
what was found and what to do, citing the article of
《行政执法全过程记录办法》 it traces to. Custodians read ``message_zh``.

``Finding.key`` identifies a finding across re-runs: the caller stores findings
uniquely by key, so running the checks again over the same recordings updates
a finding instead of adding a second one (and keeps the explanation attached
to it). The key is the kind, the recordings and, for findings inside one file,
the stream, media position and check. It deliberately leaves out ``start``: that is a
*corrected* time, and it moves when a later clock calibration arrives for the
device; a key that moved with it would leave the old finding open and orphan
its explanation. See docs/time-model.md.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final
from urllib.parse import quote

__all__ = ["Finding", "FindingKind", "display_text", "format_length", "format_seconds", "rfc3339"]

_KEY_SAFE: Final = "-._~:#"  # everything else in a key component is %-escaped


class FindingKind(enum.StrEnum):
    """The kinds of findings. The value is the stable name stored in the catalog and the log."""

    CLOCK_DRIFT = "clock_drift"
    """A calibration after the recording found the device clock off by more than the tolerance."""
    CLOCK_UNVERIFIED = "clock_unverified"
    """No calibration of the device clock close enough to the recording to trust its time."""
    TIME_MISMATCH = "time_mismatch"
    """The start time in the file name and the time embedded in the file disagree."""
    GAP = "gap"
    """Between two consecutive recordings of one device, more time than a normal file split."""
    OVERLAP = "overlap"
    """Two recordings of one device overlap in corrected time: a clock fault."""
    MISSING_SEGMENT = "missing_segment"
    """A device's file sequence numbers skip: files are missing."""
    INTERNAL_GAP = "internal_gap"
    """Inside one file: timestamps jump or go back, frames or audio are missing."""
    CORRUPT = "corrupt"
    """The file cannot be decoded or is truncated (kept as it is, art. 28)."""
    UNMATCHED_NAME = "unmatched_name"
    """The file name matches no configured pattern: device, officer and start are unknown."""
    NOT_MEDIA = "not_media"
    """The file is not audio, video or a picture."""
    SUPERSEDED_PARTIAL = "superseded_partial"
    """A file taken while its writer paused: a later, longer file at the same dock path begins with its bytes."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One fact that needs attention, with the numbers behind it.

    Times are aware UTC datetimes on the *corrected* timeline (device clock
    offset removed); the device's raw times are in ``detail`` where they matter.
    ``position_ms`` and ``stream`` locate findings inside one file, in media
    time (milliseconds from the file's first timestamp).
    """

    kind: FindingKind
    recordings: tuple[str, ...]  # recording ids, in time order
    message: str  # English: what was expected, what was found, what to do
    message_zh: str  # Chinese, for custodians; cites the article (e.g. 第七条)
    device: str | None = None
    start: datetime | None = None  # aware, UTC
    end: datetime | None = None  # aware, UTC
    length_ms: int | None = None
    stream: str | None = None  # e.g. "video:0" or "video:0+audio:1", for in-file findings
    position_ms: int | None = None  # media time inside the file, for in-file findings
    check: str | None = None  # which check of the kind found it, e.g. "jump", "audio_ends_early"
    detail: Mapping[str, str | int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", FindingKind(self.kind))
        object.__setattr__(self, "recordings", tuple(self.recordings))
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                if value.tzinfo is None or value.utcoffset() is None:
                    raise ValueError(f"Finding.{name} must be an aware datetime, got naive {value}")
                object.__setattr__(self, name, value.astimezone(UTC))
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"Finding ends before it starts: {self.start} > {self.end}")
        if self.length_ms is not None and self.length_ms < 0:
            raise ValueError(f"Finding.length_ms must be >= 0, got {self.length_ms}")
        object.__setattr__(self, "detail", MappingProxyType(dict(self.detail)))

    @property
    def key(self) -> str:
        """Stable identity: ``kind/rec1+rec2``, plus ``/stream@position/check`` in a file.

        Components are %-escaped, so ids containing ``/``, ``+`` or ``@`` cannot collide.
        """
        recordings = "+".join(quote(r, safe=_KEY_SAFE) for r in self.recordings)
        key = f"{self.kind.value}/{recordings}"
        if self.stream is not None or self.position_ms is not None or self.check is not None:
            stream = "-" if self.stream is None else quote(self.stream, safe=_KEY_SAFE)
            position = "-" if self.position_ms is None else str(self.position_ms)
            key += f"/{stream}@{position}"
            if self.check is not None:
                key += "/" + quote(self.check, safe=_KEY_SAFE)
        return key

    def as_json(self) -> dict[str, object]:
        """Plain JSON types; times as RFC 3339 UTC with ``Z`` (for log entries and ``--json``)."""
        return {
            "key": self.key,
            "kind": self.kind.value,
            "recordings": list(self.recordings),
            "device": self.device,
            "start": rfc3339(self.start) if self.start is not None else None,
            "end": rfc3339(self.end) if self.end is not None else None,
            "length_ms": self.length_ms,
            "stream": self.stream,
            "position_ms": self.position_ms,
            "check": self.check,
            "detail": dict(self.detail),
            "message": self.message,
            "message_zh": self.message_zh,
        }


def rfc3339(moment: datetime) -> str:
    """``2026-11-20T00:06:19.250Z``: UTC, milliseconds only when not zero."""
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_seconds(ms: int) -> str:
    """Milliseconds as seconds for messages: ``40000`` -> ``"40"``, ``3008`` -> ``"3.008"``."""
    sign = "-" if ms < 0 else ""
    whole, rest = divmod(abs(ms), 1000)
    if rest == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{rest:03d}".rstrip("0")


def format_length(ms: int) -> tuple[str, str]:
    """A length for messages in English and Chinese; from two minutes on, also in h/min/s.

    ``40000`` -> ``40 s``; ``20700000`` -> ``20700 s (5 h 45 min)``; the same in Chinese.
    """
    seconds = format_seconds(ms)
    if abs(ms) < 120_000:
        return f"{seconds} s", f"{seconds} 秒"
    hours, rest = divmod(round(abs(ms) / 1000), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h", "小时"), (minutes, "min", "分钟"), (secs, "s", "秒")]
    shown = [(n, en, zh) for n, en, zh in parts if n]
    en = " ".join(f"{n} {unit}" for n, unit, _ in shown)
    zh = " ".join(f"{n} {unit}" for n, _, unit in shown)
    return f"{seconds} s ({en})", f"{seconds} 秒（{zh}）"


def display_text(text: str, limit: int = 120) -> str:
    """Untrusted text (file names, tool output) made safe to put in a one-line message.

    Control characters, line breaks and undecodable bytes (lone surrogates from
    ``surrogateescape``) become ``\\xNN``/``\\uNNNN`` escapes; Chinese and other
    printable characters stay; the result is cut to ``limit`` characters with ``…``.
    """
    out: list[str] = []
    for char in text:
        if char.isprintable():
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    shown = "".join(out)
    if len(shown) > limit:
        shown = shown[: max(limit - 1, 0)] + "…"
    return shown
