"""Is the station able to do its job right now? The facts behind ``/health``.

``degraded`` (with one reason per fault) when the catalog cannot be read, the
object store cannot be reached or its bucket lacks Object Lock, a docked file
has waited longer than ``health.waiting_limit_minutes`` to be stored,
verified, logged and released, or a disk the station writes to (the catalog's,
the watch folders', the release folder's) has less than ``health.min_free_mib``
free. Each check stands alone: one failing never hides another.

The reasons name folders and the bucket, which is not for everyone: the
route shows them only to an authenticated caller.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chain.errors import EvidockError
from evidock.app import App
from evidock.text import one_line, shown
from storage import journal
from storage.ingest_stats import ingest_stats
from storage.status import latest_checkpoint

MIB = 1024 * 1024


@dataclass
class Health:
    reasons: list[str] = field(default_factory=list)  # empty: ok
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "degraded" if self.reasons else "ok"


def check(evi: App, *, now: datetime) -> Health:
    health = Health()
    _catalog(evi, now, health)
    _object_store(evi, health)
    _disks(evi, health)
    return health


def _catalog(evi: App, now: datetime, health: Health) -> None:
    limit = evi.settings.health.waiting_limit_minutes * 60
    try:
        with evi.catalog.read() as conn:
            size = journal.size(conn)
            checkpoint = latest_checkpoint(conn)
            stats = ingest_stats(conn, now=now)
    except EvidockError as exc:
        health.reasons.append(f"catalog: {one_line(str(exc))[:300]}")
        health.checks["database"] = {"ok": False, "error": one_line(str(exc))[:300]}
        return
    health.checks["database"] = {"ok": True, "log_size": size}
    health.checks["checkpoint"] = {
        "size": checkpoint[0] if checkpoint else None,
        "age_seconds": round((now - checkpoint[1]).total_seconds(), 1) if checkpoint else None,
        "entries_since": size - (checkpoint[0] if checkpoint else 0),
    }
    waiting = stats.oldest_waiting_age(now)
    health.checks["ingest"] = {
        "queue": stats.queue,
        "oldest_waiting_seconds": round(waiting, 1),
        "waiting_limit_seconds": limit,
        "failed": stats.failed,
        "quarantined": stats.quarantined,
    }
    if waiting > limit:
        health.reasons.append(
            f"ingest: the oldest waiting file was received {waiting / 60:.0f} min ago "
            f"(limit {limit / 60:g} min); {stats.queue} file(s) wait"
        )


def _object_store(evi: App, health: Health) -> None:
    try:
        bucket = evi.store.inspect_bucket()
    except EvidockError as exc:
        health.reasons.append(f"object store: {one_line(str(exc))[:300]}")
        health.checks["object_store"] = {"ok": False, "error": one_line(str(exc))[:300]}
        return
    ok = bucket.exists and bucket.versioning == "Enabled" and bucket.object_lock
    health.checks["object_store"] = {"ok": ok, "bucket": bucket.bucket, "object_lock": bucket.object_lock}
    if not ok:
        health.reasons.append(
            f"object store: bucket {bucket.bucket!r} exists={bucket.exists} versioning={bucket.versioning} "
            f"object_lock={bucket.object_lock}"
        )


def watched_disks(evi: App) -> list[Path]:
    """The folders whose disks the station writes to: the catalog's, the watch folders, the release folder."""
    s = evi.settings
    paths = list(s.watch.folders)
    if s.database_url.startswith("sqlite:///"):
        paths.insert(0, Path(s.database_url.removeprefix("sqlite:///")).parent)
    if s.watch.move_to is not None and s.watch.after_verify.value == "move":
        paths.append(s.watch.move_to)
    return paths


def _disks(evi: App, health: Health) -> None:
    floor = evi.settings.health.min_free_mib
    disks: dict[str, Any] = {}
    for path in watched_disks(evi):
        existing = next((p for p in (path, *path.parents) if p.exists()), path)
        try:
            free = os.statvfs(existing)
        except OSError as exc:
            health.reasons.append(f"disk: cannot read the free space of {shown(path)}: {exc.strerror}")
            continue
        free_mib = free.f_bavail * free.f_frsize // MIB
        disks[shown(path)] = {"free_mib": free_mib}
        if free_mib < floor:
            health.reasons.append(f"disk: {shown(path)} has {free_mib} MiB free (below {floor} MiB)")
    health.checks["disks"] = {"min_free_mib": floor, "free": disks}
