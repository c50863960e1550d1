"""Basic media facts from ffprobe (stream timing) and pymediainfo (general track).

Probing reads container headers, not the whole file; the one full read of a
file is the hashing upload. A file that is not media, or is corrupt, is not an
error here: the facts say so and the file is stored all the same. Case
documents (PDF, OFD, office files, scans) are recognised by their first bytes
(``ingest.documents``) and get the kind ``document``.

Embedded times are read with the zone rule their format implies
(``EmbeddedTime``; docs/time-model.md "Embedded times"): MP4/MOV/Matroska
``creation_time`` is UTC by specification; ID3, RIFF ``ICRD``, BWF
``OriginationDate/Time``, AVI ``IDIT`` and EXIF without ``OffsetTimeOriginal``
carry no zone and are the device's local wall clock, placed in a zone only by
the caller, who knows the device's.

ffprobe is run directly with a timeout rather than through ffmpeg-python,
whose ``probe`` cannot time out: a damaged file must not hang an unattended dock.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from pymediainfo import MediaInfo

from ingest.documents import DocumentFacts, sniff_document

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 60
IMAGE_CODECS = frozenset({"mjpeg", "png", "bmp", "tiff", "webp", "gif", "heic"})
IMAGE_FORMATS = frozenset({"image2", "jpeg_pipe", "png_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe"})


@dataclass(frozen=True)
class StreamHeader:
    """One audio or video stream as its headers describe it."""

    index: int
    kind: str  # "video" or "audio"
    duration_ms: int | None
    frames: int | None
    frame_rate: str | None  # exact fraction, e.g. "25/1"


SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
# Containers whose specification makes a zoneless creation time UTC (ISO/IEC 14496-12, Matroska DateUTC).
UTC_CONTAINERS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm"})


@dataclass(frozen=True)
class EmbeddedTime:
    """A start time the file states about itself, and the tag it came from.

    ``value`` is aware when the format fixes the zone (UTC by specification, or
    an offset written next to it) and naive when it is the device's local wall
    clock: ``at(zone)`` places it. ``resolution`` is one second, or one minute
    for tags without seconds (ID3v2.3 ``TIME``): the name's time then agrees
    when it falls in the same minute.
    """

    tag: str  # e.g. "mp4 creation_time", "ID3v2.4 TDRC", "EXIF DateTimeOriginal"
    value: datetime
    resolution: timedelta = SECOND

    @property
    def device_local(self) -> bool:
        return self.value.tzinfo is None

    def at(self, device_zone: tzinfo) -> datetime:
        """The instant, aware UTC; a device-local wall clock is read in ``device_zone``."""
        aware = self.value.replace(tzinfo=device_zone) if self.value.tzinfo is None else self.value
        return aware.astimezone(UTC)

    def as_json(self) -> dict[str, str | int]:
        return {
            "tag": self.tag,
            "value": self.value.isoformat(),
            "zone": "device-local" if self.device_local else "stated",
            "resolution_s": int(self.resolution.total_seconds()),
        }


@dataclass(frozen=True)
class MediaFacts:
    """What the file says about itself. ``problem`` is set when it could not be read as media."""

    kind: str  # "video", "audio", "photo", "document" or "other"
    container: str | None = None
    duration_ms: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: str | None = None  # exact fraction, e.g. "25/1", "30000/1001"
    frames: int | None = None
    creation_time: datetime | None = None  # embedded, UTC: only when the file states the zone
    problem: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    streams: tuple[StreamHeader, ...] = ()
    embedded: EmbeddedTime | None = None  # the embedded start, zone rule included (see EmbeddedTime)
    pages: int | None = None  # documents: the page count, where cheap to read

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "container": self.container,
            "duration_ms": self.duration_ms,
            "video_codec": self.video_codec,
            "audio_codec": self.audio_codec,
            "width": self.width,
            "height": self.height,
            "frame_rate": self.frame_rate,
            "frames": self.frames,
            "creation_time": self.creation_time.isoformat() if self.creation_time else None,
            "problem": self.problem,
            **({"extra": self.extra} if self.extra else {}),
            **({"embedded_time": self.embedded.as_json()} if self.embedded else {}),
            **({"pages": self.pages} if self.pages is not None else {}),
        }

    def embedded_start(self, device_zone: tzinfo) -> datetime | None:
        """The embedded start as aware UTC, a device-local time read in ``device_zone``."""
        return self.embedded.at(device_zone) if self.embedded else None


def probe(path: Path, *, device_named: bool = False) -> MediaFacts:
    """Facts of one file; never raises for bad media (see ``MediaFacts.problem``).

    ``device_named``: the file name matched a device's pattern. A still image
    is a ``photo`` when it comes from a device (so named) or a camera (EXIF
    ``DateTimeOriginal``); any other JPEG/PNG/TIFF is a scanned ``document``.
    """
    facts = _probe(path)
    if facts.kind == "photo" and not device_named and (facts.embedded is None or facts.embedded.tag != EXIF_TAG):
        return replace(facts, kind="document", pages=None if facts.video_codec == "tiff" else 1)
    return facts


def _probe(path: Path) -> MediaFacts:
    ff = _ffprobe(path)
    if isinstance(ff, str):
        document = sniff_document(path)
        if document is not None:
            return _document(document)
        # No mediainfo fallback here: on data it does not recognise it scans
        # the whole file (seconds per GiB), a second full read for nothing.
        return MediaFacts(kind="other", problem=ff)
    id3 = _id3_version(path) if ff.get("format", {}).get("format_name") == "mp3" else None
    facts = _from_ffprobe(ff, mediainfo=_mediainfo_if_useful(path, ff, id3), id3_version=id3)
    if facts.kind == "photo" and facts.video_codec == "mjpeg":
        exif = _exif_time(path)
        if exif is not None:
            facts = replace(facts, embedded=exif, creation_time=None if exif.device_local else exif.at(UTC))
    return facts


def _document(document: DocumentFacts) -> MediaFacts:
    return MediaFacts(kind="document", container=document.format, pages=document.pages)


def _ffprobe(path: Path) -> dict[str, Any] | str:
    """ffprobe's JSON, or the reason it failed. The path is absolute: a leading '-' cannot become an option."""
    target = os.fsencode(path.resolve())
    try:
        done = subprocess.run(
            [b"ffprobe", b"-v", b"error", b"-print_format", b"json", b"-show_format", b"-show_streams", target],
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"ffprobe did not finish within {PROBE_TIMEOUT_SECONDS} s"
    except FileNotFoundError as exc:
        raise RuntimeError("ffprobe is not installed; run `make install` (Debian package ffmpeg)") from exc
    errors = _without_path(done.stderr.decode("utf-8", "replace"), target)
    if done.returncode != 0:
        return errors or f"ffprobe exited with {done.returncode}"
    try:
        data: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        return "ffprobe printed no JSON"
    if not data.get("streams"):
        return errors or "no audio, video or image stream"
    if errors:
        data["_warnings"] = errors
    return data


def _without_path(stderr: str, target: bytes) -> str:
    """ffprobe's messages, one line, without the (long, possibly hostile) file path."""
    path = target.decode("utf-8", "replace")
    lines = []
    for line in stderr.splitlines():
        text = line.replace(path + ": ", "").replace(path, "<file>").strip()
        if text and text not in lines:
            lines.append(text)
    return "; ".join(lines)[:500]


def _from_ffprobe(data: dict[str, Any], *, mediainfo: MediaFacts | None, id3_version: int | None = None) -> MediaFacts:
    fmt: dict[str, Any] = data.get("format", {})
    streams: list[dict[str, Any]] = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    container = fmt.get("format_name")
    is_image = video is not None and (
        video.get("codec_name") in IMAGE_CODECS and (container in IMAGE_FORMATS or _single_frame(video))
    )
    if is_image:
        kind = "photo"
    elif video is not None and not _is_cover_art(video):
        kind = "video"
    elif audio is not None:
        kind = "audio"
    else:
        kind = "other"
    duration = _seconds_to_ms(fmt.get("duration"))
    if kind == "photo":
        duration = 0
    tags = {**fmt.get("tags", {}), **(video or {}).get("tags", {})}
    embedded = _embedded_time(container or "", tags, id3_version)
    if embedded is None and mediainfo is not None:
        embedded = mediainfo.embedded
    created = embedded.at(UTC) if embedded is not None and not embedded.device_local else None
    frames = _int((video or {}).get("nb_frames"))
    warnings = data.get("_warnings")
    return MediaFacts(
        kind=kind,
        container=container,
        duration_ms=duration,
        video_codec=(video or {}).get("codec_name"),
        audio_codec=(audio or {}).get("codec_name"),
        width=_int((video or {}).get("width")),
        height=_int((video or {}).get("height")),
        frame_rate=_rate((video or {}).get("avg_frame_rate")) if kind == "video" else None,
        frames=frames if kind == "video" else None,
        creation_time=created,
        problem=None,
        extra={"ffprobe_warnings": warnings[:500]} if warnings else {},
        embedded=embedded,
        streams=tuple(
            StreamHeader(
                index=int(st.get("index", n)),
                kind=st["codec_type"],
                duration_ms=_seconds_to_ms(st.get("duration")),
                frames=_int(st.get("nb_frames")),
                frame_rate=_rate(st.get("avg_frame_rate")),
            )
            for n, st in enumerate(streams)
            if st.get("codec_type") in ("video", "audio") and not _is_cover_art(st)
        ),
    )


def _single_frame(video: dict[str, Any]) -> bool:
    return _int(video.get("nb_frames")) in (None, 1) and video.get("duration") in (None, "N/A")


def _is_cover_art(video: dict[str, Any]) -> bool:
    return bool(video.get("disposition", {}).get("attached_pic"))


def _mediainfo_if_useful(path: Path, ff: dict[str, Any], id3_version: int | None) -> MediaFacts | None:
    """Ask mediainfo only when ffprobe's tags hold no embedded time (e.g. AMR)."""
    fmt = ff.get("format", {})
    if _embedded_time(fmt.get("format_name") or "", fmt.get("tags", {}), id3_version) is not None:
        return None
    return _mediainfo(path)


def _mediainfo(path: Path) -> MediaFacts | None:
    try:
        # parse_speed 0: headers only. The default scans deep into unknown data,
        # which on a large non-media file is a second full read.
        info = MediaInfo.parse(str(path), parse_speed=0)
    except (OSError, RuntimeError, UnicodeError, ValueError) as exc:
        log.info("mediainfo could not read %r: %s", path, exc)
        return None
    general = next((t for t in info.tracks if t.track_type == "General"), None)
    if general is None:
        return None
    kinds = {t.track_type for t in info.tracks}
    kind = "video" if "Video" in kinds else "audio" if "Audio" in kinds else "photo" if "Image" in kinds else "other"
    embedded = None
    for attr in ("encoded_date", "tagged_date", "recorded_date"):
        # mediainfo marks the times it knows to be UTC ("... UTC"); the others are as the device wrote them.
        embedded = _time_of(f"mediainfo {attr}", getattr(general, attr, None))
        if embedded:
            break
    return MediaFacts(
        kind=kind,
        container=getattr(general, "format", None),
        duration_ms=_int(getattr(general, "duration", None)),
        creation_time=embedded.at(UTC) if embedded and not embedded.device_local else None,
        embedded=embedded,
    )


EXIF_TAG = "EXIF DateTimeOriginal"
_DATE_TIME = re.compile(r"(\d{4})[-:](\d{2})[-:](\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?")


def _embedded_time(container: str, raw_tags: dict[str, Any], id3_version: int | None) -> EmbeddedTime | None:
    """The start a container's tags state, read by the zone rule of that container.

    ffprobe maps each format's own tag to a common key: ``creation_time`` is
    MP4/MOV ``mvhd`` (UTC), Matroska ``DateUTC`` (UTC) or AVI ``IDIT`` (local);
    ``date`` is ID3 ``TDRC``/``TYER+TDAT+TIME`` or RIFF ``ICRD`` (local); a BWF
    ``bext`` chunk gives ``date`` (OriginationDate) and ``creation_time``
    (OriginationTime) plus ``time_reference``.
    """
    tags = {str(k).lower(): str(v) for k, v in raw_tags.items()}
    formats = set(container.split(","))
    if formats & UTC_CONTAINERS:
        name = "Matroska DateUTC" if formats & {"matroska", "webm"} else "mp4 creation_time"
        found = _time_of(name, tags.get("creation_time"), naive_is_utc=True)
        # Apple's vendor tag carries the device's offset ("2026-11-20T08:06:19+0800").
        apple = "com.apple.quicktime.creationdate"
        return found or _time_of(f"QuickTime {apple}", tags.get(apple))
    if "mp3" in formats:
        tag = "ID3v2.3 TYER/TDAT/TIME" if id3_version == 3 else f"ID3v2.{id3_version or 4} TDRC"
        return _time_of(tag, tags.get("date"))
    if "wav" in formats and "time_reference" in tags and "date" in tags:
        bwf = _time_of("BWF OriginationDate/Time", f"{tags['date']} {tags.get('creation_time', '')}")
        if bwf is not None:
            return bwf
    if "avi" in formats:
        return _time_of("AVI IDIT", tags.get("creation_time")) or _time_of("RIFF ICRD", tags.get("date"))
    if "wav" in formats:
        return _time_of("RIFF ICRD", tags.get("date"))
    return _time_of("creation_time", tags.get("creation_time")) or _time_of("date", tags.get("date"))


def _time_of(tag: str, value: object, *, naive_is_utc: bool = False) -> EmbeddedTime | None:
    """``value`` read as a date with a time of day; a date alone, or a year, is not a start.

    Reads ffprobe's ``2026-11-20T00:06:19.000000Z``, ID3's ``2026-11-20T08:06:19``
    and ``2026-11-20 08:06``, EXIF's ``2026:11:20 08:06:19``, mediainfo's
    ``2026-11-20 00:06:19 UTC``, and offsets (``+08:00``, ``+0800``).
    """
    if not isinstance(value, str):
        return None
    text = value.strip().removeprefix("UTC ").replace(" UTC", "Z")
    found = _DATE_TIME.match(text)
    if found is None:
        return None
    text = f"{found[1]}-{found[2]}-{found[3]}T{text[found.start(4) :]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.year < 1990:  # an unset camera clock's epoch is not a time
        return None
    if parsed.tzinfo is None and naive_is_utc:
        parsed = parsed.replace(tzinfo=UTC)
    return EmbeddedTime(tag=tag, value=parsed, resolution=SECOND if found[6] else MINUTE)


def _id3_version(path: Path) -> int | None:
    """The major version of a leading ID3v2 tag (3 or 4): it decides which date frames were read."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
    except OSError:
        return None
    return head[3] if len(head) == 4 and head.startswith(b"ID3") else None


def _exif_time(path: Path) -> EmbeddedTime | None:
    """EXIF ``DateTimeOriginal``, with ``OffsetTimeOriginal`` when the camera wrote one.

    ffprobe shows EXIF only as the decoded frame's tags; it names 0x9011
    (OffsetTimeOriginal, EXIF 2.31) by number.
    """
    try:
        done = subprocess.run(
            [
                *(b"ffprobe", b"-v", b"error", b"-select_streams", b"v:0", b"-read_intervals", b"%+#1"),
                *(b"-show_entries", b"frame_tags", b"-of", b"json", os.fsencode(path.resolve())),
            ],
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
        frames = json.loads(done.stdout).get("frames") or [{}]
    except (subprocess.TimeoutExpired, json.JSONDecodeError):
        return None
    tags = {str(k).lower(): str(v) for k, v in frames[0].get("tags", {}).items()}
    original = tags.get("datetimeoriginal")
    if not original:
        return None
    offset = tags.get("offsettimeoriginal") or tags.get("0x9011") or ""
    return _time_of(EXIF_TAG, f"{original.strip()}{offset.strip()}")


def _seconds_to_ms(value: object) -> int | None:
    try:
        return round(Fraction(str(value)) * 1000) if value not in (None, "N/A") else None
    except (ValueError, ZeroDivisionError):
        return None


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value not in (None, "N/A") else None
    except ValueError:
        return None


def _rate(value: object) -> str | None:
    """ffprobe's exact frame rate fraction, e.g. "25/1" or "30000/1001"."""
    if not isinstance(value, str) or value in ("0/0", "N/A"):
        return None
    return value


class PacketScan:
    """Packet timestamps of every stream, read by ffprobe in the background.

    Started before the upload so the two run side by side (the file is then
    in the page cache): the deep scan costs little extra time. Output goes to
    a temporary file, not a pipe, so ffprobe never blocks on a full pipe.
    """

    def __init__(self, path: Path) -> None:
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed in result()
        self._proc = subprocess.Popen(
            [
                b"ffprobe",
                b"-v",
                b"error",
                b"-show_entries",
                b"packet=stream_index,pts_time",
                b"-of",
                b"csv=p=0",
                os.fsencode(path.resolve()),
            ],
            stdout=self._out,
            stderr=subprocess.DEVNULL,
        )

    def result(self, timeout: float = PROBE_TIMEOUT_SECONDS * 10) -> dict[int, list[int]] | None:
        """Packet pts in milliseconds per stream index, in file order; None if the scan failed."""
        try:
            self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
            self._out.close()
            return None
        try:
            if self._proc.returncode != 0:
                return None
            self._out.seek(0)
            packets: dict[int, list[int]] = {}
            for line in self._out:
                fields = line.strip().split(b",")  # "stream_index,pts_time[,side data...]"
                if len(fields) < 2 or not fields[0].isdigit() or fields[1] in (b"", b"N/A"):
                    continue
                try:
                    pts_ms = round(Decimal(fields[1].decode("ascii")) * 1000)
                except (ArithmeticError, UnicodeError):
                    continue
                packets.setdefault(int(fields[0]), []).append(pts_ms)
            return packets
        finally:
            self._out.close()

    def cancel(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._out.close()
