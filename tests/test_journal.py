"""``Journal.append_many`` against ``Journal.append`` one by one, on a real SQLite catalog.

A batch must leave exactly what appending its entries one by one leaves: the
same bytes, leaf hashes, stored nodes, roots and custody chain. Salts are
random, so both runs draw them from the same deterministic sequence.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from chain import entries as chain_entries
from chain.entries import EntryType, decode
from chain.errors import EntryError
from chain.merkle import MemoryNodes, leaf_hash, root
from storage.catalog import Catalog
from storage.errors import StorageError
from storage.journal import Journal, NewEntry, SqlNodes
from storage.schema import log_entries, log_head, log_nodes, log_salts
from tests.chain.strategies import log_items
from tests.conftest import scratch_catalog_url

STATION = "dock-test"
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@contextmanager
def fresh_catalog() -> Iterator[Catalog]:
    with tempfile.TemporaryDirectory() as folder, scratch_catalog_url(Path(folder)) as url:
        catalog = Catalog.open(url)
        try:
            yield catalog
        finally:
            catalog.close()


@contextmanager
def counted_salts() -> Iterator[None]:
    """Salts 0, 1, 2, ... (as 32-byte values) instead of random ones: two runs commit alike."""
    counter = itertools.count()
    with mock.patch.object(chain_entries, "new_salt", side_effect=lambda: next(counter).to_bytes(32, "big")):
        yield


Rows = list[tuple[Any, ...]]


def dump(catalog: Catalog) -> tuple[Rows, Rows, Rows, int]:
    with catalog.read() as conn:
        entries = [tuple(r) for r in conn.execute(select(log_entries).order_by(log_entries.c.idx))]
        nodes = [tuple(r) for r in conn.execute(select(log_nodes).order_by(log_nodes.c.level, log_nodes.c.idx))]
        salts = [tuple(r) for r in conn.execute(select(log_salts).order_by(log_salts.c.entry, log_salts.c.field))]
        size = int(conn.execute(select(log_head.c.size)).scalar_one())
    return entries, nodes, salts, size


def one_by_one(catalog: Catalog, items: Sequence[NewEntry], batches: Sequence[int]) -> list[int]:
    """``Journal.append`` per entry, in transactions of the same sizes as the batches."""
    journal, indexes, start = Journal(STATION), [], 0
    for size in batches:
        with catalog.begin() as conn:
            for item in items[start : start + size]:
                indexes.append(
                    journal.append(
                        conn,
                        item.kind,
                        recording=item.recording,
                        body=item.body,
                        time=item.time,
                        personal=item.personal,
                    )
                )
        start += size
    return indexes


def batched(catalog: Catalog, items: Sequence[NewEntry], batches: Sequence[int]) -> list[int]:
    journal, indexes, start = Journal(STATION), [], 0
    for size in batches:
        with catalog.begin() as conn:
            indexes += journal.append_many(conn, list(items[start : start + size]))
        start += size
    return indexes


@st.composite
def items_in_batches(draw: st.DrawFn) -> tuple[list[NewEntry], list[int]]:
    items = draw(st.lists(log_items(), max_size=40))
    batches, left = [], len(items)
    while left:
        size = draw(st.integers(1, left))
        batches.append(size)
        left -= size
    return items, batches


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items_in_batches())
def test_a_batch_leaves_what_appending_one_by_one_leaves(drawn: tuple[list[NewEntry], list[int]]) -> None:
    items, batches = drawn
    with fresh_catalog() as each, fresh_catalog() as many:
        with counted_salts():
            assert one_by_one(each, items, batches) == list(range(len(items)))
        with counted_salts():
            assert batched(many, items, batches) == list(range(len(items)))
        assert dump(many) == dump(each)
        entries, nodes, _, size = dump(many)
        data = [bytes(row[-1]) for row in entries]  # the data column
        reference = MemoryNodes.from_entries(data)
        assert size == reference.size == len(items)
        keys = _all_keys(size)  # every complete subtree, nothing else
        stored = {(int(lv), int(i)): bytes(h) for lv, i, h in nodes}
        assert stored == dict(zip(keys, reference.nodes(keys), strict=True))
        with many.read() as conn:
            for prefix in range(1, size + 1):
                assert root(prefix, SqlNodes(conn)) == MemoryNodes.from_entries(data[:prefix]).root()
    last: dict[str, int] = {}
    for index, (item, raw) in enumerate(zip(items, data, strict=True)):
        entry = decode(raw)
        assert (entry.type, entry.recording, entry.station) == (item.kind, item.recording, STATION)
        assert entry.prev == (last.get(item.recording) if item.recording else None)
        if item.recording:
            last[item.recording] = index
        assert leaf_hash(raw) == reference.nodes([(0, index)])[0]


def _all_keys(size: int) -> list[tuple[int, int]]:
    return [(lv, i) for lv in range(size.bit_length()) for i in range(size >> lv)]


def _hold(recording: str, reason: str) -> NewEntry:
    return NewEntry(EntryType.HOLD, recording, {"action": "set", "reason": reason}, T0)


def test_a_batch_chains_entries_about_one_recording_in_order() -> None:
    a, b = "a" * 64, "b" * 64
    with fresh_catalog() as catalog:
        journal = Journal(STATION)
        with catalog.begin() as conn:
            assert journal.append_many(conn, [_hold(a, "first")]) == [0]
        with catalog.begin() as conn:
            got = journal.append_many(
                conn, [_hold(a, "second"), _hold(b, "other"), _hold(a, "third"), _hold(a, "fourth")]
            )
        assert got == [1, 2, 3, 4]
        with catalog.read() as conn:
            rows = conn.execute(select(log_entries.c.data).order_by(log_entries.c.idx)).scalars()
            found = [decode(bytes(d)) for d in rows]
    assert [(e.recording, e.prev, e.body["reason"]) for e in found] == [
        (a, None, "first"),
        (a, 0, "second"),
        (b, None, "other"),
        (a, 1, "third"),
        (a, 3, "fourth"),
    ]


def test_a_failing_batch_leaves_nothing_behind() -> None:
    with fresh_catalog() as catalog:
        journal = Journal(STATION)
        with catalog.begin() as conn:
            journal.append_many(conn, [_hold("a" * 64, "kept")])
        before = dump(catalog)
        bad = NewEntry(EntryType.HOLD, "a" * 64, {"action": "set"}, T0)  # no reason: refused by chain.entries
        with pytest.raises(EntryError, match="reason"), catalog.begin() as conn:
            journal.append_many(conn, [_hold("a" * 64, "lost"), _hold("b" * 64, "lost"), bad])
        assert dump(catalog) == before
        with catalog.begin() as conn:  # a stray node where the next leaf goes: the batch fails late
            conn.execute(log_nodes.insert().values(level=0, idx=1, hash=b"\0" * 32))
        before = dump(catalog)
        with pytest.raises(StorageError, match=r"(?i)unique"), catalog.begin() as conn:
            journal.append_many(conn, [_hold("c" * 64, "lost")])  # head bumped, entry inserted, then the node fails
        assert dump(catalog) == before
        with catalog.begin() as conn:
            conn.execute(log_nodes.delete().where(log_nodes.c.level == 0, log_nodes.c.idx == 1))
        with catalog.begin() as conn:  # and the log goes on densely from where it was
            assert journal.append_many(conn, [_hold("a" * 64, "next")]) == [1]


def test_an_empty_batch_appends_nothing() -> None:
    with fresh_catalog() as catalog:
        with catalog.begin() as conn:
            assert Journal(STATION).append_many(conn, []) == []
        assert dump(catalog)[3] == 0
