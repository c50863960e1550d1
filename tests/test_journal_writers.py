"""Two processes append to one catalog at once: one dense log, one Merkle tree, unbroken custody chains.

And stations starting at once on an empty catalog all open it (one of them creates the schema).

Many stations share one PostgreSQL catalog (run with ``EVIDOCK_TEST_DATABASE=postgresql``); on SQLite the
same holds for two processes on one file. Each writer appends its entries one transaction at a time through
``storage.journal``, about recordings the other writer also logs, so their appends and custody chains interleave.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import select, text

from chain.checkpoint import Checkpoint, generate_skey, parse_skey, sign_checkpoint, verify_note, vkey_of
from chain.entries import EntryType, decode
from chain.merkle import MemoryNodes, root
from chain.verify import verify_log
from storage import migrations
from storage.catalog import Catalog, open_engine
from storage.journal import Journal, SqlNodes
from storage.schema import log_entries, log_head, log_nodes
from tests.conftest import ON_POSTGRESQL, catalog_url

WRITERS = ("dock-a", "dock-b")
EACH = 500
RECORDINGS = [c * 64 for c in "0123"]  # logged by both writers
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
ORIGIN = "evidock.test/writers"


def _write(url: str, station: str, start: Barrier) -> None:
    """One writer process: ``EACH`` HOLD entries, one transaction each, numbered in its own order."""
    catalog = Catalog(open_engine(url))
    journal = Journal(station)
    start.wait(timeout=60)
    for n in range(EACH):
        with catalog.begin() as conn:
            journal.append(
                conn,
                EntryType.HOLD,
                recording=RECORDINGS[n % len(RECORDINGS)],
                body={"action": "set", "reason": f"{station} {n}"},
                time=T0,
            )
    catalog.close()


def test_two_writers_make_one_dense_log_with_one_tree(tmp_path: Path) -> None:
    url = catalog_url(tmp_path)
    Catalog.open(url).close()  # the schema exists before the stations start, as after an upgrade
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter each, like two stations
    start = spawn.Barrier(len(WRITERS))
    writers = [spawn.Process(target=_write, args=(url, station, start)) for station in WRITERS]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=240)
        assert writer.exitcode == 0, f"a writer failed (exit code {writer.exitcode}); see its output above"

    catalog = Catalog.open(url)
    with catalog.read() as conn:
        indexes = list(conn.execute(select(log_entries.c.idx).order_by(log_entries.c.idx)).scalars())
        data = [bytes(d) for d in conn.execute(select(log_entries.c.data).order_by(log_entries.c.idx)).scalars()]
        size = int(conn.execute(select(log_head.c.size)).scalar_one())
        stored = {(int(lv), int(i)): bytes(h) for lv, i, h in conn.execute(select(log_nodes))}
        stored_root = root(size, SqlNodes(conn))
    catalog.close()

    # Dense: every index once, nothing reserved and left empty.
    total = EACH * len(WRITERS)
    assert size == total
    assert indexes == list(range(total))

    # Each writer's entries in its own order, and the two really wrote at the same time (or this proves
    # nothing): each one's entries begin before the other's end. (PostgreSQL queues the row lock, so their
    # entries alternate; SQLite's busy handler is not fair, so one writer may run long stretches alone.)
    entries = [decode(raw) for raw in data]
    spans: dict[str, tuple[int, int]] = {}
    for station in WRITERS:
        mine = [i for i, e in enumerate(entries) if e.station == station]
        assert [entries[i].body["reason"] for i in mine] == [f"{station} {n}" for n in range(EACH)]
        spans[station] = (mine[0], mine[-1])
    (a_first, a_last), (b_first, b_last) = spans.values()
    if ON_POSTGRESQL:  # on SQLite the busy handler may let one writer finish alone (seen under load): no proof
        assert a_first < b_last, f"the writers did not overlap: {spans}"
        assert b_first < a_last, f"the writers did not overlap: {spans}"

    # One tree: the stored nodes are exactly those of the entries, and its root is the entries' root.
    tree = MemoryNodes.from_entries(data)
    keys = [(lv, i) for lv in range(total.bit_length()) for i in range(total >> lv)]
    assert stored == dict(zip(keys, tree.nodes(keys), strict=True))
    assert stored_root == tree.root()

    # A checkpoint signed over it verifies against the entries, custody chains included
    # (each entry's prev is the last entry about its recording, whichever writer made it).
    skey = generate_skey(ORIGIN)
    note = sign_checkpoint(Checkpoint(ORIGIN, size, stored_root), parse_skey(skey))
    assert verify_log(data, verify_note(note, vkey_of(skey), origin=ORIGIN)).root() == stored_root


def _open(url: str, start: Barrier) -> None:
    start.wait(timeout=60)
    Catalog.open(url).close()


def test_stations_starting_at_once_on_an_empty_catalog_all_open_it(tmp_path: Path) -> None:
    url = catalog_url(tmp_path)
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(4)
    stations = [spawn.Process(target=_open, args=(url, start)) for _ in range(4)]
    for station in stations:
        station.start()
    for station in stations:
        station.join(timeout=120)
    assert [s.exitcode for s in stations] == [0, 0, 0, 0], "a station failed to open the new catalog"
    catalog = Catalog.open(url)
    with catalog.read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [migrations.head()]
        assert conn.execute(select(log_head.c.size)).scalars().all() == [0]
    catalog.close()
