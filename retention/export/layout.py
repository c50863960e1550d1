"""Pure rules of the disc layout: media sizes, readable names, and which recording goes on which disc.

Names. An original keeps its bytes but gets a name a clerk can read:
``<device>_<local start YYYYMMDD-HHMMSS>_<sequence>_<first 8 hex of SHA-256><ext>``
(the hash prefix keeps names unique and ties them to the manifest). The names
go into Joliet (UCS-2, what Windows reads) and Rock Ridge (UTF-8, what Linux
and macOS read). Joliet allows 64 characters of the Basic Multilingual Plane
per name, so characters outside it become ``_`` and a long device name is
shortened; characters Windows forbids in names become ``_`` too.

Splitting. Recordings are kept in their order (device, time, sequence), so a
disc holds a continuous stretch, and fill discs one after the other. A disc's
room is its capacity less what the image needs besides the originals (volume
descriptors, directories, path tables, the verifier, sheets and proofs), which
is estimated generously per disc and per log entry; the image builder checks
the real size before writing. A recording is never cut in two: one that does
not fit an empty disc is refused with the medium that would take it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from retention.errors import RetentionError

SECTOR = 2048  # bytes: the ISO 9660 logical block

MEDIA: dict[str, int] = {
    "cd": 360_000 * SECTOR,  # 80-minute CD-R: 737,280,000 bytes
    "dvd": 2_295_104 * SECTOR,  # DVD±R single layer: 4,700,372,992 bytes
    "dvd-dl": 4_171_712 * SECTOR,  # DVD-R dual layer (DVD+R DL holds a little more): 8,543,666,176 bytes
    "bd": 12_219_392 * SECTOR,  # BD-R single layer: 25,025,314,816 bytes
}
"""Capacity of each medium in bytes (sectors as the drives report them)."""

FIXED_OVERHEAD = 1024 * 1024  # bytes per disc besides the originals and the proofs (ISO metadata, sheets)
PER_RECORDING = 4 * SECTOR  # bytes per recording: directory record, manifest, label and SHA256SUMS lines
PER_ENTRY = 2 * SECTOR  # bytes per log entry on the disc (its proof file and directory record)

JOLIET_NAME = 64  # UCS-2 characters per Joliet name
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


class ExportError(RetentionError):
    """The export is refused or cannot go on; the message says why and what to do."""


def capacity_of(media: str) -> int:
    try:
        return MEDIA[media]
    except KeyError:
        raise ExportError(f"--media {media!r} is not known; use one of {', '.join(MEDIA)}") from None


def rounded(size: int) -> int:
    """Bytes a file of ``size`` bytes takes on the disc (whole sectors)."""
    return -(-size // SECTOR) * SECTOR


def safe_name(text: str) -> str:
    """``text`` usable as a file name on Windows, macOS and Linux and in Joliet (BMP only)."""
    text = unicodedata.normalize("NFC", text)
    cleaned = "".join("_" if ord(c) > 0xFFFF else c for c in _FORBIDDEN.sub("_", text))
    return cleaned.strip(" .") or "_"


def readable_name(
    *,
    recording: str,
    device: str | None,
    start: datetime | None,
    seq: int | None,
    original_name: str,
    tz: ZoneInfo,
) -> str:
    """The original's name on the disc (see the module docstring); at most 64 characters."""
    suffix = ""
    if "." in original_name:
        ext = safe_name(original_name.rsplit(".", 1)[1])[:8]
        suffix = f".{ext}" if ext != "_" else ""
    when = start.astimezone(tz).strftime("%Y%m%d-%H%M%S") if start else "time-unknown"
    tail = f"_{when}_{seq:04d}_{recording[:8]}" if seq is not None else f"_{when}_{recording[:8]}"
    room = JOLIET_NAME - len(tail) - len(suffix)
    head = safe_name(device or "unknown-device")[:room].rstrip(" .") or "_"
    return f"{head}{tail}{suffix}"


@dataclass(frozen=True)
class Item:
    """One recording to place: its id, size in bytes and the number of its log entries on the disc."""

    recording: str
    size: int
    entries: int


def room_needed(items: Sequence[Item]) -> int:
    """Estimated image size of a disc holding ``items``."""
    return FIXED_OVERHEAD + sum(rounded(i.size) + PER_RECORDING + PER_ENTRY * i.entries for i in items)


def plan_discs(items: Sequence[Item], capacity: int, *, media: str) -> list[list[Item]]:
    """Fill discs in order; each list is one disc. Refuses a recording larger than an empty disc."""
    discs: list[list[Item]] = []
    current: list[Item] = []
    for item in items:
        if room_needed([item]) > capacity:
            bigger = [m for m, c in MEDIA.items() if c >= room_needed([item])]
            advice = f"use --media {bigger[0]}" if bigger else "no disc medium is large enough"
            raise ExportError(
                f"recording {item.recording[:12]} ({item.size} bytes) does not fit on one {media} disc "
                f"({capacity} bytes with the disc's own files); {advice}"
            )
        if current and room_needed([*current, item]) > capacity:
            discs.append(current)
            current = []
        current.append(item)
    if current:
        discs.append(current)
    return discs
