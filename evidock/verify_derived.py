"""`evidock verify`, derived files: each DERIVED entry's object is there, locked, and no longer kept than its original.

The rows of ``derived_files`` are compared with the DERIVED entries by the
projection (``storage.projection``); here the bucket is compared with the
entries themselves (the replay), never with the catalog:

* every version under ``derived/`` is named by a DERIVED entry (or is a proxy
  job's upload whose entry is not written yet); anything else is named;
* each derived file of a live original is there, alone under its key, locked
  COMPLIANCE at least until its logged retain-until, which is never after its
  original's (art. 27: a derived file is retained no longer than its original);
  with ``--deep`` its bytes are re-hashed against the entry's SHA-256;
* once its original is purged, no version of it is left.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from cases.evidence import evidence_retain_until
from evidock.app import App
from evidock.verify_report import Report
from storage.derived import DERIVED_PREFIX
from storage.errors import StorageError
from storage.objects import StoredVersion
from storage.projected import Second
from storage.projection import Replay
from storage.proxy_jobs import uploads_in_progress
from storage.schema import derived_files, purges, recordings
from storage.tombstones import PurgeState


@dataclass(frozen=True)
class _Logged:
    """One derived file as its DERIVED entry says."""

    entry: int
    recording: str
    kind: str
    sha256: str
    size: int
    object_key: str
    version_id: str
    retain_until: datetime | None


def _logged(replay: Replay) -> list[_Logged]:
    made = []
    for row in replay.rows[derived_files.name].values():
        v = row.values
        until = v["retain_until"]
        made.append(
            _Logged(
                entry=int(v["entry"]),
                recording=str(v["recording"]),
                kind=str(v["kind"]),
                sha256=str(v["sha256"]),
                size=int(v["size"]) if isinstance(v["size"], int) else 0,
                object_key=str(v["object_key"]),
                version_id=str(v["version_id"]),
                retain_until=until.moment if isinstance(until, Second) else None,
            )
        )
    return made


def derived_objects(evi: App, replay: Replay, report: Report, *, deep: bool) -> None:
    made = _logged(replay)
    with evi.catalog.read() as conn:
        in_progress = uploads_in_progress(conn)
        tombs = select(purges.c.recording, purges.c.state, purges.c.purge_entry)
        purged = {r: (state, entry) for r, state, entry in conn.execute(tombs)}
        held_until = evidence_retain_until(conn)
        originals = select(recordings.c.id, recordings.c.retain_until).where(
            recordings.c.id.in_({d.recording for d in made})
        )
        ingest_until = {str(rid): until for rid, until in conn.execute(originals)}
    try:
        stored = _listing(evi, {(d.object_key, d.version_id) for d in made}, in_progress, report)
    except StorageError as exc:
        report.fail("derived_unreadable", DERIVED_PREFIX, str(exc))
        return
    for item in made:
        subject = f"{item.object_key} version {item.version_id}"
        versions = stored.get(item.object_key, [])
        state, purge_entry = purged.get(item.recording, (None, None))
        if state == PurgeState.PURGED.value:
            if versions:
                report.fail(
                    "derived_not_purged",
                    subject,
                    f"recording {item.recording[:12]} was purged (PURGE entry {purge_entry}) but its "
                    f"{item.kind} (DERIVED entry {item.entry}) is still stored",
                )
            continue
        report.count("derived_files")
        if all(v.version_id != item.version_id for v in versions):
            report.fail("derived_missing", subject, f"the {item.kind} of DERIVED entry {item.entry} is gone")
            continue
        if len(versions) > 1:
            found = ", ".join(v.version_id for v in versions)
            report.fail("derived_versions", item.object_key, f"expected only version {item.version_id}, found {found}")
        original_until = ingest_until.get(item.recording)
        if original_until is not None and item.retain_until is not None:
            longest = max(original_until, held_until.get(item.recording, original_until))
            if item.retain_until > longest:
                report.fail(
                    "derived_outlives_original",
                    subject,
                    f"locked until {item.retain_until.isoformat()}, after its original's {longest.isoformat()}",
                )
        try:
            _stored_as_logged(evi, item, report, deep=deep)
        except StorageError as exc:
            report.fail("derived_unreadable", subject, str(exc))


def _listing(
    evi: App, named: set[tuple[str, str]], in_progress: set[tuple[str, str]], report: Report
) -> dict[str, list[StoredVersion]]:
    """Every version under ``derived/``, by key; those no DERIVED entry or proxy job in progress explains are named."""
    stored: dict[str, list[StoredVersion]] = defaultdict(list)
    for listed in evi.store.listing(DERIVED_PREFIX):
        subject = f"{listed.key} version {listed.version_id}"
        if listed.delete_marker:
            report.fail("derived_delete_marker", subject, "a delete marker over a derived file's key")
            continue
        stored[listed.key].append(listed.version)
        if (listed.key, listed.version_id) in named:
            continue
        if (listed.key, listed.version_id) in in_progress:
            report.count("derived_in_progress")
            continue
        report.fail(
            "derived_unexplained",
            subject,
            f"{listed.size} bytes under {DERIVED_PREFIX} that no DERIVED entry and no proxy job in progress names",
        )
    return stored


def _stored_as_logged(evi: App, item: _Logged, report: Report, *, deep: bool) -> None:
    """The object's lock (and, ``deep``, its bytes) as its DERIVED entry says."""
    subject = f"{item.object_key} version {item.version_id}"
    version = StoredVersion(item.object_key, item.version_id, item.size)
    if item.retain_until is not None:
        lock = evi.store.read_lock(version)
        if lock.mode != "COMPLIANCE" or lock.retain_until is None or lock.retain_until < item.retain_until:
            report.fail(
                "derived_retention",
                subject,
                f"expected COMPLIANCE until {item.retain_until.isoformat()} (DERIVED entry {item.entry}), "
                f"the server has {lock.mode} until {lock.retain_until.isoformat() if lock.retain_until else 'nothing'}",
            )
    if deep:
        report.count("bytes_rehashed", item.size)
        digest, size = evi.store.fixity_sha256(version)
        if (digest, size) != (item.sha256, item.size):
            report.fail(
                "derived_hash",
                subject,
                f"stored bytes hash to {digest} ({size} bytes); DERIVED entry {item.entry} says "
                f"{item.sha256} ({item.size} bytes)",
            )
