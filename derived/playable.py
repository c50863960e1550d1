"""Which recordings a browser cannot play, and so get a playback proxy (pure: media facts in, a reason out).

The web player is an HTML ``<video>`` element, and the station serves a
file with the type its name implies. What every current browser plays is
narrow: MP4 (H.264, AAC or MP3), WebM/Ogg (VP8, VP9, AV1, Opus, Vorbis),
MP3, WAV (PCM) and FLAC. Body-worn cameras and recorders often write H.265/HEVC,
MJPEG in AVI, MPEG-4 Part 2, AMR or ADPCM: those get an H.264/AAC proxy.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

PLAYABLE_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".m4a", ".webm", ".ogg", ".ogv", ".oga", ".opus", ".mp3", ".wav", ".flac"}
)
PLAYABLE_VIDEO = frozenset({"h264", "vp8", "vp9", "av1", "theora"})
PLAYABLE_AUDIO = frozenset(
    {"aac", "mp3", "opus", "vorbis", "flac", "pcm_s16le", "pcm_u8", "pcm_f32le", "pcm_s24le", "pcm_s32le"}
)
MEDIA_KINDS = frozenset({"video", "audio"})


def proxy_needed(kind: str, name: str, media: Mapping[str, Any]) -> str | None:
    """Why a browser cannot play this recording (so a proxy is made), or None when it can or it is not media.

    ``kind`` and ``media`` are the recording's (``ingest.probe.MediaFacts.as_json``),
    ``name`` its original file name (its suffix decides the type served).
    """
    if kind not in MEDIA_KINDS or media.get("problem"):
        return None  # not audio or video, or unreadable: ffmpeg could not make a proxy of it either
    video, audio = media.get("video_codec"), media.get("audio_codec")
    if video is None and audio is None:
        return None
    reasons = []
    if video is not None and video not in PLAYABLE_VIDEO:
        reasons.append(f"video codec {video}")
    if audio is not None and audio not in PLAYABLE_AUDIO:
        reasons.append(f"audio codec {audio}")
    suffix = PurePath(name).suffix.lower()
    if suffix not in PLAYABLE_SUFFIXES:
        reasons.append(f"file type {suffix or '(none)'}")
    return ", ".join(reasons) or None
