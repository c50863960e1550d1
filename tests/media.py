"""Realistic test recordings made with ffmpeg at test time (see shared/tools/test-media.md)."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path


def _run(args: list[str | bytes], target: Path) -> Path:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, os.fsencode(target)], check=True)
    return target


def clip(
    target: Path,
    *,
    seconds: float = 5,
    created: datetime | None = None,
    mark: str = "",
    size: str = "640x360",
    video_filter: str | None = None,
    audio_filter: str | None = None,
    audio_seconds: float | None = None,
    faststart: bool = False,
    passthrough: bool = False,
) -> Path:
    """An H.264/AAC MP4 like a body-worn camera's; ``mark`` makes the bytes unique."""
    vf = video_filter or "null"
    args: list[str | bytes] = [
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate=25",
        "-f",
        "lavfi",
        "-t",
        str(audio_seconds if audio_seconds is not None else seconds),
        "-i",
        "sine=frequency=300:sample_rate=16000",
        "-t",
        str(seconds),
        "-vf",
        vf,
    ]
    if audio_filter:
        args += ["-af", audio_filter]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-pix_fmt", "yuv420p"]
    if created is not None:
        args += ["-metadata", f"creation_time={created.strftime('%Y-%m-%dT%H:%M:%SZ')}"]
    if mark:
        args += ["-metadata", f"comment={mark}"]
    if faststart:
        args += ["-movflags", "+faststart"]
    if passthrough:  # keep timestamp jumps instead of filling them with duplicated frames
        args += ["-fps_mode", "passthrough"]
    return _run(args, target)


def audio(target: Path, *, seconds: float = 3, created: datetime | None = None, freq: int = 440) -> Path:
    """A voice recorder's file; the codec follows the suffix (.wav, .mp3, .m4a)."""
    codec = {".wav": "pcm_s16le", ".mp3": "libmp3lame", ".m4a": "aac"}[target.suffix.lower()]
    args: list[str | bytes] = [
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={freq}:sample_rate=16000",
        "-t",
        str(seconds),
        "-c:a",
        codec,
    ]
    if created is not None:
        args += ["-metadata", f"creation_time={created.strftime('%Y-%m-%dT%H:%M:%SZ')}"]
    return _run(args, target)


def photo(target: Path, *, seed: int = 0) -> Path:
    """A still photo (JPEG); ``seed`` shifts the test pattern so the bytes differ."""
    return _run(
        ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-ss", f"{seed * 0.04:.2f}", "-frames:v", "1"], target
    )


def truncate(path: Path, fraction: float = 0.6) -> Path:
    """Cut the file to a fraction of its bytes: without faststart, the moov box is lost."""
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(int(size * fraction))
    return path


def hevc_clip(target: Path, *, seconds: float = 4, size: str = "320x240", mark: str = "") -> Path:
    """An H.265/HEVC + AAC MP4, as many newer body-worn cameras write; browsers do not play it."""
    args: list[str | bytes] = [
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000", "-t", str(seconds),
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1",
        "-pix_fmt", "yuv420p", "-c:a", "aac",
    ]  # fmt: skip
    if mark:
        args += ["-metadata", f"comment={mark}"]
    return _run(args, target)


def mjpeg_avi(target: Path, *, seconds: float = 4, size: str = "320x240", mark: str = "") -> Path:
    """An AVI of MJPEG video and IMA ADPCM sound, as older cameras and recorders write; browsers play neither."""
    args: list[str | bytes] = [
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000", "-t", str(seconds),
        "-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p", "-c:a", "adpcm_ima_wav",
    ]  # fmt: skip
    if mark:
        args += ["-metadata", f"comment={mark}"]
    return _run(args, target)
