"""Finding values: validation, keys, JSON, safe text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.findings import Finding, FindingKind, display_text, format_seconds, rfc3339

T0 = datetime(2026, 11, 20, 0, 10, tzinfo=UTC)


def _gap(**changes: object) -> Finding:
    values: dict[str, object] = {
        "kind": FindingKind.GAP,
        "recordings": ("a", "b"),
        "message": "m",
        "message_zh": "第七条",
        "device": "D",
        "start": T0,
        "end": T0 + timedelta(seconds=40),
        "length_ms": 40_000,
    }
    values.update(changes)
    return Finding(**values)  # type: ignore[arg-type]  # test builder: values checked by Finding


def test_key_is_kind_and_recordings_not_the_corrected_time() -> None:
    assert _gap().key == "gap/a+b"
    assert _gap(start=T0 + timedelta(seconds=3), end=T0 + timedelta(seconds=43)).key == "gap/a+b"
    assert _gap(recordings=("b", "c")).key != _gap().key
    assert _gap(kind=FindingKind.OVERLAP).key == "overlap/a+b"


def test_in_file_findings_are_keyed_by_stream_and_position() -> None:
    jump = Finding(
        kind=FindingKind.INTERNAL_GAP,
        recordings=("r/1+x@y",),
        message="m",
        message_zh="m",
        stream="video:0+audio:1",
        position_ms=3000,
        check="jump",
    )
    assert jump.key == "internal_gap/r%2F1%2Bx%40y/video:0%2Baudio:1@3000/jump"
    assert Finding(FindingKind.INTERNAL_GAP, ("r",), "m", "m", stream="video:0").key == "internal_gap/r/video:0@-"


def test_times_become_utc_and_naive_times_are_refused() -> None:
    shanghai = timezone(timedelta(hours=8))
    finding = _gap(start=T0.astimezone(shanghai), end=None)
    assert finding.start == T0
    assert finding.start is not None
    assert finding.start.tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        _gap(start=datetime(2026, 11, 20))  # naive on purpose
    with pytest.raises(ValueError, match="ends before it starts"):
        _gap(end=T0 - timedelta(seconds=1))
    with pytest.raises(ValueError, match="length_ms"):
        _gap(length_ms=-1)


def test_finding_is_an_immutable_hashable_value() -> None:
    finding = _gap(detail={"tolerance_ms": 2000}, recordings=["a", "b"])
    assert finding.recordings == ("a", "b")
    assert finding == _gap(detail={"tolerance_ms": 2000})
    assert len({finding, _gap(detail={"tolerance_ms": 2000})}) == 1
    with pytest.raises(TypeError):
        finding.detail["tolerance_ms"] = 1  # type: ignore[index]  # the point: it is read-only


def test_as_json_is_plain() -> None:
    assert _gap(detail={"tolerance_ms": 2000}).as_json() == {
        "key": "gap/a+b",
        "kind": "gap",
        "recordings": ["a", "b"],
        "device": "D",
        "start": "2026-11-20T00:10:00Z",
        "end": "2026-11-20T00:10:40Z",
        "length_ms": 40_000,
        "stream": None,
        "position_ms": None,
        "check": None,
        "detail": {"tolerance_ms": 2000},
        "message": "m",
        "message_zh": "第七条",
    }


def test_rfc3339_and_seconds_formatting() -> None:
    assert rfc3339(T0 + timedelta(milliseconds=250)) == "2026-11-20T00:10:00.250Z"
    assert [format_seconds(ms) for ms in (40_000, 3008, 1500, 1, -2500, 0)] == [
        "40",
        "3.008",
        "1.5",
        "0.001",
        "-2.5",
        "0",
    ]


def test_display_text_escapes_control_and_undecodable_characters() -> None:
    assert display_text("录像\n\x00\udcff.mp4") == "录像\\x0a\\x00\\udcff.mp4"
    assert display_text("x" * 200, limit=10) == "x" * 9 + "…"
