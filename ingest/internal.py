# ruff: noqa: RUF001 - the Chinese messages use full-width punctuation on purpose
"""Timing inside one file: timestamp jumps, missing frames, missing audio; corrupt files.

Input is the packet timing a prober reads (``ffprobe -show_packets``), as
values: per stream its kind, the packet timestamps in file order, and the
durations and frame count the headers state. Output is INTERNAL_GAP findings,
each located by stream and media position (the file's own timestamps, like
ffprobe's ``pts_time``, in milliseconds).

Per stream, ``interval`` is one frame (video) or one packet (audio): the mean
spacing of the packets that follow each other normally, or ``1000 / frame_rate``
when no packet times are given. From the packet timestamps (milliseconds):

* **jump forward**: media missing between two packets, i.e. ``next - (previous
  + interval)``, above ``jump_threshold`` (default 1 s). Packets are taken in
  presentation order, so B-frame reordering is no jump. Jumps of the video
  and audio streams that overlap in time are one finding (one interruption).
* **go back**: in file order, a timestamp more than ``max(jump_threshold,
  16 frames)`` below the highest so far (16 frames: the deepest reordering
  H.264 allows, so B-frames never count). The file was joined from parts or
  the device's counter reset.
* **duration vs frames**: a video stream's stated duration, less its jumps,
  should equal ``frame_count * interval`` within ``duration_tolerance``
  (default 1 s); else frames are missing, or the headers disagree with the content.
* **audio vs video**: audio that ends more than ``audio_tolerance`` (default
  1 s) before the video, or starts that much after it, leaves part of the
  recording silent. A (moving) video with no audio stream at all is a finding
  when ``expect_audio`` (art. 7 asks for spoken statements).
* **container vs streams**: a container duration longer than its streams by
  more than ``duration_tolerance`` (the streams stop early).

Undecodable or truncated files (ffprobe's "moov atom not found") do not reach
these checks: ``corrupt_finding`` records them, ``not_media_finding`` files
that are not media at all.

Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from itertools import pairwise
from typing import Final, Literal

from ingest.clock import to_ms
from ingest.findings import Finding, FindingKind, display_text, format_length, format_seconds

__all__ = [
    "DEFAULT_AUDIO_TOLERANCE",
    "DEFAULT_DURATION_TOLERANCE",
    "DEFAULT_JUMP_THRESHOLD",
    "REORDER_FRAMES",
    "MediaTiming",
    "StreamKind",
    "StreamTiming",
    "corrupt_finding",
    "internal_findings",
    "not_media_finding",
]

StreamKind = Literal["video", "audio"]

DEFAULT_JUMP_THRESHOLD: Final = timedelta(seconds=1)
DEFAULT_DURATION_TOLERANCE: Final = timedelta(seconds=1)
DEFAULT_AUDIO_TOLERANCE: Final = timedelta(seconds=1)
REORDER_FRAMES: Final = 16  # H.264's largest decoded picture buffer: the most a pts can lag in file order

_ZH_KIND: Final = {"video": "视频流", "audio": "音频流"}


@dataclass(frozen=True, slots=True)
class StreamTiming:
    """One stream's timing facts. All times in milliseconds of the file's own timestamps."""

    index: int  # stream index in the file
    kind: StreamKind
    pts_ms: tuple[int, ...] = ()  # packet pts in file (decode) order; empty if not read
    duration_ms: int | None = None  # as the stream header states it
    frame_count: int | None = None  # nb_frames
    frame_rate: Fraction | None = None  # nominal (r_frame_rate); used only without pts_ms

    def __post_init__(self) -> None:
        if self.kind not in ("video", "audio"):
            raise ValueError(f"StreamTiming.kind must be 'video' or 'audio', got {self.kind!r}")
        object.__setattr__(self, "pts_ms", tuple(self.pts_ms))

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.index}"


@dataclass(frozen=True, slots=True)
class MediaTiming:
    """The timing of one recording's streams and container."""

    recording: str
    streams: tuple[StreamTiming, ...]
    container_duration_ms: int | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "streams", tuple(self.streams))
        indexes = [s.index for s in self.streams]
        if len(indexes) != len(set(indexes)):
            raise ValueError(f"MediaTiming.streams: stream indexes must be unique, got {indexes}")


@dataclass(frozen=True, slots=True)
class _Jump:
    start: Fraction  # ms: end of the last packet before the jump
    end: Fraction  # ms: the first packet after it
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Back:
    at: Fraction  # ms: highest timestamp before it went back
    to: Fraction  # ms: the timestamp it went back to (the first time)
    times: int  # how often it went back from this same timestamp


@dataclass(frozen=True, slots=True)
class _Stream:
    timing: StreamTiming
    interval: Fraction  # ms
    jumps: tuple[_Jump, ...]
    backs: tuple[_Back, ...]
    extent: tuple[Fraction, Fraction] | None  # first timestamp, end of the last packet


def _round(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _interval(stream: StreamTiming, runs: Sequence[Sequence[int]], threshold: Fraction) -> Fraction:
    limit = math.floor(threshold)
    diffs = [b - a for run in runs for a, b in pairwise(run) if 0 < b - a <= limit]
    if diffs:
        return Fraction(sum(diffs), len(diffs))
    if stream.frame_rate is not None and stream.frame_rate > 0:
        return Fraction(1000) / stream.frame_rate
    return Fraction(0)


def _analyse(stream: StreamTiming, jump_threshold: Fraction) -> _Stream:
    # Split at backward steps in file order; each run in presentation order.
    runs: list[list[int]] = []
    backs: list[tuple[int, int]] = []
    current: list[int] = []
    highest: int | None = None
    if stream.kind == "video":  # without an interval yet, bound reordering by the threshold
        provisional = _interval(stream, [sorted(set(stream.pts_ms))], jump_threshold)
        back_limit = max(jump_threshold, REORDER_FRAMES * provisional)
    else:
        back_limit = jump_threshold
    back_steps = math.floor(back_limit)  # highest - pts > back_limit, in ints
    for pts in stream.pts_ms:
        if highest is not None and highest - pts > back_steps:
            backs.append((highest, pts))
            runs.append(sorted(set(current)))
            current, highest = [], None
        current.append(pts)
        highest = pts if highest is None else max(highest, pts)
    if current:
        runs.append(sorted(set(current)))
    interval = _interval(stream, runs, jump_threshold)
    longest_normal = math.floor(jump_threshold + interval)  # step - interval > threshold, in ints
    jumps = [
        _Jump(a + interval, Fraction(b), (stream.label,))
        for run in runs
        for a, b in pairwise(run)
        if b - a > longest_normal
    ]
    extent: tuple[Fraction, Fraction] | None = None
    if stream.pts_ms:
        extent = (Fraction(min(stream.pts_ms)), max(stream.pts_ms) + interval)
    elif stream.duration_ms is not None:
        extent = (Fraction(0), Fraction(stream.duration_ms))
    return _Stream(
        timing=stream,
        interval=interval,
        jumps=tuple(jumps),
        backs=tuple(_collapse(backs)),
        extent=extent,
    )


def _collapse(backs: Sequence[tuple[int, int]]) -> list[_Back]:
    """One entry per timestamp gone back from (a file joined from the same part twice)."""
    first: dict[int, tuple[int, int]] = {}
    for at, to in backs:
        earlier_to, times = first.get(at, (to, 0))
        first[at] = (earlier_to, times + 1)
    return [_Back(Fraction(at), Fraction(to), times) for at, (to, times) in first.items()]


def _is_moving(stream: _Stream) -> bool:
    timing = stream.timing
    if timing.frame_count == 1 or len(timing.pts_ms) == 1:
        return False
    return stream.extent is not None and stream.extent[1] > stream.extent[0]


def internal_findings(
    timing: MediaTiming,
    *,
    jump_threshold: timedelta = DEFAULT_JUMP_THRESHOLD,
    duration_tolerance: timedelta = DEFAULT_DURATION_TOLERANCE,
    audio_tolerance: timedelta = DEFAULT_AUDIO_TOLERANCE,
    expect_audio: bool = True,
) -> list[Finding]:
    """INTERNAL_GAP findings for one file, in media-position order (stream-wide ones last)."""
    threshold = Fraction(to_ms(jump_threshold))
    streams = [_analyse(s, threshold) for s in sorted(timing.streams, key=lambda s: s.index)]
    report = _Report(timing.recording, timing.device)
    for jump in _merge([j for s in streams for j in s.jumps]):
        report.jump(jump, threshold)
    for stream in streams:
        for back in stream.backs:
            report.back(stream.timing, back)
    for stream in streams:
        if stream.timing.kind == "video" and not stream.backs and _is_moving(stream):
            _check_frames(report, stream, Fraction(to_ms(duration_tolerance)))
    video = next((s for s in streams if s.timing.kind == "video" and _is_moving(s)), None)
    audio = next((s for s in streams if s.timing.kind == "audio" and s.extent is not None), None)
    if video is not None and video.extent is not None:
        if audio is not None and audio.extent is not None:
            _check_audio(report, video.extent, audio.timing, audio.extent, to_ms(audio_tolerance))
        elif expect_audio and not any(s.timing.kind == "audio" for s in streams):
            report.no_audio(video.extent)
    extents = [s.extent for s in streams if s.extent is not None]
    if timing.container_duration_ms is not None and extents:
        covered = max(e[1] for e in extents) - min(e[0] for e in extents)
        short = timing.container_duration_ms - covered
        if short > to_ms(duration_tolerance):
            report.streams_short(max(e[1] for e in extents), _round(short), timing.container_duration_ms)
    return sorted(report.findings, key=lambda f: (f.position_ms is None, f.position_ms or 0))


def _merge(jumps: list[_Jump]) -> list[_Jump]:
    """Jumps of different streams that overlap in time become one (one interruption)."""
    merged: list[_Jump] = []
    for jump in sorted(jumps, key=lambda j: (j.start, j.end)):
        if merged and jump.start < merged[-1].end:
            last = merged[-1]
            labels = tuple(sorted({*last.labels, *jump.labels}, key=_label_order))
            merged[-1] = _Jump(last.start, max(last.end, jump.end), labels)
        else:
            merged.append(jump)
    return merged


def _label_order(label: str) -> tuple[int, str]:
    kind, _, index = label.partition(":")
    return (int(index) if index.isdigit() else 0, kind)


def _zh_streams(labels: Sequence[str]) -> str:
    parts = []
    for label in labels:
        kind, _, index = label.partition(":")
        parts.append(f"{_ZH_KIND.get(kind, kind)} {index}")
    return "、".join(parts)


def _check_frames(report: _Report, stream: _Stream, tolerance: Fraction) -> None:
    timing = stream.timing
    if timing.frame_count is None or stream.interval == 0:
        return
    if timing.duration_ms is not None:
        span = Fraction(timing.duration_ms)
    elif stream.extent is not None:
        span = stream.extent[1] - stream.extent[0]
    else:
        return
    jumped = sum((j.end - j.start for j in stream.jumps), Fraction(0))
    expected = timing.frame_count * stream.interval
    unexplained = span - jumped - expected
    if abs(unexplained) > tolerance:
        report.frames(timing, span, jumped, expected, unexplained)


def _check_audio(
    report: _Report,
    video: tuple[Fraction, Fraction],
    audio: StreamTiming,
    heard: tuple[Fraction, Fraction],
    tolerance_ms: int,
) -> None:
    if heard[0] - video[0] > tolerance_ms:
        report.audio_late(audio, video[0], heard[0])
    if video[1] - heard[1] > tolerance_ms:
        report.audio_early(audio, heard[1], video[1])


class _Report:
    """Builds the INTERNAL_GAP findings of one recording, with their messages."""

    def __init__(self, recording: str, device: str | None) -> None:
        self.recording = recording
        self.device = device
        self.findings: list[Finding] = []

    def _add(
        self,
        *,
        check: str,
        stream: str | None,
        position: int | None,
        length: int,
        detail: dict[str, str | int],
        message: str,
        message_zh: str,
    ) -> None:
        self.findings.append(
            Finding(
                kind=FindingKind.INTERNAL_GAP,
                recordings=(self.recording,),
                device=self.device,
                check=check,
                stream=stream,
                position_ms=position,
                length_ms=length,
                detail=detail,
                message=message,
                message_zh=message_zh,
            )
        )

    def jump(self, jump: _Jump, threshold: Fraction) -> None:
        at, to, length = _round(jump.start), _round(jump.end), _round(jump.end - jump.start)
        rec, streams = self.recording, "+".join(jump.labels)
        length_en, length_zh = format_length(length)
        self._add(
            stream=streams,
            position=at,
            length=length,
            check="jump",
            detail={"resumes_at_ms": to, "threshold_ms": _round(threshold)},
            message=(
                f"Art. 7/18: inside recording {rec}, the timestamps of {streams} jump from "
                f"{format_seconds(at)} s to {format_seconds(to)} s: {length_en} of "
                f"recording is missing (at most {format_seconds(_round(threshold))} s expected). "
                "Attach the reason for the interruption."
            ),
            message_zh=(
                f"第七条、第十八条：录像 {rec} 内部{_zh_streams(jump.labels)} 的时间戳从 "
                f"{format_seconds(at)} 秒跳到 {format_seconds(to)} 秒，缺失约 "
                f"{length_zh}（应不超过 {format_seconds(_round(threshold))} 秒）。"
                "请补充中断原因说明。"
            ),
        )

    def back(self, stream: StreamTiming, back: _Back) -> None:
        at, to = _round(back.at), _round(back.to)
        length, rec = at - to, self.recording
        self._add(
            stream=stream.label,
            position=at,
            length=length,
            check="backward",
            detail={"goes_back_to_ms": to, "times": back.times},
            message=(
                f"Art. 7/28: inside recording {rec}, the timestamps of {stream.label} go back "
                f"from {format_seconds(at)} s to {format_seconds(to)} s (they should only "
                "increase): the file was joined from parts or the device's counter reset. The "
                "original is kept unchanged; check the device and explain."
            ),
            message_zh=(
                f"第七条、第二十八条：录像 {rec} 内部{_zh_streams([stream.label])} 的时间戳从 "
                f"{format_seconds(at)} 秒倒退到 {format_seconds(to)} 秒（时间戳应只增不减），"
                "可能是文件由多段拼接或设备计时重置。原始文件已原样保存，请核实设备并说明情况。"
            ),
        )

    def frames(
        self,
        stream: StreamTiming,
        span: Fraction,
        jumped: Fraction,
        expected: Fraction,
        unexplained: Fraction,
    ) -> None:
        rec, label = self.recording, stream.label
        span_ms, expected_ms, diff = _round(span), _round(expected), _round(unexplained)
        frames = stream.frame_count or 0
        if diff > 0:
            found_en = f"{format_seconds(diff)} s of frames are missing"
            found_zh = f"约 {format_seconds(diff)} 秒的画面缺失"
        else:
            found_en = f"the frames cover {format_seconds(-diff)} s more than the stated duration"
            found_zh = f"帧数比标称时长多出约 {format_seconds(-diff)} 秒"
        jumps_en = f" after {format_seconds(_round(jumped))} s of jumps" if jumped else ""
        jumps_zh = f"（已扣除时间戳跳跃 {format_seconds(_round(jumped))} 秒）" if jumped else ""
        self._add(
            stream=label,
            position=None,
            length=abs(diff),
            check="frame_count",
            detail={
                "duration_ms": span_ms,
                "frame_count": frames,
                "expected_ms": expected_ms,
                "jumps_ms": _round(jumped),
            },
            message=(
                f"Art. 7/18: recording {rec}'s {label} lasts {format_seconds(span_ms)} s"
                f"{jumps_en} but holds {frames} frames, which fill "
                f"{format_seconds(expected_ms)} s: {found_en}. The file's timing does not match "
                "its content; check the device and explain."
            ),
            message_zh=(
                f"第七条、第十八条：录像 {rec} 的{_zh_streams([label])} 标称时长 "
                f"{format_seconds(span_ms)} 秒{jumps_zh}，但有 {frames} 帧，对应 "
                f"{format_seconds(expected_ms)} 秒，{found_zh}。"
                "文件时长与内容不符，请核实设备并说明情况。"
            ),
        )

    def audio_early(self, stream: StreamTiming, audio_end: Fraction, video_end: Fraction) -> None:
        at, until = _round(audio_end), _round(video_end)
        rec, label = self.recording, stream.label
        self._add(
            stream=label,
            position=at,
            length=until - at,
            check="audio_ends_early",
            detail={"video_ends_ms": until},
            message=(
                f"Art. 7: in recording {rec}, {label} ends at {format_seconds(at)} s but the video "
                f"runs to {format_seconds(until)} s: the last {format_seconds(until - at)} s have "
                "no sound. Check the device's microphone and explain."
            ),
            message_zh=(
                f"第七条：录像 {rec} 的{_zh_streams([label])} 在 {format_seconds(at)} 秒处结束，"
                f"而视频持续到 {format_seconds(until)} 秒，最后约 {format_seconds(until - at)} 秒"
                "没有声音。请检查设备麦克风并说明原因。"
            ),
        )

    def audio_late(self, stream: StreamTiming, video_start: Fraction, audio_start: Fraction) -> None:
        at, until = _round(video_start), _round(audio_start)
        rec, label = self.recording, stream.label
        self._add(
            stream=label,
            position=at,
            length=until - at,
            check="audio_starts_late",
            detail={"audio_starts_ms": until},
            message=(
                f"Art. 7: in recording {rec}, {label} starts at {format_seconds(until)} s but the "
                f"video at {format_seconds(at)} s: the first {format_seconds(until - at)} s have "
                "no sound. Check the device's microphone and explain."
            ),
            message_zh=(
                f"第七条：录像 {rec} 的{_zh_streams([label])} 从 {format_seconds(until)} 秒才开始，"
                f"而视频从 {format_seconds(at)} 秒开始，前约 {format_seconds(until - at)} 秒"
                "没有声音。请检查设备麦克风并说明原因。"
            ),
        )

    def no_audio(self, video: tuple[Fraction, Fraction]) -> None:
        length, rec = _round(video[1] - video[0]), self.recording
        self._add(
            stream=None,
            position=None,
            length=length,
            check="no_audio",
            detail={},
            message=(
                f"Art. 7: recording {rec} has video but no audio stream; spoken statements at the "
                "start and at each resumption are required. Check the device's audio settings."
            ),
            message_zh=(
                f"第七条：录像 {rec} 只有视频、没有音频。开始记录及中断后重新记录时应进行语音说明，"
                "请检查设备的录音设置。"
            ),
        )

    def streams_short(self, streams_end: Fraction, short: int, container_ms: int) -> None:
        at, rec = _round(streams_end), self.recording
        self._add(
            stream=None,
            position=at,
            length=short,
            check="streams_end_early",
            detail={"container_duration_ms": container_ms},
            message=(
                f"Art. 7/18: recording {rec} states a duration of {format_seconds(container_ms)} s "
                f"but its streams stop {format_seconds(short)} s short of that: the end of the "
                "recording is missing (truncated file?). Check the device's storage and explain."
            ),
            message_zh=(
                f"第七条、第十八条：录像 {rec} 标称时长 {format_seconds(container_ms)} 秒，"
                f"但音视频流提前约 {format_seconds(short)} 秒结束，录像结尾缺失（文件可能被截断）。"
                "请检查设备存储并说明情况。"
            ),
        )


def corrupt_finding(recording: str, reason: str, *, device: str | None = None) -> Finding:
    """CORRUPT: the file cannot be decoded or is truncated (e.g. ffprobe: "moov atom not found")."""
    shown = display_text(reason)
    return Finding(
        kind=FindingKind.CORRUPT,
        recordings=(recording,),
        device=device,
        detail={"reason": display_text(reason, limit=500)},
        message=(
            f"Art. 28: recording {recording} cannot be decoded or is incomplete ({shown}). The "
            "original is stored unchanged; check the device's storage card, and explain the "
            "cause (e.g. power lost while recording)."
        ),
        message_zh=(
            f"第二十八条：录像 {recording} 无法解码或文件不完整（{shown}）。原始文件已原样保存、"
            "不作任何修改；请检查设备存储卡，并说明原因（如录制时断电）。"
        ),
    )


def not_media_finding(recording: str, reason: str, *, device: str | None = None) -> Finding:
    """NOT_MEDIA: the file is not audio, video or a picture (stored as it is all the same)."""
    shown = display_text(reason)
    return Finding(
        kind=FindingKind.NOT_MEDIA,
        recordings=(recording,),
        device=device,
        detail={"reason": display_text(reason, limit=500)},
        message=(
            f"file {recording} is not audio, video or a picture ({shown}); it is stored as it is. "
            "Check whether it was put in the dock folder by mistake."
        ),
        message_zh=(f"文件 {recording} 不是音视频或图片文件（{shown}），已原样保存。请确认是否误放入采集目录。"),
    )
