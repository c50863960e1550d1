"""Hypothesis strategies for the check properties, kept in one place (STYLE.md 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st

from ingest.clock import ClockModel, CorrectedSegment, Segment

SHIFT_START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)

PROPERTY = settings(deadline=None, max_examples=60)
"""Enough examples to find the edge cases these properties have met, fast on a busy CI box."""

devices = st.from_regex(r"DSJ[0-9]{1,4}", fullmatch=True)
officers = st.from_regex(r"[0-9]{6}", fullmatch=True)
durations_ms = st.integers(min_value=1_000, max_value=3_600_000)
interruptions_ms = st.integers(min_value=2_001, max_value=10_000_000)
pauses_ms = st.one_of(st.just(0), interruptions_ms)
"""Either contiguous or a real interruption: never the ambiguous band in between."""
local_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0)
)


def timeline(device: str, durations: list[int], pauses: list[int], *, first_seq: int = 1) -> list[CorrectedSegment]:
    """Segments of one device with the given durations and pauses, on an exact clock."""
    segments: list[Segment] = []
    moment = SHIFT_START
    for index, duration in enumerate(durations):
        segments.append(Segment(f"{device}-{index}", device, first_seq + index, moment, duration))
        pause = pauses[index] if index < len(pauses) else 0
        moment += timedelta(milliseconds=duration + pause)
    return ClockModel([]).correct_segments(segments)


@st.composite
def takes(draw: st.DrawFn, pauses: st.SearchStrategy[int]) -> list[CorrectedSegment]:
    """One device's files: 1-15 durations, with pauses drawn from ``pauses`` between them."""
    device = draw(devices)
    durations = draw(st.lists(durations_ms, min_size=1, max_size=15))
    between = draw(st.lists(pauses, min_size=len(durations) - 1, max_size=len(durations) - 1))
    return timeline(device, durations, between)


@st.composite
def contiguous_takes(draw: st.DrawFn) -> list[CorrectedSegment]:
    """One uninterrupted take as a dock sees it, with every imprecision a normal split has.

    In true time each file follows the last after a split delay of up to 1 s, or
    overlaps it by up to one audio frame (128 ms); then each start is truncated
    to the second as file names and MP4 headers do (an error of 0 to -999 ms).
    """
    device = draw(devices)
    durations = draw(st.lists(durations_ms, min_size=1, max_size=15))
    splits = draw(st.lists(st.integers(-128, 1_000), min_size=len(durations), max_size=len(durations)))
    truncations = draw(st.lists(st.integers(-999, 0), min_size=len(durations), max_size=len(durations)))
    segments: list[Segment] = []
    true_start = SHIFT_START
    for index, duration in enumerate(durations):
        named = true_start + timedelta(milliseconds=truncations[index])
        segments.append(Segment(f"{device}-{index}", device, index + 1, named, duration))
        true_start += timedelta(milliseconds=duration + splits[index])
    return ClockModel([]).correct_segments(segments)


hostile_names = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
    st.text(alphabet="0123456789_-.\n\r\t $()`;|&*?'\"\\/设备警号０１２３", max_size=80),
)
"""Names a dock may hand over: anything, undecodable bytes, digits and shell characters mixed."""
