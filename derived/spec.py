"""A redaction spec: what to mute or bleep and what to blur in one recording (pure: values in, values out).

Integers only (the spec goes into a log entry, docs/log-format.md §2.2):
times in milliseconds from the start of the recording, boxes in pixels of
the original picture (``[x, y, width, height]``, from the top left). A blur
either stays put (``box``) or follows a moving box (``keyframes``: the box at
given times, the position interpolated linearly between them, the size the
largest of them)::

    {"v": 1,
     "audio": [{"from_ms": 3000, "to_ms": 5000, "sound": "mute"}],
     "video": [{"from_ms": 0, "to_ms": 4000, "box": [40, 30, 120, 90]},
               {"from_ms": 5000, "to_ms": 9000,
                "keyframes": [{"at_ms": 5000, "box": [0, 0, 64, 64]}, {"at_ms": 9000, "box": [200, 100, 64, 64]}]}]}

``sound`` is ``mute`` (silence) or ``bleep`` (silence with a 1 kHz tone). The
spec's identity is the SHA-256 of its RFC 8785 bytes (``spec_sha256``): the
approval names it, and the DERIVED entry of the rendered copy too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import rfc8785

from chain.errors import EvidockError

SPEC_VERSION = 1
MIN_BOX = 8  # pixels: a smaller blur hides nothing and its blur radius would be zero
MAX_REGIONS = 200
SOUNDS = ("mute", "bleep")


class SpecError(EvidockError):
    """A redaction spec that cannot be applied as written; the message names the region and what to fix."""


@dataclass(frozen=True)
class Frame:
    """What the spec is checked against: the original's picture size and length."""

    width: int | None  # None: no video
    height: int | None
    duration_ms: int | None
    has_audio: bool


@dataclass(frozen=True)
class Sound:
    from_ms: int
    to_ms: int
    sound: str  # mute | bleep


@dataclass(frozen=True)
class Keyframe:
    at_ms: int
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Blur:
    from_ms: int
    to_ms: int
    keyframes: tuple[Keyframe, ...]  # one for a box that stays put


@dataclass(frozen=True)
class Spec:
    audio: tuple[Sound, ...]
    video: tuple[Blur, ...]

    def as_json(self) -> dict[str, Any]:
        video: list[dict[str, Any]] = []
        for blur in self.video:
            region: dict[str, Any] = {"from_ms": blur.from_ms, "to_ms": blur.to_ms}
            if len(blur.keyframes) == 1:
                region["box"] = list(blur.keyframes[0].box)
            else:
                region["keyframes"] = [{"at_ms": k.at_ms, "box": list(k.box)} for k in blur.keyframes]
            video.append(region)
        return {
            "v": SPEC_VERSION,
            "audio": [{"from_ms": s.from_ms, "to_ms": s.to_ms, "sound": s.sound} for s in self.audio],
            "video": video,
        }

    @property
    def sha256(self) -> str:
        return spec_sha256(self.as_json())

    @property
    def empty(self) -> bool:
        return not self.audio and not self.video


def spec_sha256(spec: Mapping[str, Any]) -> str:
    """SHA-256 hex of the spec's RFC 8785 bytes."""
    return hashlib.sha256(rfc8785.dumps(dict(spec))).hexdigest()


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{where} must be a whole number, got {value!r}")
    return value


def _range(item: Mapping[str, Any], where: str, frame: Frame) -> tuple[int, int]:
    start, end = _int(item.get("from_ms"), f"{where}.from_ms"), _int(item.get("to_ms"), f"{where}.to_ms")
    if not 0 <= start < end:
        raise SpecError(f"{where}: from_ms {start} must be >= 0 and before to_ms {end}")
    if frame.duration_ms is not None and start >= frame.duration_ms:
        raise SpecError(f"{where}: from_ms {start} is past the recording's end ({frame.duration_ms} ms)")
    return start, end


def _box(value: object, where: str, frame: Frame) -> tuple[int, int, int, int]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise SpecError(f"{where} must be [x, y, width, height] in pixels, got {value!r}")
    x, y, w, h = (_int(v, f"{where}[{i}]") for i, v in enumerate(value))
    if x < 0 or y < 0 or w < MIN_BOX or h < MIN_BOX:
        raise SpecError(f"{where} = {[x, y, w, h]}: x and y must be >= 0, width and height at least {MIN_BOX} px")
    if frame.width is None or frame.height is None:
        raise SpecError("the spec blurs the picture, but the recording has no video stream")
    if x + w > frame.width or y + h > frame.height:
        raise SpecError(
            f"{where} = {[x, y, w, h]} reaches outside the {frame.width}x{frame.height} picture; "
            "make it smaller or move it in"
        )
    return x, y, w, h


def parse(raw: Mapping[str, Any], frame: Frame) -> Spec:
    """The spec ``raw`` (JSON as given) checked against the recording; raises ``SpecError`` naming what is wrong."""
    if raw.get("v", SPEC_VERSION) != SPEC_VERSION:
        raise SpecError(f'redaction spec version {raw.get("v")!r} is not known; write "v": {SPEC_VERSION}')
    unknown = set(raw) - {"v", "audio", "video"}
    if unknown:
        raise SpecError(f"redaction spec has unknown keys {sorted(unknown)}; it holds only v, audio and video")
    audio_raw, video_raw = raw.get("audio") or [], raw.get("video") or []
    if not isinstance(audio_raw, list) or not isinstance(video_raw, list):
        raise SpecError("audio and video must be lists of regions")
    if len(audio_raw) + len(video_raw) > MAX_REGIONS:
        raise SpecError(f"{len(audio_raw) + len(video_raw)} regions; at most {MAX_REGIONS}")
    if audio_raw and not frame.has_audio:
        raise SpecError("the spec mutes sound, but the recording has no audio stream")
    if video_raw and frame.width is None:
        raise SpecError("the spec blurs the picture, but the recording has no video stream")
    audio = []
    for i, item in enumerate(audio_raw):
        where = f"audio[{i}]"
        if not isinstance(item, Mapping):
            raise SpecError(f"{where} must be an object with from_ms, to_ms and sound")
        start, end = _range(item, where, frame)
        sound = item.get("sound", "mute")
        if sound not in SOUNDS:
            raise SpecError(f"{where}.sound = {sound!r}: use one of {', '.join(SOUNDS)}")
        audio.append(Sound(start, end, str(sound)))
    video = []
    for i, item in enumerate(video_raw):
        where = f"video[{i}]"
        if not isinstance(item, Mapping):
            raise SpecError(f"{where} must be an object with from_ms, to_ms and box (or keyframes)")
        start, end = _range(item, where, frame)
        video.append(Blur(start, end, _keyframes(item, where, frame, start)))
    return Spec(tuple(audio), tuple(video))


def _keyframes(item: Mapping[str, Any], where: str, frame: Frame, start: int) -> tuple[Keyframe, ...]:
    if ("box" in item) == ("keyframes" in item):
        raise SpecError(f"{where} needs either box (a still box) or keyframes (a moving one), not both or neither")
    if "box" in item:
        return (Keyframe(start, _box(item["box"], f"{where}.box", frame)),)
    raw = item["keyframes"]
    if not isinstance(raw, list) or len(raw) < 2:
        raise SpecError(f"{where}.keyframes must list at least two {{at_ms, box}}; use box for a still one")
    keyframes = []
    for k, key in enumerate(raw):
        at = f"{where}.keyframes[{k}]"
        if not isinstance(key, Mapping):
            raise SpecError(f"{at} must be an object with at_ms and box")
        keyframes.append(Keyframe(_int(key.get("at_ms"), f"{at}.at_ms"), _box(key.get("box"), f"{at}.box", frame)))
    times = [k.at_ms for k in keyframes]
    if times != sorted(set(times)):
        raise SpecError(f"{where}.keyframes: at_ms must increase, got {times}")
    return tuple(keyframes)


def parse_range(text: str) -> tuple[int, int]:
    """``"3-5.5"`` (seconds, as typed on the command line) as milliseconds ``(3000, 5500)``."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d{1,3})?)\s*-\s*(\d+(?:\.\d{1,3})?)\s*", text)
    if found is None:
        raise SpecError(f"time range {text!r}: write FROM-TO in seconds, e.g. 3-5.5")
    return _ms(found.group(1)), _ms(found.group(2))


def _ms(seconds: str) -> int:
    whole, _, fraction = seconds.partition(".")
    return int(whole) * 1000 + int((fraction + "000")[:3])


def parse_blur(text: str) -> dict[str, Any]:
    """``"X,Y,W,H@FROM-TO"`` (pixels @ seconds) as a video region of the spec."""
    box, at, times = text.partition("@")
    parts = [p.strip() for p in box.split(",")]
    if not at or len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise SpecError(f"blur {text!r}: write X,Y,WIDTH,HEIGHT@FROM-TO (pixels @ seconds), e.g. 40,30,120,90@2-6")
    start, end = parse_range(times)
    return {"from_ms": start, "to_ms": end, "box": [int(p) for p in parts]}


def from_options(mute: Sequence[str], bleep: Sequence[str], blur: Sequence[str]) -> dict[str, Any]:
    """A spec from the command line's ``--mute 3-5``, ``--bleep 7-8``, ``--blur 40,30,120,90@2-6``."""
    audio = [{"from_ms": a, "to_ms": b, "sound": sound} for sound, given in (("mute", mute), ("bleep", bleep))
             for a, b in map(parse_range, given)]  # fmt: skip
    audio.sort(key=lambda region: (region["from_ms"], region["to_ms"]))
    return {"v": SPEC_VERSION, "audio": audio, "video": [parse_blur(b) for b in blur]}
