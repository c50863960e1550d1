"""Make one derived file: read the original, run the recorded ffmpeg command, store, lock, read back, log.

In this order, so that nothing is logged that is not stored and checked:

1. the original is read from the object store into a private temporary
   folder and its SHA-256 compared with the recording's (the system's own
   read, not a person's: no ACCESS entry; the DERIVED entry records it);
2. ffmpeg runs the recipe's arguments at low priority;
3. the output is hashed and stored under ``derived/<original>/<hex>`` (an
   identical earlier upload is reused: the arguments are repeatable, so the
   same recipe gives the same bytes), locked COMPLIANCE until the original's
   retain-until (never later: a derived file is retained no longer than its
   original, and purge deletes it with the original), and read back;
4. the DERIVED entry and the ``derived_files`` row are written in one
   transaction (with whatever the caller adds to it: a redaction marked
   rendered).

A crash before step 4 leaves at most an object that no entry names; the next
attempt finds it by its key and adopts it (``verify`` names it meanwhile,
unless a proxy job says it is in progress).
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection

from cases.evidence import designations
from chain.entries import EntryType
from derived.ffmpeg import RunOptions, ffmpeg_version, run
from storage.catalog import Catalog
from storage.derived import DerivedFile, DerivedKind, add_derived, derived_key
from storage.errors import NotFound, StorageError
from storage.journal import Journal
from storage.objects import ObjectStore, StoredVersion
from storage.recordings import Recording
from storage.tombstones import tombstone

log = logging.getLogger(__name__)

HASH_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Recipe:
    """What to make and on whose word: the ffmpeg arguments (``derived.recipes``) and the people."""

    kind: DerivedKind
    arguments: tuple[str, ...]
    requested_by: str
    approved_by: str | None = None
    redaction: int | None = None
    spec_sha256: str | None = None
    made_by: str | None = None  # who had it rendered (a redacted copy); None for the station's own proxies


@dataclass
class Maker:
    """Makes derived files of one station's originals (see the module docstring for the order of steps)."""

    catalog: Catalog
    journal: Journal
    store: ObjectStore
    run_options: RunOptions = field(default_factory=RunOptions)
    work_dir: Path | None = None  # temporary copies go here (None: the system's temporary folder)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def make(
        self,
        recording: Recording,
        recipe: Recipe,
        *,
        progress: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        paused: Callable[[], bool] = lambda: False,
        heartbeat: Callable[[], None] | None = None,
        uploaded: Callable[[StoredVersion], None] | None = None,
        also: Callable[[Connection, int], None] | None = None,
    ) -> DerivedFile:
        """Make, store and log the derived file of ``recording`` by ``recipe``; see the module docstring.

        ``uploaded(version)`` is told the stored object before its entry is
        written; ``also(conn, entry)`` runs in the entry's transaction;
        ``should_stop``, ``paused`` and ``heartbeat`` go to ffmpeg (``derived.ffmpeg.run``).
        """
        with tempfile.TemporaryDirectory(prefix="evidock-derive-", dir=self.work_dir) as folder:
            work = Path(folder)
            source = work / f"original{_suffix(recording.original_name)}"
            self._fetch(recording, source)
            target = work / "derived.mp4"
            run(recipe.arguments, source=source, target=target, options=self.run_options, progress=progress,
                should_stop=should_stop, paused=paused, heartbeat=heartbeat)  # fmt: skip
            sha256, size = _hash(target)
            version = self._store(recording.id, target, sha256, size)
        until = self._lock_until(recording)
        if until is not None:
            self.store.lock(version, until)
        read, read_size = self.store.fixity_sha256(version)
        if (read, read_size) != (sha256, size):
            raise StorageError(
                f"the stored derived file {version.key} (version {version.version_id}) reads back as {read} "
                f"({read_size} bytes), not the {sha256} ({size} bytes) ffmpeg wrote; nothing was logged"
            )
        if uploaded is not None:
            uploaded(version)
        now = self.clock()
        body: dict[str, object] = {
            "kind": recipe.kind.value,
            "original_sha256": recording.id,
            "sha256": sha256,
            "size": size,
            "object_key": version.key,
            "version_id": version.version_id,
            "ffmpeg": ffmpeg_version(),
            "arguments": list(recipe.arguments),
            "requested_by": recipe.requested_by,
            "approved_by": recipe.approved_by,
            "retain_until": until,
            "redaction": recipe.redaction,
            "spec_sha256": recipe.spec_sha256,
        }
        if recipe.made_by is not None:
            body["made_by"] = recipe.made_by
        with self.catalog.begin() as conn:
            if tombstone(conn, recording.id) is not None:
                raise NotFound(f"recording {recording.id[:12]} was purged meanwhile; its derived file is not logged")
            entry = self.journal.append(conn, EntryType.DERIVED, recording=recording.id, body=body, time=now)
            made = DerivedFile(
                entry=entry,
                recording=recording.id,
                kind=recipe.kind,
                sha256=sha256,
                size=size,
                object_key=version.key,
                version_id=version.version_id,
                retain_until=until,
                ffmpeg=ffmpeg_version(),
                arguments=list(recipe.arguments),
                redaction=recipe.redaction,
                spec_sha256=recipe.spec_sha256,
                requested_by=recipe.requested_by,
                approved_by=recipe.approved_by,
                made_at=now,
            )
            add_derived(conn, made)
            if also is not None:
                also(conn, entry)
        log.info("DERIVED %s of %s: %s (%d bytes), entry %d", recipe.kind.value, recording.id[:12], sha256, size, entry)
        return made

    def _fetch(self, recording: Recording, target: Path) -> None:
        """The original's bytes into ``target``, checked against its SHA-256."""
        with self.catalog.read() as conn:
            gone = tombstone(conn, recording.id)
        if gone is not None:
            raise NotFound(
                f"recording {recording.id[:12]} was purged (PURGE entry {gone.purge_entry}); nothing to derive from it"
            )
        version = StoredVersion(recording.object_key, recording.version_id, recording.size)
        with target.open("wb") as sink:
            digest, size = self.store.read_into(version, sink)
        if (digest, size) != (recording.id, recording.size):
            raise StorageError(
                f"the stored original of recording {recording.id} reads as {digest} ({size} bytes); "
                "nothing is derived from it: run `evidock verify --deep`"
            )

    def _store(self, original: str, path: Path, sha256: str, size: int) -> StoredVersion:
        """Upload under the content key, or adopt an identical version already there (an interrupted attempt)."""
        key = derived_key(original, sha256)
        for version in self.store.versions(key):
            if version.size == size and self.store.fixity_sha256(version) == (sha256, size):
                return version
        with path.open("rb") as stream:
            return self.store.upload(key, stream, size, metadata={"evidock-derived": "1"})

    def _lock_until(self, recording: Recording) -> datetime | None:
        """The original's retain-until (evidence included), or None once it has passed: never longer than it."""
        with self.catalog.read() as conn:
            held = [d.retain_until for d in designations(conn, recording.id)]
        until = max([recording.retain_until, *held])
        return until if until > self.clock() else None


def _suffix(name: str) -> str:
    """The original's file-name suffix, if it is a plain one (ffmpeg's probe does not need it; people reading do)."""
    suffix = Path(name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ".bin"


def _hash(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
