"""Hypothesis strategies for the check properties, kept in one place (STYLE.md 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from ingest.clock import ClockModel, CorrectedSegment, Segment

SHIFT_START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)

devices = st.from_regex(r"DSJ[0-9]{1,4}", fullmatch=True)
officers = st.from_regex(r"[0-9]{6}", fullmatch=True)
durations_ms = st.integers(min_value=1_000, max_value=3_600_000)
normal_splits_ms = st.integers(min_value=-1_500, max_value=2_000)  # within both tolerances
"""True time between two files of one take: a 1 s naming error either way, or a short split."""
interruptions_ms = st.integers(min_value=2_001, max_value=10_000_000)
pauses_ms = st.one_of(st.just(0), interruptions_ms)
"""Either contiguous or a real interruption: never the ambiguous band in between."""
local_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.replace(microsecond=0)
)


def timeline(
    device: str, durations: list[int], pauses: list[int], *, first_seq: int = 1
) -> list[CorrectedSegment]:
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
    """One device's files: 1-30 durations, with pauses drawn from ``pauses`` between them."""
    device = draw(devices)
    durations = draw(st.lists(durations_ms, min_size=1, max_size=30))
    between = draw(st.lists(pauses, min_size=len(durations) - 1, max_size=len(durations) - 1))
    return timeline(device, durations, between)


hostile_names = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
    st.text(alphabet="0123456789_-.\n\r\t $()`;|&*?'\"\\/设备警号０１２３", max_size=80),
)
"""Names a dock may hand over: anything, undecodable bytes, digits and shell characters mixed."""
