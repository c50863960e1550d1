"""`evidock verify`, derived files: each DERIVED entry's object is there, locked, and no longer kept than its original.

The rows of ``derived_files`` are already compared with the DERIVED entries
(``storage.projection``); here the bucket is compared with them:

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

from cases.evidence import evidence_retain_until
from evidock.app import App
from evidock.verify_report import Report
from storage.derived import DERIVED_PREFIX, DerivedFile, all_derived
from storage.errors import StorageError
from storage.objects import StoredVersion
from storage.proxy_jobs import uploads_in_progress
from storage.recordings import get
from storage.tombstones import PurgeState, tombstones


def derived_objects(evi: App, report: Report, *, deep: bool) -> None:
    with evi.catalog.read() as conn:
        made = all_derived(conn)
        in_progress = uploads_in_progress(conn)
        purged = {t.recording: t for t in tombstones(conn)}
        held_until = evidence_retain_until(conn)
        originals = {rid: get(conn, rid) for rid in {d.recording for d in made}}
    try:
        stored = _listing(evi, {(d.object_key, d.version_id) for d in made}, in_progress, report)
    except StorageError as exc:
        report.fail("derived_unreadable", DERIVED_PREFIX, str(exc))
        return
    for item in made:
        subject = f"{item.object_key} version {item.version_id}"
        versions = stored.get(item.object_key, [])
        tomb = purged.get(item.recording)
        if tomb is not None and tomb.state is PurgeState.PURGED:
            if versions:
                report.fail(
                    "derived_not_purged",
                    subject,
                    f"recording {item.recording[:12]} was purged (PURGE entry {tomb.purge_entry}) but its "
                    f"{item.kind.value} (DERIVED entry {item.entry}) is still stored",
                )
            continue
        report.count("derived_files")
        if all(v.version_id != item.version_id for v in versions):
            report.fail("derived_missing", subject, f"the {item.kind.value} of DERIVED entry {item.entry} is gone")
            continue
        if len(versions) > 1:
            found = ", ".join(v.version_id for v in versions)
            report.fail("derived_versions", item.object_key, f"expected only version {item.version_id}, found {found}")
        original = originals.get(item.recording)
        if original is not None and item.retain_until is not None:
            longest = max(original.retain_until, held_until.get(item.recording, original.retain_until))
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


def _stored_as_logged(evi: App, item: DerivedFile, report: Report, *, deep: bool) -> None:
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
