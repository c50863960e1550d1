"""The ffmpeg arguments of each derived file (pure: options and a spec in, an argument list out).

The arguments are what the DERIVED entry records, with ``{input}`` and
``{output}`` standing for the original and the derived file; anyone with the
same ffmpeg build repeats the file byte for byte (``-fflags +bitexact`` and
the ``bitexact`` codec flags keep version strings and random ids out of the
file; a fixed ``-threads`` keeps x264's choices the same). ffmpeg's logging
and progress options are added when it runs (``derived.ffmpeg``): they do not
change the output.

Every derived file is an MP4 with H.264 video (yuv420p) and AAC audio, which
every browser plays.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from derived.spec import Blur, Frame, Spec

INPUT = "{input}"
OUTPUT = "{output}"
BLEEP_HZ = 1000  # the tone over a bleeped range, at ffmpeg's sine level (peak 1/8 of full scale, -18 dBFS)


@dataclass(frozen=True)
class EncodeOptions:
    preset: str = "veryfast"  # x264 speed/size trade-off; see docs/performance.md for the measured rate
    crf: int = 23  # x264 constant quality (lower: better and larger)
    threads: int = 2  # fixed, so the output is the same on every run
    max_height: int = 1080  # a proxy is never taller (a redacted copy keeps the original's size)
    audio_bitrate: str = "128k"


_BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"]
_NO_METADATA = ["-map_metadata", "-1", "-map_chapters", "-1", "-sn", "-dn"]


def _codecs(options: EncodeOptions) -> list[str]:
    return [
        "-c:v", "libx264", "-preset", options.preset, "-crf", str(options.crf), "-pix_fmt", "yuv420p",
        "-threads", str(options.threads),
        "-c:a", "aac", "-b:a", options.audio_bitrate,
    ]  # fmt: skip


def _mp4_out() -> list[str]:
    return ["-movflags", "+faststart", *_BITEXACT, "-f", "mp4", OUTPUT]


def proxy(options: EncodeOptions) -> list[str]:
    """A playback proxy: the first video and audio stream, at most ``max_height`` tall, H.264/AAC in MP4."""
    scale = f"scale=w=-2:h='2*trunc(min(ih,{options.max_height})/2)':flags=bicubic"
    return [
        "-i", INPUT, "-map", "0:v:0?", "-map", "0:a:0?", *_NO_METADATA,
        "-vf", scale, *_codecs(options), *_mp4_out(),
    ]  # fmt: skip


def redacted(spec: Spec, options: EncodeOptions, frame: Frame) -> list[str]:
    """The redacted copy: every blur and mute of ``spec`` applied, the picture's size kept."""
    graph, maps = [], []
    if frame.width is not None:
        graph.append(video_graph(spec.video, width=frame.width, height=frame.height))
        maps += ["-map", "[vout]"]
    if spec.audio:
        graph.append(audio_graph(spec))
        maps += ["-map", "[aout]"]
    elif frame.has_audio:
        maps += ["-map", "0:a:0"]
    filters = ["-filter_complex", ";".join(graph)] if graph else []
    return ["-i", INPUT, *filters, *maps, *_NO_METADATA, *_codecs(options), *_mp4_out()]


def preview(spec: Spec, at_ms: int, frame: Frame) -> list[str]:
    """One frame at ``at_ms`` as a PNG, with the spec's blurs as the render applies them."""
    graph = video_graph(spec.video, width=frame.width, height=frame.height, offset_ms=at_ms)
    return [
        "-ss", _seconds(at_ms), "-i", INPUT, "-filter_complex", graph, "-map", "[vout]",
        "-frames:v", "1", *_BITEXACT, "-f", "image2", "-c:v", "png", OUTPUT,
    ]  # fmt: skip


def _seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def _between(regions: list[tuple[int, int]], clock: str) -> str:
    return "+".join(f"between({clock},{_seconds(a)},{_seconds(b)})" for a, b in regions)


def _even_down(value: int) -> int:
    return value - value % 2


def _even_up(value: int) -> int:
    return value + value % 2


def _extent(blur: Blur, axis: int) -> int:
    """The blurred area's width (axis 0) or height (axis 1): every keyframe's box fits, on even pixels (yuv420p)."""
    return max(_even_up(k.box[axis] + k.box[axis + 2]) - _even_down(k.box[axis]) for k in blur.keyframes)


def _track(blur: Blur, clock: str, axis: int, limit: int | None) -> str:
    """The blurred area's left (axis 0) or top (axis 1) edge at time ``clock``: still, or interpolated."""
    size = _extent(blur, axis)
    points = []
    for key in blur.keyframes:
        edge = _even_down(key.box[axis])
        if limit is not None:
            edge = max(0, min(edge, _even_down(limit) - size))
        points.append((key.at_ms, edge))
    if len(points) == 1:
        return str(points[0][1])
    start, end = points[0][0], points[-1][0]
    at = f"clip({clock},{_seconds(start)},{_seconds(end)})"
    expr = str(points[-1][1])
    for (t0, v0), (t1, v1) in reversed(list(itertools.pairwise(points))):
        span = _seconds(t1 - t0)
        expr = f"if(lt({at},{_seconds(t1)}),{v0}+({v1 - v0})*({at}-{_seconds(t0)})/{span},{expr})"
    return expr


def video_graph(blurs: tuple[Blur, ...], *, width: int | None, height: int | None, offset_ms: int = 0) -> str:
    """The filter graph from the first video stream to ``[vout]``: each blur boxblurs its area while it lasts.

    A blur wider than the picture allows at its place is moved in (a moving
    box takes its largest keyframe's size everywhere).

    ``offset_ms``: the input was seeked there (a preview), so the original's time is ``t`` plus it.
    ``width``/``height``: the picture's, to keep a moving box (of its largest keyframe's size) inside it.
    """
    clock = f"(t+{_seconds(offset_ms)})" if offset_ms else "t"
    # Even sides for yuv420p and x264: an odd last column or row is dropped (never the case for camera sizes).
    steps = ["[0:v:0]setpts=PTS-STARTPTS,crop=w=trunc(iw/2)*2:h=trunc(ih/2)*2:x=0:y=0,format=yuv420p[v0]"]
    for n, blur in enumerate(blurs):
        w, h = _extent(blur, 0), _extent(blur, 1)
        x, y = _track(blur, clock, 0, width), _track(blur, clock, 1, height)
        luma = max(1, min(w, h) // 2 - 1)
        chroma = max(1, min(w, h) // 4 - 1)
        steps.append(
            f"[v{n}]split=2[base{n}][area{n}];"
            f"[area{n}]crop=w={w}:h={h}:x='{x}':y='{y}',boxblur=lr={luma}:lp=3:cr={chroma}:cp=3[blur{n}];"
            f"[base{n}][blur{n}]overlay=x='{x}':y='{y}':enable='{_between([(blur.from_ms, blur.to_ms)], clock)}'"
            f"[v{n + 1}]"
        )
    steps.append(f"[v{len(blurs)}]null[vout]")
    return ";".join(steps)


def audio_graph(spec: Spec) -> str:
    """The filter graph from the first audio stream to ``[aout]``: silence in every range, a tone in the bleeps."""
    silenced = _between([(s.from_ms, s.to_ms) for s in spec.audio], "t")
    steps = [f"[0:a:0]asetpts=PTS-STARTPTS,volume=volume=0:enable='{silenced}'[muted]"]
    bleeps = [(s.from_ms, s.to_ms) for s in spec.audio if s.sound == "bleep"]
    if bleeps:
        steps.append(
            f"sine=frequency={BLEEP_HZ}:sample_rate=48000,volume=volume=0:enable='not({_between(bleeps, 't')})'[tone]"
        )
        steps.append("[muted][tone]amix=inputs=2:duration=first:normalize=0[aout]")
    else:
        steps.append("[muted]anull[aout]")
    return ";".join(steps)
