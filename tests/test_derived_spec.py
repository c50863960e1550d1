"""The pure parts of derived files: which recordings need a proxy, redaction specs, and the ffmpeg arguments."""

from __future__ import annotations

import re

import pytest

from derived import recipes
from derived.playable import proxy_needed
from derived.spec import Frame, SpecError, from_options, parse, parse_range, spec_sha256

FRAME = Frame(width=320, height=240, duration_ms=8000, has_audio=True)


@pytest.mark.parametrize(
    ("kind", "name", "media", "needed"),
    [
        ("video", "a.mp4", {"video_codec": "h264", "audio_codec": "aac"}, None),
        ("video", "a.mp4", {"video_codec": "hevc", "audio_codec": "aac"}, "video codec hevc"),
        ("video", "a.avi", {"video_codec": "mjpeg", "audio_codec": "adpcm_ima_wav"},
         "video codec mjpeg, audio codec adpcm_ima_wav, file type .avi"),
        ("audio", "a.amr", {"audio_codec": "amr_nb"}, "audio codec amr_nb, file type .amr"),
        ("audio", "a.wav", {"audio_codec": "pcm_s16le"}, None),
        ("video", "a.mov", {"video_codec": "h264", "audio_codec": "aac"}, "file type .mov"),
        ("photo", "a.jpg", {"video_codec": "mjpeg"}, None),  # a still is shown as an image, not played
        ("video", "a.mp4", {"video_codec": "hevc", "problem": "moov atom not found"}, None),  # unreadable: ffmpeg too
    ],
)  # fmt: skip
def test_which_recordings_a_browser_cannot_play(
    kind: str, name: str, media: dict[str, str], needed: str | None
) -> None:
    assert proxy_needed(kind, name, media) == needed


def test_a_spec_from_the_command_line_is_integers_of_milliseconds_and_pixels() -> None:
    raw = from_options(["12-15.5"], ["1.25-2"], ["40,30,120,90@10-20"])
    assert raw == {
        "v": 1,
        "audio": [
            {"from_ms": 1250, "to_ms": 2000, "sound": "bleep"},
            {"from_ms": 12000, "to_ms": 15500, "sound": "mute"},
        ],
        "video": [{"from_ms": 10000, "to_ms": 20000, "box": [40, 30, 120, 90]}],
    }
    spec = parse(raw, Frame(width=320, height=240, duration_ms=30000, has_audio=True))
    assert spec.as_json() == raw
    reordered = dict(reversed(list(raw.items())))
    assert spec.sha256 == spec_sha256(raw) == spec_sha256(reordered), "the order of keys does not change the spec"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"audio": [{"from_ms": 3000, "to_ms": 2000}]}, "audio[0]: from_ms 3000 must be >= 0 and before to_ms 2000"),
        ({"audio": [{"from_ms": 0, "to_ms": 1000, "sound": "beep"}]},
         "audio[0].sound = 'beep': use one of mute, bleep"),
        ({"audio": [{"from_ms": 0.5, "to_ms": 1000}]}, "audio[0].from_ms must be a whole number, got 0.5"),
        ({"video": [{"from_ms": 0, "to_ms": 1, "box": [0, 0, 4, 4]}]}, "width and height at least 8 px"),
        ({"video": [{"from_ms": 0, "to_ms": 1}]}, "video[0] needs either box (a still box) or keyframes"),
        ({"video": [{"from_ms": 0, "to_ms": 1, "keyframes": [{"at_ms": 0, "box": [0, 0, 9, 9]}]}]},
         "keyframes must list at least two"),
        ({"video": [{"from_ms": 0, "to_ms": 1, "keyframes": [{"at_ms": 5, "box": [0, 0, 9, 9]},
                                                             {"at_ms": 5, "box": [1, 1, 9, 9]}]}]},
         "at_ms must increase, got [5, 5]"),
        ({"faces": []}, "unknown keys ['faces']"),
        ({"audio": [{"from_ms": 9000, "to_ms": 9500}]}, "past the recording's end (8000 ms)"),
    ],
)  # fmt: skip
def test_a_bad_spec_names_the_region_and_the_fix(raw: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        parse(raw, FRAME)


def test_a_spec_needs_the_streams_it_changes() -> None:
    with pytest.raises(SpecError, match="no audio stream"):
        parse({"audio": [{"from_ms": 0, "to_ms": 1}]}, Frame(320, 240, 1000, has_audio=False))
    with pytest.raises(SpecError, match="no video stream"):
        parse({"video": [{"from_ms": 0, "to_ms": 1, "box": [0, 0, 9, 9]}]}, Frame(None, None, 1000, has_audio=True))


def test_a_range_typed_wrongly_says_how_to_write_it() -> None:
    assert parse_range(" 3 - 5.5 ") == (3000, 5500)
    with pytest.raises(SpecError, match=r"write FROM-TO in seconds, e\.g\. 3-5\.5"):
        parse_range("3..5")


def test_the_recipes_name_input_and_output_once_and_keep_the_output_repeatable() -> None:
    spec = parse(from_options(["1-2"], [], ["41,31,101,51@0-1"]), FRAME)
    for arguments in (recipes.proxy(recipes.EncodeOptions()), recipes.redacted(spec, recipes.EncodeOptions(), FRAME)):
        assert arguments.count(recipes.INPUT) == 1
        assert arguments[-1] == recipes.OUTPUT
        assert {"-fflags", "+bitexact", "-threads", "-map_metadata"} <= set(arguments)
    graph = recipes.video_graph(spec.video, width=320, height=240)
    # An odd box is widened to even pixels around it (yuv420p): x 40..142, y 30..82.
    assert "crop=w=102:h=52:x='40':y='30'" in graph
    assert "enable='between(t,0.000,1.000)'" in graph
    assert "sine=" not in recipes.audio_graph(spec), "a mute adds no tone"


def test_a_moving_box_is_interpolated_and_kept_inside_the_picture() -> None:
    raw = {"video": [{"from_ms": 0, "to_ms": 2000, "keyframes": [
        {"at_ms": 0, "box": [0, 0, 16, 16]}, {"at_ms": 2000, "box": [300, 220, 20, 20]}]}]}  # fmt: skip
    graph = recipes.video_graph(parse(raw, FRAME).video, width=320, height=240)
    # The area takes the largest keyframe's size (20x20) and never reaches past the edge (320 - 20 = 300).
    assert "crop=w=20:h=20:x='if(lt(clip(t,0.000,2.000),2.000),0+(300)*(clip(t,0.000,2.000)-0.000)/2.000,300)'" in graph
    preview = recipes.video_graph(parse(raw, FRAME).video, width=320, height=240, offset_ms=1500)
    assert "clip((t+1.500),0.000,2.000)" in preview, "a preview seeks, so the original's time is t plus the seek"
