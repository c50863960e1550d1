"""File names: the built-in patterns, local time to UTC, configured patterns, hostile names."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.errors import EvidockError
from ingest.filenames import (
    BUILTIN_PATTERNS,
    DEFAULT_PATTERN,
    NameFacts,
    NamePattern,
    PatternError,
    parse_name,
    unmatched_name_finding,
)
from ingest.findings import FindingKind

from .builders import SHANGHAI
from .strategies import PROPERTY, devices, hostile_names, local_times, officers

START_UTC = datetime(2026, 11, 20, 0, 6, 19, tzinfo=UTC)  # 08:06:19 in Shanghai
FULL_WIDTH_START = "".join(chr(0xFF10 + int(digit)) for digit in "20261120080619")  # \d must not match


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "DSJ0012_010203_20261120080619_0001.mp4",
            NameFacts("dock", "DSJ0012", "010203", START_UTC, datetime(2026, 11, 20, 8, 6, 19), 1, "mp4"),
        ),
        (
            "DSJ0012_010203_20261120_080619_0017.MP4",
            NameFacts(
                "split-date",
                "DSJ0012",
                "010203",
                START_UTC,
                datetime(2026, 11, 20, 8, 6, 19),
                17,
                "mp4",
            ),
        ),
        (
            "20261120_080619_DSJ0012.wav",
            NameFacts(
                "date-first",
                "DSJ0012",
                None,
                START_UTC,
                datetime(2026, 11, 20, 8, 6, 19),
                None,
                "wav",
            ),
        ),
    ],
)
def test_builtin_patterns_read_local_time_as_utc(name: str, expected: NameFacts) -> None:
    assert parse_name(name, BUILTIN_PATTERNS, SHANGHAI) == expected


def test_every_builtin_example_matches_its_own_pattern() -> None:
    for pattern in BUILTIN_PATTERNS:
        facts = parse_name(pattern.example, [pattern], SHANGHAI)
        assert facts is not None
        assert facts.pattern == pattern.name
    assert BUILTIN_PATTERNS[0] is DEFAULT_PATTERN


def test_name_is_read_in_the_zone_passed_in() -> None:
    name = "DSJ0012_010203_20261120080619_0001.mp4"
    in_utc = parse_name(name, BUILTIN_PATTERNS, UTC)
    assert in_utc is not None
    assert in_utc.start == START_UTC + timedelta(hours=8)


def test_first_matching_pattern_wins() -> None:
    anything = NamePattern.compile("catch-all", r"(?P<device>[A-Z0-9]+)_.*_(?P<start>\d{14})_.*")
    name = "DSJ0012_010203_20261120080619_0001.mp4"
    first = parse_name(name, [anything, DEFAULT_PATTERN], SHANGHAI)
    assert first is not None
    assert (first.pattern, first.seq, first.officer) == ("catch-all", None, None)


def test_configured_pattern_with_its_own_offset_ignores_tz() -> None:
    pattern = NamePattern.compile(
        "utc-stamped",
        r"(?P<device>[A-Z0-9]+)-(?P<start>\d{8}T\d{6}[+-]\d{4})(?:\.(?P<ext>\w+))?",
        start_format="%Y%m%dT%H%M%S%z",
        example="CAM7-20261120T000619+0000.mp4",
    )
    facts = parse_name("CAM7-20261120T000619+0000.mp4", [pattern], SHANGHAI)
    assert facts is not None
    assert facts.start == START_UTC
    assert facts.start.tzinfo is UTC


@pytest.mark.parametrize(
    "name",
    [
        "DSJ0012_010203_20261120080619_0001.mp4\n",  # trailing newline: fullmatch, not match
        "DSJ0012_010203_2026112008\n0619_0001.mp4",
        "DSJ0012_010203_20261345080619_0001.mp4",  # month 13
        "DSJ0012_010203_20260230080619_0001.mp4",  # 30 February
        "DSJ0012_010203_20261120250619_0001.mp4",  # 25 o'clock
        "DSJ0012_010203_00010101000000_0001.mp4",  # year 1 at +08:00: before datetime.min in UTC
        f"DSJ0012_010203_{FULL_WIDTH_START}_0001.mp4",
        "设备0012_010203_20261120080619_0001.mp4",
        "-rf_010203_20261120080619_0001.mp4",  # leading dash
        "$(reboot)_010203_20261120080619_0001.mp4",
        "DSJ0012_010203_20261120080619_0001.mp4; rm -rf ~",
        "../DSJ0012_010203_20261120080619_0001.mp4",
        "A" * 250 + ".mp4",
        "DSJ0012_" + "0" * 5000 + "_20261120080619_0001.mp4",
        os.fsdecode(b"DSJ\xff\xfe_010203_20261120080619_0001.mp4"),
        "",
        "notes.txt",
    ],
)
def test_hostile_or_unmatched_names_give_none(name: str) -> None:
    assert parse_name(name, BUILTIN_PATTERNS, SHANGHAI) is None


def test_very_long_names_are_refused_unread() -> None:
    name = "DSJ0012_010203_20261120080619_0001" + "." * 2000
    assert parse_name(name, BUILTIN_PATTERNS, SHANGHAI) is None


def test_unmatched_name_finding_is_one_safe_line() -> None:
    name = "evil\nname\x1b[31m_设备.mp4"
    finding = unmatched_name_finding("rec-9", name, BUILTIN_PATTERNS)
    assert finding.kind is FindingKind.UNMATCHED_NAME
    assert finding.recordings == ("rec-9",)
    for text in (finding.message, finding.message_zh, str(finding.detail["name"])):
        assert "\n" not in text
        assert "\x1b" not in text
    assert "evil\\x0aname\\x1b[31m_设备.mp4" in finding.message_zh
    assert '"evil\\x0aname\\x1b[31m_设备.mp4"' in finding.message
    assert "DSJ0012_010203_20261120080619_0001.mp4" in finding.message


@pytest.mark.parametrize(
    ("regex", "start_format", "example", "says"),
    [
        (r"(?P<device>\w+", "%Y%m%d%H%M%S", "", "invalid regular expression"),
        (r"(?P<device>\w+)_(?P<when>\d{14})", "%Y%m%d%H%M%S", "", "missing start"),
        (
            r"(?P<device>\w+)_(?P<start>\d{14})_(?P<unit>\w+)",
            "%Y%m%d%H%M%S",
            "",
            "unknown named groups unit",
        ),
        (r"(?P<device>[A-Z]+)_(?P<start>\d{14})", "YYYYMMDD", "", "not a strptime format"),
        (
            r"(?P<device>[A-Z]+)_(?P<start>\d{14})",
            "%Y%m%d%H%M%S",
            "abc_20261120080619",
            "its own example",
        ),
    ],
)
def test_bad_configured_pattern_says_what_to_fix(regex: str, start_format: str, example: str, says: str) -> None:
    with pytest.raises(PatternError, match=says) as raised:
        NamePattern.compile("vendor-x", regex, start_format=start_format, example=example)
    assert isinstance(raised.value, EvidockError)
    assert "vendor-x" in str(raised.value)


@settings(PROPERTY, max_examples=200)
@given(hostile_names)
def test_parse_name_never_raises(name: str) -> None:
    facts = parse_name(name, BUILTIN_PATTERNS, SHANGHAI)
    assert facts is None or facts.start.tzinfo is UTC


@PROPERTY
@given(devices, officers, local_times, st.integers(min_value=0, max_value=999_999))
def test_default_pattern_round_trip(device: str, officer: str, local: datetime, seq: int) -> None:
    zone = timezone(timedelta(hours=8))
    name = f"{device}_{officer}_{local:%Y%m%d%H%M%S}_{seq:04d}.mp4"
    facts = parse_name(name, BUILTIN_PATTERNS, zone)
    assert facts == NameFacts("dock", device, officer, local.replace(tzinfo=zone).astimezone(UTC), local, seq, "mp4")
