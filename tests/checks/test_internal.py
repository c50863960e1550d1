"""Timing inside one file: the defects tools/test-media.md generates, as packet-timing values."""

from __future__ import annotations

from fractions import Fraction

from ingest.findings import FindingKind
from ingest.internal import (
    MediaTiming,
    StreamTiming,
    corrupt_finding,
    internal_findings,
    not_media_finding,
)

INTERNAL = FindingKind.INTERNAL_GAP


def video(pts: list[int], *, duration_ms: int | None = None, frames: int | None = None) -> StreamTiming:
    return StreamTiming(index=0, kind="video", pts_ms=tuple(pts), duration_ms=duration_ms, frame_count=frames)


def audio(pts: list[int], index: int = 1) -> StreamTiming:
    return StreamTiming(index=index, kind="audio", pts_ms=tuple(pts))


def every(step: int, start: int, stop: int) -> list[int]:
    return list(range(start, stop, step))


def facts(
    timing: MediaTiming,
) -> list[tuple[FindingKind, str | None, int | None, int | None, object]]:
    """What the tests assert: kind, stream, position, length, and which check."""
    return [(f.kind, f.stream, f.position_ms, f.length_ms, f.check) for f in internal_findings(timing)]


# The base clip: 5 s, 25 fps video (40 ms frames), 16 kHz AAC (1024 samples = 64 ms packets).
CLEAN = MediaTiming(
    "clean",
    (video(every(40, 0, 5000), duration_ms=5000, frames=125), audio(every(64, 0, 5000))),
    container_duration_ms=5000,
)


def test_clean_clip_has_no_findings() -> None:
    assert internal_findings(CLEAN) == []


def test_setpts_jump_from_3_to_6_seconds_is_one_internal_gap() -> None:
    # setpts='PTS+gte(T,3)*3/TB' on video only: frames from 3.0 s on are shown 3 s later.
    pts = every(40, 0, 3000) + every(40, 6000, 8000)
    timing = MediaTiming("jump", (video(pts, duration_ms=8000, frames=125), audio(every(64, 0, 8000))))
    findings = internal_findings(timing)
    assert facts(timing) == [(INTERNAL, "video:0", 3000, 3000, "jump")]
    assert findings[0].detail["resumes_at_ms"] == 6000
    assert findings[0].key == "internal_gap/jump/video:0@3000/jump"
    assert "从 3 秒跳到 6 秒" in findings[0].message_zh
    assert "第七条" in findings[0].message_zh


def test_jump_on_video_and_audio_together_is_one_interruption() -> None:
    # setpts and asetpts together (test-media.md): both streams jump at ~3.0 s.
    video_pts = every(40, 0, 3000) + every(40, 6000, 8000)
    audio_pts = every(64, 0, 3000) + [p + 3000 for p in every(64, 3008, 5000)]
    timing = MediaTiming("jump", (video(video_pts, duration_ms=8000, frames=125), audio(audio_pts)))
    # Video misses 3000-6000, audio 3008-6008: one interruption of 3.008 s.
    assert facts(timing) == [(INTERNAL, "video:0+audio:1", 3000, 3008, "jump")]


def test_audio_shorter_than_video_is_an_internal_gap() -> None:
    # Audio input with -t 2.5 against 5 s of video: 40 packets of 64 ms, the audio ends at 2.56 s.
    timing = MediaTiming(
        "dropout",
        (video(every(40, 0, 5000), duration_ms=5000, frames=125), audio(every(64, 0, 2500))),
        container_duration_ms=5000,
    )
    findings = internal_findings(timing)
    assert facts(timing) == [(INTERNAL, "audio:1", 2560, 2440, "audio_ends_early")]
    assert "没有声音" in findings[0].message_zh


def test_audio_starting_late_is_an_internal_gap() -> None:
    timing = MediaTiming("late", (video(every(40, 0, 5000)), audio(every(64, 2048, 5000))))
    assert facts(timing) == [(INTERNAL, "audio:1", 0, 2048, "audio_starts_late")]


def test_b_frame_reordering_is_no_jump() -> None:
    # Decode order of IPBB...: each P frame comes before the two B frames shown before it.
    shown = every(40, 0, 5000)
    decode = [shown[0]]
    for start in range(1, len(shown) - 2, 3):
        decode += [shown[start + 2], shown[start], shown[start + 1]]
    decode += shown[len(decode) :]
    assert sorted(decode) == shown
    assert decode != shown
    timing = MediaTiming("ipbb", (video(decode, duration_ms=5000, frames=125), audio(every(64, 0, 5000))))
    assert internal_findings(timing) == []


def test_timestamps_going_back_are_an_internal_gap() -> None:
    # Two 3 s parts joined without shifting the second: its timestamps restart at 0.
    pts = every(40, 0, 3000) + every(40, 0, 3000)
    timing = MediaTiming("joined", (video(pts), audio(every(64, 0, 3000))))
    assert facts(timing) == [(INTERNAL, "video:0", 2960, 2960, "backward")]


def test_duration_disagreeing_with_frame_count_is_an_internal_gap() -> None:
    # Headers only (no packet times): 10 s stated, but 125 frames at 25 fps fill 5 s.
    stream = StreamTiming(0, "video", duration_ms=10_000, frame_count=125, frame_rate=Fraction(25))
    timing = MediaTiming("short", (stream, StreamTiming(1, "audio", duration_ms=10_000)))
    findings = internal_findings(timing)
    assert facts(timing) == [(INTERNAL, "video:0", None, 5000, "frame_count")]
    assert findings[0].detail["expected_ms"] == 5000


def test_video_without_audio_is_a_finding_unless_not_expected() -> None:
    timing = MediaTiming("mute", (video(every(40, 0, 5000)),))
    assert facts(timing) == [(INTERNAL, None, None, 5000, "no_audio")]
    assert internal_findings(timing, expect_audio=False) == []


def test_still_picture_and_voice_recording_have_no_audio_or_frame_findings() -> None:
    photo = MediaTiming("photo", (StreamTiming(0, "video", pts_ms=(0,), frame_count=1, frame_rate=Fraction(25)),))
    voice = MediaTiming("voice", (audio(every(64, 0, 60_000), index=0),), container_duration_ms=60_000)
    assert internal_findings(photo) == []
    assert internal_findings(voice) == []


def test_container_longer_than_its_streams_is_an_internal_gap() -> None:
    timing = MediaTiming(
        "cut",
        (video(every(40, 0, 3000)), audio(every(64, 0, 3000))),
        container_duration_ms=5000,
    )
    assert facts(timing) == [(INTERNAL, None, 3008, 1992, "streams_end_early")]


def test_small_irregularities_are_tolerated() -> None:
    # A 0.5 s stall in video and a 30000/1001 frame rate rounded to milliseconds.
    ntsc = [round(i * 1001 / 30) for i in range(300)]
    stalled = every(40, 0, 2000) + every(40, 2500, 5500)
    ntsc_stream = StreamTiming(index=2, kind="video", pts_ms=tuple(ntsc))
    timing = MediaTiming("ok", (video(stalled), audio(every(64, 0, 5500), index=1), ntsc_stream))
    assert internal_findings(timing) == []


def test_corrupt_finding_for_a_truncated_file() -> None:
    reason = "moov atom not found\n/tmp/evil\x1b[0m.mp4: Invalid data found when processing input"
    finding = corrupt_finding("rec-7", reason, device="DSJ0012")
    assert (finding.kind, finding.recordings, finding.device) == (
        FindingKind.CORRUPT,
        ("rec-7",),
        "DSJ0012",
    )
    assert "moov atom not found\\x0a" in finding.message_zh
    assert "第二十八条" in finding.message_zh
    assert "\n" not in finding.message
    assert "\x1b" not in str(finding.detail["reason"])
    assert finding.key == "corrupt/rec-7"


def test_not_media_finding() -> None:
    finding = not_media_finding("rec-8", "no audio, video or image stream")
    assert (finding.kind, finding.key) == (FindingKind.NOT_MEDIA, "not_media/rec-8")
    assert "误放入采集目录" in finding.message_zh
