"""docs/log-format.md shows the worked example as the code builds it, and the projection as the code replays it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chain.checkpoint import verify_note
from chain.entries import EntryType, new_entry, parse_time
from chain.merkle import verify_consistency, verify_inclusion
from retention.export.verify_disc import fingerprint
from storage.projected import Second
from storage.projection import PROJECTED, Replay
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


def _table(title: str) -> dict[str, str]:
    """Column -> source of the §9 table that follows the line starting with ``title``."""
    text = DOCUMENT.read_text(encoding="utf-8")
    lines = text[text.index(title) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| column"))
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        column, source = (cell.strip() for cell in line.strip("|").split("|", 1))
        rows[column.strip("`")] = source
    return rows


def _replayed(entry_type: EntryType, body: dict[str, Any], table: str) -> dict[str, object]:
    replay = Replay()
    replay.apply(7, new_entry(entry_type, time=MOMENT, station="dock-doc", recording="r" * 64, prev=None, body=body))
    (row,) = replay.rows[table].values()
    return {k: (v.moment if isinstance(v, Second) else v) for k, v in row.values.items()}


MOMENT = datetime(2026, 11, 26, 4, 0, 0, tzinfo=UTC)
_INGEST = {
    "sha256": "a" * 64, "size": 11, "object_key": "sha256/aa/aa/x", "version_id": "v9", "original_name": "n.mp4",
    "device": "CAM9", "officer": "P9", "start_raw": "2026-11-26T03:00:00Z", "end_raw": "2026-11-26T03:10:00Z",
    "sequence": 3, "retain_until": "2027-02-26T04:00:00Z", "received_at": "2026-11-26T03:59:00Z",
    "duration_ms": 600000, "kind": "video", "media": {"format": "mp4"}, "notes": ["a note"],
}  # fmt: skip
_LABEL = {"case_number": "案1", "parties": ["sha256:" + "b" * 64], "handler": "李四", "by": "c1"}
_SPECIAL = {
    "the entry's `station`": "dock-doc",
    "the entry's `time`": MOMENT,
    "the entry's index": 7,
    "`recording`": "r" * 64,
}


@pytest.mark.parametrize(
    ("title", "entry_type", "body", "table", "skip"),
    [
        ("Table `recordings`", EntryType.INGEST, _INGEST, "recordings", set()),
        ("Table `labels`", EntryType.LABEL, _LABEL, "labels", {"parties"}),  # checked by opening commitments
    ],
)
def test_the_projection_tables_say_which_entry_field_fills_which_column(
    title: str, entry_type: EntryType, body: dict[str, Any], table: str, skip: set[str]
) -> None:
    documented = _table(title)
    projected = next(p for p in PROJECTED if p.table.name == table)
    assert set(documented) == set(projected.proven), "every proven column is documented, and only those"
    row = _replayed(entry_type, body, table)
    for column, source in documented.items():
        if column in skip:
            continue
        if source in _SPECIAL:
            expected = _SPECIAL[source]
        else:
            field = source.split("`")[1].removeprefix("body.")
            expected = body[field]
            if isinstance(expected, str) and expected.endswith("Z") and expected[:4].isdigit():
                expected = parse_time(expected)
        assert row[column] == expected, (column, source)


def test_the_documented_fingerprint_is_verify_pys() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    vkey = "example.evidock/log+9a6fdd33+AYFUrHEndUX8UVkwojiBonVbESoe2e0nYgTortHhhjCE"
    assert f"it is `{fingerprint(vkey)}`" in " ".join(text.split())
