"""The fast paths agree with the careful ones: encoder vs RFC 8785 (``rfc8785``), decode and copy."""

from __future__ import annotations

import json
from collections.abc import Callable

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.entries import (
    MAX_SAFE_INTEGER,
    Entry,
    JsonValue,
    _ascii_keys,
    _decode_canonical,
    _entry_from_json,
    _frozen_json,
    _json_copy,
    _parse_json,
    _sorted_json,
    encode,
)
from chain.errors import EntryError
from tests.chain.strategies import entries

# Every Unicode scalar value but lone surrogates (which entries refuse).
TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
SCALARS = st.none() | st.booleans() | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER) | TEXT
ASCII_KEYS = st.text(alphabet=st.characters(max_codepoint=127), max_size=12)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(ASCII_KEYS, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=600)
@given(VALUES)
def test_fast_path_equals_rfc8785(value: object) -> None:
    assert _ascii_keys(value)  # type: ignore[arg-type]
    assert _sorted_json(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


def test_non_ascii_keys_take_the_rfc8785_path() -> None:
    # Sorting by code point and by UTF-16 code unit differ here: U+FF61 vs U+1F600 (a surrogate pair).
    value: JsonValue = {"\uff61": 1, "\U0001f600": 2}
    assert not _ascii_keys(value)
    assert rfc8785.dumps(value) != _sorted_json(value)


# -- the fast decode and copy paths accept and produce exactly what the careful ones do --------


def _strict_decode(data: bytes) -> Entry | None:
    """decode() as it was before its fast path: the hooked parser, then the canonical comparison."""
    try:
        entry = _entry_from_json(_parse_json(data))
    except EntryError:
        return None
    return entry if encode(entry) == data else None


_EDITS = st.sampled_from(
    [
        lambda d: d,
        lambda d: d.replace(b'"v":1', b'"v":1.0'),
        lambda d: d.replace(b'"v":1', b'"v":1,"v":1'),
        lambda d: d.replace(b'"v":1', b'"v": 1'),
        lambda d: d.replace(b'{"body":', b'{"v":1,"body":'),
        lambda d: d.replace(b'"prev":', b'"prev":1e0,"x":'),
        lambda d: d + b"\n",
        lambda d: d.replace(b'"type"', b'"\\u0074ype"'),
        lambda d: d.decode().encode("utf-16"),
        lambda d: d[:-1],
    ]
)


@settings(max_examples=200)
@given(entries(), _EDITS)
def test_fast_decode_accepts_exactly_the_canonical_bytes(entry: Entry, edit: Callable[[bytes], bytes]) -> None:
    data = edit(encode(entry))
    fast = _decode_canonical(data)
    assert fast == _strict_decode(data)
    if fast is not None:
        assert encode(fast) == data


@settings(max_examples=200)
@given(entries())
def test_fast_copy_equals_the_careful_copy(entry: Entry) -> None:
    body = dict(entry.body)
    copied, plain = _json_copy(body, "body")
    assert copied == _frozen_json(body, "body")
    assert plain == _ascii_keys(copied)
    assert entry.as_json() == json.loads(encode(entry))
