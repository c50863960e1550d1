"""The fast canonical encoder agrees with RFC 8785 (``rfc8785``) on every value an entry may hold."""

from __future__ import annotations

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.entries import MAX_SAFE_INTEGER, JsonValue, _ascii_keys, _sorted_json

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
