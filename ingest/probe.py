"""Basic media facts from ffprobe (stream timing) and pymediainfo (general track).

Probing reads container headers, not the whole file; the one full read of a
file is the hashing upload. A file that is not media, or is corrupt, is not an
error here: the facts say so and the file is stored all the same.

ffprobe is run directly with a timeout rather than through ffmpeg-python,
whose ``probe`` cannot time out: a damaged file must not hang an unattended dock.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from pymediainfo import MediaInfo

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


@dataclass(frozen=True)
class MediaFacts:
    """What the file says about itself. ``problem`` is set when it could not be read as media."""

    kind: str  # "video", "audio", "photo" or "other"
    container: str | None = None
    duration_ms: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: str | None = None  # exact fraction, e.g. "25/1", "30000/1001"
    frames: int | None = None
    creation_time: datetime | None = None  # embedded, UTC
    problem: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    streams: tuple[StreamHeader, ...] = ()

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
        }


def probe(path: Path) -> MediaFacts:
    """Facts of one file; never raises for bad media (see ``MediaFacts.problem``)."""
    ff = _ffprobe(path)
    if isinstance(ff, str):
        # No mediainfo fallback here: on data it does not recognise it scans
        # the whole file (seconds per GiB), a second full read for nothing.
        return MediaFacts(kind="other", problem=ff)
    return _from_ffprobe(ff, mediainfo=_mediainfo_if_useful(path, ff))


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


def _from_ffprobe(data: dict[str, Any], *, mediainfo: MediaFacts | None) -> MediaFacts:
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
    created = _parse_time(tags.get("creation_time"))
    if created is None and mediainfo is not None:
        created = mediainfo.creation_time
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


def _mediainfo_if_useful(path: Path, ff: dict[str, Any]) -> MediaFacts | None:
    """Ask mediainfo only when ffprobe found no embedded time (e.g. AMR, some MP3)."""
    tags = {**ff.get("format", {}).get("tags", {})}
    if "creation_time" in tags:
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
    created = None
    for attr in ("encoded_date", "tagged_date", "recorded_date"):
        created = _parse_time(getattr(general, attr, None))
        if created:
            break
    return MediaFacts(
        kind=kind,
        container=getattr(general, "format", None),
        duration_ms=_int(getattr(general, "duration", None)),
        creation_time=created,
    )


def _parse_time(value: object) -> datetime | None:
    """ffprobe's ``2026-11-20T00:06:19.000000Z`` or mediainfo's ``2026-11-20 00:06:19 UTC``."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().removeprefix("UTC ").replace(" UTC", "Z")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.year < 1990:  # an unset camera clock's epoch is not a time
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


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
