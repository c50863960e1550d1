"""docs/log-format.md shows the worked example exactly as the code builds it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.checkpoint import verify_note
from chain.merkle import verify_consistency, verify_inclusion
from tests.chain.log_format_example import build

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "log-format.md"
EXAMPLE = build()


@pytest.mark.parametrize("value", EXAMPLE.values())
def test_document_shows_the_value(value: str) -> None:
    assert value in DOCUMENT.read_text(encoding="utf-8")


def test_the_example_verifies() -> None:
    checkpoint = verify_note(EXAMPLE.note, EXAMPLE.vkey)
    assert checkpoint.root == EXAMPLE.root
    index = EXAMPLE.inclusion_index
    verify_inclusion(EXAMPLE.leaf_hashes[index], index, checkpoint.size, EXAMPLE.inclusion, checkpoint.root)
    verify_consistency(
        EXAMPLE.consistency_old_size,
        checkpoint.size,
        EXAMPLE.consistency_old_root,
        checkpoint.root,
        EXAMPLE.consistency,
    )
