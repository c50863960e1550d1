"""Hypothesis strategies for the log: trees, proofs and their corruptions, entries.

Kept in one module so every chain property draws from the same definitions.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import strategies as st

from chain.entries import (
    BODY_FIELDS,
    MAX_SAFE_INTEGER,
    RECORDING_FORBIDDEN,
    RECORDING_REQUIRED,
    Entry,
    EntryType,
    JsonValue,
    commit,
    format_time,
)
from storage.journal import NewEntry

MAX_TREE = 64
"""Largest tree the exhaustive and property tests build."""


def leaf_data(count: int) -> list[bytes]:
    """Distinct, deterministic leaf inputs for a tree of ``count`` leaves."""
    return [f"leaf {i}".encode() for i in range(count)]


# -- trees and proofs ----------------------------------------------------------

tree_sizes = st.integers(min_value=1, max_value=MAX_TREE)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    """A tree size 1..64 and a leaf index in it."""
    size = draw(tree_sizes)
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def old_and_new_sizes(draw: st.DrawFn) -> tuple[int, int]:
    """``0 < old <= new <= 64``."""
    new = draw(tree_sizes)
    return draw(st.integers(min_value=1, max_value=new)), new


@dataclass(frozen=True)
class Corruption:
    """One way to spoil a proof (a list of 32-byte hashes)."""

    kind: str  # flip, truncate, extend, insert, drop, swap
    position: int
    bit: int
    extra: bytes

    def apply(self, proof: list[bytes]) -> list[bytes] | None:
        """The spoilt proof, or None when this corruption cannot apply to ``proof``."""
        spoilt = list(proof)
        if self.kind == "extend":
            return [*spoilt, self.extra]
        if self.kind == "insert":
            spoilt.insert(self.position % (len(spoilt) + 1), self.extra)
            return spoilt
        if not spoilt:
            return None
        where = self.position % len(spoilt)
        if self.kind == "flip":
            element = bytearray(spoilt[where])
            element[self.bit // 8] ^= 1 << (self.bit % 8)
            spoilt[where] = bytes(element)
        elif self.kind == "truncate":
            spoilt = spoilt[:-1]
        elif self.kind == "drop":
            del spoilt[where]
        elif len(spoilt) < 2 or spoilt[where] == spoilt[where - 1]:
            return None
        else:  # swap two neighbours
            spoilt[where], spoilt[where - 1] = spoilt[where - 1], spoilt[where]
        return spoilt


corruptions = st.builds(
    Corruption,
    kind=st.sampled_from(["flip", "truncate", "extend", "insert", "drop", "swap"]),
    position=st.integers(min_value=0, max_value=MAX_TREE),
    bit=st.integers(min_value=0, max_value=255),
    extra=st.binary(min_size=32, max_size=32),
)


# -- entries -------------------------------------------------------------------

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC))
time_texts = times.map(format_time)
texts = st.text(min_size=1, max_size=12)
sha256_hex = st.binary(min_size=1, max_size=8).map(lambda b: hashlib.sha256(b).hexdigest())
counts = st.integers(min_value=0, max_value=MAX_SAFE_INTEGER)
commitments = st.builds(commit, st.text(max_size=8), st.binary(min_size=32, max_size=32))

json_values: st.SearchStrategy[JsonValue] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)

_FIELD_VALUES: dict[str, st.SearchStrategy[JsonValue]] = {
    "sha256": sha256_hex,
    "image_sha256": sha256_hex,
    "size": counts,
    "image_size": counts,
    "sequence": counts | st.none(),
    "approval": counts | st.none(),
    "retain_until": time_texts,
    "received_at": time_texts,
    "start_raw": time_texts | st.none(),
    "parties": st.lists(commitments, max_size=3),
    "requester": commitments | st.none(),
    "party": commitments | st.none(),
    "request": counts,
    "original_sha256": sha256_hex,
    "spec_sha256": sha256_hex | st.none(),
    "redaction": counts,  # REDACTION's must be a count; DERIVED's may also be null
    "arguments": st.lists(st.text(max_size=8), max_size=4),
    "device": texts | st.none(),  # CLOCK's device is required text: see bodies()
    "officer": texts | st.none(),
    "approver": texts | st.none(),
    "requester_category": texts | st.none(),
    "document_ref": texts | st.none(),
    "match": st.booleans(),
    "device_time": time_texts | times.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"),
    "station_time": time_texts,
    "offset_ms": st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER),
    "original_name_b64": st.binary(min_size=1, max_size=12).map(lambda b: base64.b64encode(b).decode()),
}


@st.composite
def bodies(draw: st.DrawFn, entry_type: EntryType) -> dict[str, JsonValue]:
    """A valid body: every required key, some optional ones, some unknown extra keys."""
    body: dict[str, JsonValue] = {}
    for key, spec in BODY_FIELDS[entry_type].items():
        if spec.required or draw(st.booleans()):
            nullable_here = not (
                (entry_type is EntryType.APPROVAL and key == "approver")
                or (entry_type is EntryType.CLOCK and key == "device")
                or (entry_type is EntryType.REQUEST and key == "requester_category")
            )
            body[key] = draw(_FIELD_VALUES.get(key, texts) if nullable_here else texts)
    extras = draw(st.dictionaries(st.text(max_size=6).map("x-".__add__), json_values, max_size=3))
    return {**extras, **body}


@st.composite
def entries(draw: st.DrawFn, entry_type: EntryType | None = None) -> Entry:
    """A valid entry of ``entry_type`` (any type if None)."""
    kind = entry_type or draw(st.sampled_from(list(EntryType)))
    if kind in RECORDING_FORBIDDEN:
        recording = None
    elif kind in RECORDING_REQUIRED:
        recording = draw(sha256_hex)
    else:
        recording = draw(sha256_hex | st.none())
    prev = None if recording is None else draw(st.none() | st.integers(0, MAX_SAFE_INTEGER))
    return Entry(
        type=kind,
        time=draw(time_texts),
        station=draw(texts),
        recording=recording,
        prev=prev,
        body=draw(bodies(kind)),
    )


RECORDING_POOL = tuple(hashlib.sha256(b"recording %d" % i).hexdigest() for i in range(3))
"""A few recordings, so that generated logs hold several entries about each (custody chains)."""


@st.composite
def log_items(draw: st.DrawFn) -> NewEntry:
    """An entry to append: any type, about one of ``RECORDING_POOL`` where the type allows it."""
    kind = draw(st.sampled_from(list(EntryType)))
    if kind in RECORDING_FORBIDDEN:
        recording = None
    elif kind in RECORDING_REQUIRED:
        recording = draw(st.sampled_from(RECORDING_POOL))
    else:
        recording = draw(st.sampled_from(RECORDING_POOL) | st.none())
    personal = draw(st.none() | st.dictionaries(st.sampled_from(["p-name", "p-id"]), st.text(max_size=8), min_size=1))
    return NewEntry(kind, recording, draw(bodies(kind)), draw(times), personal)
