"""`evidock verify`: re-check everything an auditor relies on, and name every failure.

Trust starts from the verifier key and the checkpoints locked in the object
store, never from the database: the entries are re-hashed into a fresh tree
and must reproduce every stored checkpoint's root; the stored Merkle nodes (each one, and none missing),
the catalog rows and the objects are then compared with what the log says.

Each failure carries a check name and its subject (an entry index, a
recording id or an object key), so the report says exactly what to look at.

Decoding every entry (and proving its bytes canonical) is most of the work on a
long log, and each entry decodes on its own: from ``PARALLEL_FROM`` entries on,
chunks go to worker processes while this one reads the next chunk and does the
checks that need the log's order (density, custody chains, the rebuilt tree).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Connection, bindparam, func, select

from chain.checkpoint import Checkpoint
from chain.entries import Entry, EntryType, decode, parse_time
from chain.errors import ProofError
from chain.merkle import MemoryNodes
from chain.verify import EntrySummary, summarise_entries
from evidock.app import App, trust_policy
from evidock.verify_checkpoints import stored_checkpoints, unanchored_tail
from evidock.verify_derived import derived_objects
from evidock.verify_objects import recording_objects, staging_objects
from evidock.verify_outside_trust import GoodCheckpoint, outside_trust
from evidock.verify_report import Report
from retention.policy import Category, retain_until
from storage.checkpoints import PREFIX, parse_side_key
from storage.errors import StorageError
from storage.objects import StoredVersion
from storage.projection import PROJECTED, Replay, differences
from storage.schema import evidence, log_entries, log_head, log_nodes, purges, recordings
from storage.tombstones import PurgeState

LOG_BATCH = 5000  # entries read per query: memory stays flat on long logs
PARALLEL_FROM = 20_000  # entries; below this, starting worker processes costs more than it saves
MAX_WORKERS = 4


def verify(
    evi: App,
    vkey: str,
    *,
    deep: bool = False,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
    now: datetime | None = None,
) -> Report:
    """Check everything; ``workers``: processes decoding entries (default: by log size and CPUs; 0: none).

    ``now`` (default: the clock) is when the unanchored tail's age is measured.
    """
    report = Report()
    say = progress or (lambda _msg: None)
    say("checkpoints in the object store")
    listing = evi.store.listing(PREFIX)
    good: dict[int, GoodCheckpoint] = {}
    anchored = stored_checkpoints(evi, vkey, report, listing=listing, good=good)
    policy = trust_policy(evi.settings)
    if policy.active or any(parse_side_key(v.key) is not None for v in listing):
        say("witness cosignatures and timestamp tokens")
        outside_trust(evi.store, listing, good, policy, report, now=now or evi.now())
    say("log entries against the checkpoints")
    replay = Replay()
    with evi.catalog.read() as conn:
        _log(conn, anchored, report, replay, workers=workers)
        held = conn.execute(select(func.max(log_entries.c.idx))).scalar()
        unanchored_tail(evi, conn, anchored, 0 if held is None else int(held) + 1, report, now=now or evi.now())
        say("catalog against the log")
        rows = _catalog(conn, replay, report)
        say("every object in the bucket")
        stored = recording_objects(evi, conn, replay.ingested(), report)
        staging_objects(evi, conn, report)
    say("stored objects and their retention")
    _objects(evi, rows, stored, report, deep=deep)
    say("derived files (playback proxies, redacted copies)")
    derived_objects(evi, replay, report, deep=deep)
    return report


Row: TypeAlias = tuple[int, bytes, str, str | None]
"""A log entry's row: index, bytes, and the ``type`` and ``recording`` columns."""


def _entry_chunks(conn: Connection) -> Iterator[list[Row]]:
    last = -1
    while True:
        rows = conn.execute(
            select(log_entries.c.idx, log_entries.c.data, log_entries.c.type, log_entries.c.recording)
            .where(log_entries.c.idx > last)
            .order_by(log_entries.c.idx)
            .limit(LOG_BATCH)
        ).all()
        if not rows:
            return
        yield [(int(idx), bytes(data), kind, recording) for idx, data, kind, recording in rows]
        last = int(rows[-1][0])


def decode_workers(entries: int, workers: int | None = None) -> int:
    """How many processes decode a log of ``entries`` entries (``workers`` if given; 0: this process alone)."""
    if workers is not None:
        return workers
    if entries < PARALLEL_FROM:
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(MAX_WORKERS, cpus)


def _pool(workers: int) -> Executor | nullcontext[None]:
    """Worker processes, forked when that is safe (no other thread could hold a lock), else spawned."""
    if workers <= 0:
        return nullcontext()
    forkable = "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1
    context = multiprocessing.get_context("fork" if forkable else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _summaries(conn: Connection, workers: int) -> Iterator[tuple[list[Row], list[EntrySummary]]]:
    """Each chunk of rows with its entries' summaries, in log order; decoded in ``workers`` processes if any."""
    with _pool(workers) as pool:
        if pool is None:
            for rows in _entry_chunks(conn):
                yield rows, summarise_entries([data for _, data, _, _ in rows])
            return
        ahead: deque[tuple[list[Row], Future[list[EntrySummary]]]] = deque()
        for rows in _entry_chunks(conn):
            ahead.append((rows, pool.submit(summarise_entries, [data for _, data, _, _ in rows])))
            if len(ahead) > 2 * workers:  # bounded: memory stays flat however long the log
                yield _result(*ahead.popleft())
        while ahead:
            yield _result(*ahead.popleft())


def _result(rows: list[Row], future: Future[list[EntrySummary]]) -> tuple[list[Row], list[EntrySummary]]:
    try:
        return rows, future.result()
    except (BrokenProcessPool, OSError):  # a worker died (e.g. killed for memory): do its chunk here
        return rows, summarise_entries([data for _, data, _, _ in rows])


def _log(
    conn: Connection,
    anchored: list[tuple[str, Checkpoint]],
    report: Report,
    replay: Replay,
    *,
    workers: int | None = None,
) -> None:
    """Entries: dense, canonical, custody-linked, reproducing every checkpoint; each fed to ``replay`` in order."""
    head = int(conn.execute(select(log_head.c.size)).scalar_one())
    tree = MemoryNodes()
    pending = list(anchored)
    last_about: dict[str, int] = {}
    expected = 0
    for rows, summaries in _summaries(conn, decode_workers(head, workers)):
        report.count("entries", len(rows))
        for (idx, data, kind, recording), (leaf, summary) in zip(rows, summaries, strict=True):
            if idx != expected:
                report.fail("log_entry_missing", expected, f"entries {expected}..{idx - 1} are missing from the log")
            expected = idx + 1
            tree.append(leaf)
            while pending and pending[0][1].size == tree.size:
                _check_root(pending.pop(0), tree, report)
            if isinstance(summary, str):
                report.fail("log_entry_malformed", idx, summary)
                continue
            entry_type, about, prev = summary
            if entry_type != kind or about != recording:
                report.fail("log_entry_columns", idx, f"columns say {kind}/{recording}, the entry {entry_type}/{about}")
            if about is not None:
                if prev != last_about.get(about):
                    report.fail(
                        "custody_chain",
                        idx,
                        f"recording {about}: prev is {prev}, expected {last_about.get(about)}",
                    )
                last_about[about] = idx
            if replay.needs(entry_type, data):
                replay.apply(idx, decode(data))  # decoded again here: the workers return only summaries
    if head != tree.size:
        report.fail("log_head", head, f"the log head says {head} entries, the table holds {tree.size}")
    for key, checkpoint in pending:
        gone = checkpoint.size - tree.size
        missing = f"entries {tree.size}..{checkpoint.size - 1} are" if gone > 1 else f"entry {tree.size} is"
        report.fail(
            "log_truncated",
            key,
            f"{missing} missing from the end of the log: the signed checkpoint covers {checkpoint.size} entries, "
            f"the log holds {tree.size}",
        )
    _stored_nodes(conn, tree, report)


def _check_root(anchored: tuple[str, Checkpoint], tree: MemoryNodes, report: Report) -> None:
    key, checkpoint = anchored
    report.count("checkpoint_roots")
    if tree.root() != checkpoint.root:
        report.fail(
            "checkpoint_root_mismatch",
            key,
            f"the first {checkpoint.size} entries hash to {tree.root().hex()}, the signed checkpoint says "
            f"{checkpoint.root.hex()}: an entry up to index {checkpoint.size - 1} was changed, removed or reordered",
        )


_FIRST_LEVEL = select(func.min(log_nodes.c.level))
_NEXT_LEVEL = select(func.min(log_nodes.c.level)).where(log_nodes.c.level > bindparam("level"))
_NODES_FROM = (
    select(log_nodes.c.idx, log_nodes.c.hash)
    .where(log_nodes.c.level == bindparam("level"), log_nodes.c.idx > bindparam("after"))
    .order_by(log_nodes.c.idx)
    .limit(LOG_BATCH)
)


def _stored_nodes(conn: Connection, tree: MemoryNodes, report: Report) -> None:
    """The node table serves proofs; every node must equal the one rebuilt from the entries, and none may be missing.

    Read level by level, each in primary-key order from the last index seen:
    every page is one index seek (a keyset over both columns made SQLite scan
    from the start for every page, quadratic in the log's length). A tree of
    ``n`` leaves has ``n >> level`` complete nodes at each level; a level
    holding fewer (a deleted row) could not serve some proofs.
    """
    bad = 0
    held: dict[int, int] = {}  # level -> stored nodes the rebuilt tree has too
    level = conn.execute(_FIRST_LEVEL).scalar()
    while level is not None:
        after: int | None = None
        while True:
            if after is None:  # the level's first page: no lower bound, so stray negative indexes are seen too
                query = select(log_nodes.c.idx, log_nodes.c.hash).where(log_nodes.c.level == level)
                rows = conn.execute(query.order_by(log_nodes.c.idx).limit(LOG_BATCH)).all()
            else:
                rows = conn.execute(_NODES_FROM, {"level": level, "after": after}).all()
            if not rows:
                break
            keys = [(int(level), int(idx)) for idx, _ in rows]
            stored = [bytes(digest) for _, digest in rows]
            report.count("log_nodes", len(rows))
            after = keys[-1][1]
            rebuilt: list[bytes | None]
            try:
                rebuilt = list(tree.nodes(keys))
            except KeyError:  # a stored node the rebuilt tree does not have: name just those
                rebuilt = [_rebuilt_or_none(tree, key) for key in keys]
            held[int(level)] = held.get(int(level), 0) + sum(want is not None for want in rebuilt)
            if stored == rebuilt:  # the usual case: one comparison for the page
                continue
            for (at, idx), digest, want in zip(keys, stored, rebuilt, strict=True):
                if digest != want:
                    bad += 1
                    if bad <= 10:
                        report.fail(
                            "log_node_mismatch", f"node {at}/{idx}", "differs from the tree rebuilt from the entries"
                        )
        level = conn.execute(_NEXT_LEVEL, {"level": level}).scalar()
    for at in range(tree.size.bit_length()):
        expected = tree.size >> at
        missing = expected - held.get(at, 0)
        if missing > 0:
            report.fail(
                "log_node_missing", f"level {at}", f"{missing} of its {expected} nodes are not stored: proofs fail"
            )


def _rebuilt_or_none(tree: MemoryNodes, key: tuple[int, int]) -> bytes | None:
    try:
        return tree.nodes([key])[0]
    except KeyError:
        return None


def _catalog(conn: Connection, replay: Replay, report: Report) -> list[Any]:
    """Every projected table rebuilt from the entries and compared, column by column (storage.projection)."""
    checks = {
        "mismatch": "catalog_mismatch",
        "missing": "catalog_row_missing",
        "unexplained": "catalog_row_unexplained",
    }
    report.count("recordings", len(replay.rows[recordings.name]))
    report.count("catalog_rows", sum(len(replay.rows[p.table.name]) for p in PROJECTED))
    for difference in differences(conn, replay):
        report.fail(checks[difference.kind], f"{difference.table} {difference.row}", difference.message)
    return list(conn.execute(select(recordings).order_by(recordings.c.id)).all())


def _objects(evi: App, rows: list[Any], stored: dict[str, list[StoredVersion]], report: Report, *, deep: bool) -> None:
    """Each recording's object: its version there, alone, locked as the policy says (``stored``: the listing)."""
    policy = evi.settings.retention
    with evi.catalog.read() as conn:
        purged = {p.recording: p for p in conn.execute(select(purges))}
        held = {r for (r,) in conn.execute(select(evidence.c.recording).where(evidence.c.released_at.is_(None))).all()}
        purge_entries = {p.purge_entry: _entry_or_none(conn, p.purge_entry) for p in purged.values()}
        received = {row.id: _received(conn, row) for row in rows if row.end_raw is None}
    for row in rows:
        version = StoredVersion(row.object_key, row.version_id, row.size)
        tombstone = purged.get(row.id)
        if tombstone is not None:
            report.count("purged")
            _purged(evi, row, tombstone, purge_entries.get(tombstone.purge_entry), report)
            if tombstone.state == PurgeState.PURGED or not stored.get(row.object_key):
                continue
        report.count("objects")
        versions = stored.get(row.object_key, [])
        found = ", ".join(f"{v.version_id} ({v.size} bytes)" for v in versions) or "none"
        if all(v.version_id != row.version_id for v in versions):
            report.fail(
                "object_version_missing",
                f"{row.object_key} version {row.version_id}",
                f"recording {row.id}'s version (INGEST entry {row.ingest_entry}) is not in the bucket; found {found}",
            )
            continue
        try:
            if versions != [version]:
                report.fail("object_versions", row.object_key, f"expected only version {row.version_id}, found {found}")
            lock = evi.store.read_lock(version)
            basis = row.end_raw or received[row.id]
            floor = retain_until(basis, policy, Category.ORDINARY, now=row.ingested_at)
            wanted = max(row.retain_until, min(floor, row.retain_until))
            if lock.mode != "COMPLIANCE" or lock.retain_until is None or lock.retain_until < wanted:
                report.fail(
                    "retention",
                    row.object_key,
                    f"expected COMPLIANCE until at least {wanted.isoformat()}, the server has {lock.mode} until "
                    f"{lock.retain_until.isoformat() if lock.retain_until else 'nothing'}",
                )
            if row.id in held and not lock.legal_hold:
                report.fail("legal_hold", row.object_key, "the recording is evidence but the server has no legal hold")
            if row.retain_until < floor:
                report.fail(
                    "retention_policy",
                    row.id,
                    f"retain_until {row.retain_until.isoformat()} is before the art. 27 floor {floor.isoformat()}",
                )
            if deep:
                report.count("bytes_rehashed", row.size)
                digest, size = evi.store.fixity_sha256(version)
                if (digest, size) != (row.id, row.size):
                    report.fail(
                        "object_hash",
                        row.object_key,
                        f"stored bytes hash to {digest} ({size} bytes), the log says {row.id} ({row.size} bytes)",
                    )
        except StorageError as exc:
            report.fail("object_unreadable", row.object_key, str(exc))


def _purged(evi: App, row: Any, tombstone: Any, entry: Entry | None, report: Report) -> None:
    """A purged recording: its PURGE entry came first, and (once purged) no version is left."""
    if entry is None or entry.type is not EntryType.PURGE or entry.recording != row.id:
        report.fail("purge_without_entry", row.id, f"tombstone names entry {tombstone.purge_entry}, no PURGE entry")
    elif (entry.body.get("object_key"), entry.body.get("version_id")) != (row.object_key, row.version_id):
        report.fail("purge_mismatch", row.id, f"PURGE entry {tombstone.purge_entry} names another object")
    if tombstone.state == PurgeState.PURGED:
        left = evi.store.versions(row.object_key)
        if left:
            report.fail("purge_incomplete", row.object_key, f"marked purged but {len(left)} version(s) remain")


def _received(conn: Connection, row: Any) -> datetime:
    """When the station received a recording without an end time: the ingest's retention basis for it.

    The pipeline runs retention from the later of the claimed end and the receipt
    (ingest.pipeline ``_retain_until``); with no end, from the receipt alone, which
    the INGEST entry records. ``ingested_at`` is later (the upload came between),
    so a floor from it would call a correct retain-until short by those seconds.
    """
    fallback: datetime = row.ingested_at  # a broken entry: the log and projection checks name it
    entry = _entry_or_none(conn, row.ingest_entry)
    raw = entry.body.get("received_at") if entry is not None else None
    try:
        return parse_time(raw) if isinstance(raw, str) else fallback
    except ProofError:
        return fallback


def _entry_or_none(conn: Connection, index: int) -> Entry | None:
    data = conn.execute(select(log_entries.c.data).where(log_entries.c.idx == index)).scalar()
    try:
        return decode(bytes(data)) if data is not None else None
    except ProofError:
        return None


def _second(moment: datetime | None) -> datetime | None:
    return moment.replace(microsecond=0) if moment else None


def _parsed(text: object) -> datetime | None:
    return parse_time(text) if isinstance(text, str) else None
