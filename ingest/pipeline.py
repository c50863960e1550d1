"""One docked file → one verified, WORM-locked, logged recording.

The steps follow ``storage.receipts.State``; each state is committed before
the next step starts, and each step is idempotent, so a crash (even ``kill -9``
or a power cut) at any moment resumes without loss and without duplicates:

1. **hash**: read the file once for its SHA-256 (from the page cache, ~1.3 GB/s),
   which names its key ``sha256/ab/cd/<hex>``;
2. **store**: upload it straight to that key (multipart: nothing is visible
   there until the last part is in), unless the key already holds it (a crash
   after the upload, or the same content docked before);
3. **verify**: re-read the stored version from the server and compare hash and
   size. A mismatch (the file changed between its two reads, or the transfer
   broke it) is deleted, never locked: it was not yet under retention;
4. **lock**: set COMPLIANCE retain-until on that exact version and read it back;
5. **log**: recording row + INGEST entry + receipt state, one transaction;
6. **release**: keep, move or delete the dock copy, and only if it is still
   the very file that was stored (inode, size, mtime unchanged).

Several files may be in flight at once (``evidock.runner``), each one state at
a time. Two rules keep them apart: one catalog writer at a time per pipeline
(every state change and INGEST transaction takes ``_writing``), and one receipt
at a time per content (from its upload to its INGEST entry), so the same
bytes docked twice at once make one object, one recording and a duplicate.

Media problems never block storage: a corrupt or non-media file is stored
and noted (findings come from the checks).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection

from chain.entries import EntryType, original_name_fields
from ingest.checking import CheckOptions, device_findings, file_findings, log_clock_report, record
from ingest.clock import ClockReport
from ingest.clock_sidecar import CLOCK_SIDECAR_SUFFIX, parse_clock_sidecar
from ingest.filenames import NameFacts, NamePattern, parse_name
from ingest.findings import Finding
from ingest.hashing import digest_file
from ingest.partials import superseded_partial_finding
from ingest.probe import MediaFacts, PacketScan, probe
from ingest.watcher import DockedFile
from storage import receipts as receipts_db
from storage import recordings as recordings_db
from storage.catalog import Catalog
from storage.errors import StorageError
from storage.journal import Journal
from storage.objects import ObjectStore, StoredVersion, content_key
from storage.receipts import CLAIMED, FINISHED, Receipt, State
from storage.tombstones import tombstone

log = logging.getLogger(__name__)

COPY_CHUNK = 1024 * 1024  # bytes per read when a move crosses filesystems


class AfterVerify(StrEnum):
    """What happens to the dock's copy once the stored copy is verified."""

    KEEP = "keep"
    MOVE = "move"
    DELETE = "delete"


@dataclass(frozen=True)
class PipelineOptions:
    station: str
    retain_until: Callable[[datetime], datetime]  # recording end -> retain-until (retention policy)
    patterns: Sequence[NamePattern]
    timezone: tzinfo
    after_verify: AfterVerify = AfterVerify.KEEP
    move_to: Path | None = None
    checks: CheckOptions = field(default_factory=CheckOptions)


@dataclass(frozen=True)
class Outcome:
    receipt: Receipt
    recording: str | None
    duplicate: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        return {
            "path": os.fsencode(self.receipt.path).decode("utf-8", "backslashreplace"),
            "receipt": self.receipt.id,
            "state": self.receipt.state.value,
            "recording": self.recording,
            "duplicate": self.duplicate,
            "error": self.receipt.error,
            "notes": list(self.notes),
        }


class _Identity(NamedTuple):
    start: datetime | None  # device clock, as recorded
    end: datetime | None
    named: NameFacts | None
    media: MediaFacts


@dataclass
class _Flight:
    """What one run of one receipt learns on the way; dropped when the run ends (memory stays flat).

    After a crash nothing of it survives: each step that needs it works it out again.
    """

    identity: _Identity | None = None
    probing: threading.Thread | None = None  # the header probe, beside the hash and the upload
    scan: PacketScan | None = None  # the deep scan, beside the hash and the upload, read when logging
    prefixes: dict[int, str] | None = None  # earlier file's size -> SHA-256 of that prefix of this one


class DockFileUnreadable(OSError):
    """Reading the dock file failed mid-upload (a bad card, a pulled disk): this file is quarantined."""


class FileChanged(StorageError):
    """The dock file changed while it was being stored; it is taken again once stable."""


class Pipeline:
    def __init__(
        self,
        *,
        store: ObjectStore,
        catalog: Catalog,
        journal: Journal,
        options: PipelineOptions,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.journal = journal
        self.options = options
        self.now = now
        self._writing = threading.Lock()  # one catalog writer at a time (see the module's docstring)
        self._claims = threading.Condition()
        self._claimed: set[str] = set()  # SHA-256 of the contents some run is storing now

    # -- entry points ------------------------------------------------------

    def accept(self, file: DockedFile) -> Receipt | None:
        """The receipt for this exact file (existing or new); None if it was already finished."""
        relative = file.relative
        with self._write() as conn:
            found = receipts_db.find(
                conn,
                station=self.options.station,
                folder=file.folder,
                relative=relative,
                size=file.size,
                mtime_ns=file.mtime_ns,
            )
            if found is not None:
                return None if found.state in FINISHED else found
            return receipts_db.create(
                conn,
                station=self.options.station,
                folder=file.folder,
                relative=relative,
                size=file.size,
                mtime_ns=file.mtime_ns,
                inode=file.inode,
                now=self.now(),
            )

    def is_finished(self, file: DockedFile) -> bool:
        """True when this exact file (path, size, mtime) was already released, failed or quarantined."""
        with self.catalog.read() as conn:
            found = receipts_db.find(
                conn,
                station=self.options.station,
                folder=file.folder,
                relative=file.relative,
                size=file.size,
                mtime_ns=file.mtime_ns,
            )
        return found is not None and found.state in FINISHED

    def ingest(self, file: DockedFile, progress: Callable[[int], None] | None = None) -> Outcome | None:
        receipt = self.accept(file)
        if receipt is None:
            return None
        return self.run(receipt, progress)

    def resume(self) -> list[Outcome]:
        """Finish every receipt a crash left unfinished (call at start-up, before scanning)."""
        return [self.run(r) for r in self.unfinished()]

    def resume_one(self, receipt: Receipt) -> Outcome | None:
        """Finish ``receipt`` from its state in the catalog now; None if it was finished meanwhile."""
        with self.catalog.read() as conn:
            current = receipts_db.get(conn, receipt.id)
        return None if current.state in FINISHED else self.run(current)

    def unfinished(self) -> list[Receipt]:
        """This station's receipts a crash or a storage error left before a finished state, oldest first."""
        with self.catalog.read() as conn:
            return receipts_db.unfinished(conn, self.options.station)

    def run(self, receipt: Receipt, progress: Callable[[int], None] | None = None) -> Outcome:
        """Drive one receipt from its current state to RELEASED (or FAILED / QUARANTINED, with the reason).

        A ``StorageError`` (object store or catalog down) is about the station, not this file: it is
        raised and the receipt resumes later. Any other error is about this one file (an OS error
        moving its dock copy, a name the target folder cannot hold, a bug met by its content): the
        receipt is quarantined with the error, so the service goes on and no restart retries it.
        """
        notes: tuple[str, ...] = ()
        flight = _Flight()
        try:
            if receipt.staging_key:
                receipt = self._leave_copy_era(receipt)
            if receipt.state is State.RECEIVED:
                receipt = self._hash(receipt, flight)
            if receipt.state in CLAIMED:
                with self._claim(_known(receipt.sha256, receipt)):
                    receipt, notes = self._to_recording(receipt, flight, progress)
            if receipt.state is State.LOGGED:
                receipt = self._release(receipt)
        except FileChanged as exc:
            receipt = self._fail(receipt, str(exc))
        except StorageError as exc:
            # Left in its state: the next resume retries from here. Nothing is lost.
            log.error("ingest of %r stopped at %s: %s", os.fspath(receipt.path), receipt.state, exc)
            raise
        except Exception as exc:
            receipt = self._quarantine(receipt, exc)
        finally:
            if flight.scan is not None:
                flight.scan.cancel()  # not read: the run stopped before logging
        return Outcome(receipt, receipt.recording, receipt.duplicate, notes)

    # -- steps ---------------------------------------------------------------

    def _to_recording(
        self, receipt: Receipt, flight: _Flight, progress: Callable[[int], None] | None
    ) -> tuple[Receipt, tuple[str, ...]]:
        """From ``hashed`` (or wherever a crash left it) to ``logged``, holding the content's claim."""
        if receipt.state is State.HASHED:
            receipt = self._store(receipt, progress)
        if receipt.state is State.STORED:
            receipt = self._verify(receipt)
        if receipt.state is State.VERIFIED:
            receipt = self._lock(receipt, flight)
        if receipt.state is State.LOCKED:
            return self._log(receipt, flight)
        return receipt, ()

    def _hash(self, receipt: Receipt, flight: _Flight) -> Receipt:
        try:
            fd = os.open(receipt.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return self._fail(receipt, "the dock file vanished before it was stored")
        except OSError as exc:
            return self._fail(receipt, f"cannot open the dock file: {exc.strerror}")
        marks = [r.size for r in self._earlier(receipt)]
        flight.scan = self._start_scan(receipt)
        # Headers only; beside the hash and the upload, and kept for lock and log.
        flight.probing = threading.Thread(target=self._identify, args=(receipt, flight), name="probe", daemon=True)
        flight.probing.start()
        try:
            if not _same_file(os.fstat(fd), receipt):
                raise FileChanged("the dock file changed after it was seen stable; taken again when stable")
            try:
                digest = digest_file(fd, marks=marks)
            except OSError as exc:  # the dock file, not the store: about this file only
                raise DockFileUnreadable(f"reading the dock file failed: {exc}") from exc
            after = os.fstat(fd)
        finally:
            os.close(fd)
        if not _same_file(after, receipt) or digest.size != receipt.size:
            raise FileChanged("the dock file changed while it was hashed; taken again when stable")
        flight.prefixes = digest.prefixes
        with self._write() as conn:
            return receipts_db.advance(conn, receipt, State.HASHED, self.now(), sha256=digest.sha256)

    def _store(self, receipt: Receipt, progress: Callable[[int], None] | None) -> Receipt:
        sha256 = _known(receipt.sha256, receipt)
        key = content_key(sha256)
        with self.catalog.read() as conn:
            known = recordings_db.get(conn, sha256)
            purged = tombstone(conn, sha256) if known is not None else None
        if purged is not None:
            when = purged.decided_at.date().isoformat()
            return self._fail(
                receipt,
                f"this recording was purged on {when} after its retention (PURGE entry {purged.purge_entry}); "
                "it is not stored again. The dock copy is kept: a custodian decides what to do with it",
            )
        if known is not None:
            # The same content was docked before: one object, one recording, a second receipt.
            target = StoredVersion(known.object_key, known.version_id, known.size)
        else:
            # This run holds the content's claim, so an unfinished upload of the key is a crash's: it goes.
            self.store.abort_uploads(key)
            target = self._stored_before(key, receipt.size) or self._upload(receipt, key, progress)
        with self._write() as conn:
            return receipts_db.advance(conn, receipt, State.STORED, self.now(), version_id=target.version_id)

    def _stored_before(self, key: str, size: int) -> StoredVersion | None:
        """A version of the content's key uploaded before a crash (or by the copy era): used, never doubled.

        Whoever put it there, it is trusted only once its bytes hash to the key (the verify step).
        """
        return next((v for v in self.store.versions(key) if v.size == size), None)

    def _upload(self, receipt: Receipt, key: str, progress: Callable[[int], None] | None) -> StoredVersion:
        """The dock file's bytes to ``key``: its second read, checked against the first by the verify step."""
        try:
            fd = os.open(receipt.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            raise FileChanged(f"the dock file cannot be opened again after hashing ({exc.strerror})") from exc
        try:
            if not _same_file(os.fstat(fd), receipt):
                raise FileChanged("the dock file changed after it was hashed; taken again when stable")

            def read(offset: int, view: memoryview) -> None:
                done = 0
                while done < len(view):
                    try:
                        n = os.preadv(fd, [view[done:]], offset + done)
                    except OSError as exc:
                        raise DockFileUnreadable(f"reading the dock file failed: {exc}") from exc
                    if n == 0:
                        raise FileChanged("the dock file shrank while it was stored; taken again when stable")
                    done += n

            stored = self.store.upload_parts(
                key,
                receipt.size,
                read,
                metadata={"evidock-receipt": str(receipt.id), "evidock-station": receipt.station},
                progress=progress,
            )
            changed = not _same_file(os.fstat(fd), receipt)
        finally:
            os.close(fd)
        if changed:
            self.store.delete_version(stored)  # not yet locked: it can go
            raise FileChanged("the dock file changed while it was stored; taken again when stable")
        return stored

    def _verify(self, receipt: Receipt) -> Receipt:
        sha256, version_id = _required(receipt.sha256, receipt.version_id, receipt)
        target = StoredVersion(content_key(sha256), version_id, receipt.size)
        digest, size = self.store.fixity_sha256(target)
        if (digest, size) != (sha256, receipt.size):
            return self._mismatch(receipt, target, digest, size)
        with self._write() as conn:
            return receipts_db.advance(conn, receipt, State.VERIFIED, self.now())

    def _mismatch(self, receipt: Receipt, target: StoredVersion, digest: str, size: int) -> Receipt:
        """The stored version is not the file's bytes: deleted if it is this receipt's own, then failed."""
        found = f"the server returned sha256 {digest} and {size} bytes for sha256 {receipt.sha256} and {receipt.size}"
        with self.catalog.read() as conn:
            known = recordings_db.get(conn, _known(receipt.sha256, receipt))
        if known is not None and known.version_id == target.version_id:
            # A logged recording that no longer reads back: never deleted here; `verify --deep` reports it.
            return self._fail(receipt, f"the stored recording does not read back: {found}; the dock copy is kept")
        try:
            self.store.delete_version(target)
            fate = "that unverified copy was deleted (never locked)"
        except StorageError as exc:
            fate = f"deleting that unverified copy failed ({exc})"
        return self._fail(
            receipt,
            f"the stored copy does not match the dock file: {found}; {fate}. The dock file changed between "
            "its hash and its upload, or the transfer corrupted it; the dock copy is kept: dock it again",
        )

    def _lock(self, receipt: Receipt, flight: _Flight) -> Receipt:
        sha256, version_id = _required(receipt.sha256, receipt.version_id, receipt)
        with self.catalog.read() as conn:
            known = recordings_db.get(conn, sha256)
        if known is None:  # a duplicate's object is locked (and perhaps held) already, by its recording
            target = StoredVersion(content_key(sha256), version_id, receipt.size)
            self.store.lock(target, self._retain_until(receipt, flight))
        with self._write() as conn:
            return receipts_db.advance(conn, receipt, State.LOCKED, self.now())

    def _log(self, receipt: Receipt, flight: _Flight) -> tuple[Receipt, tuple[str, ...]]:
        sha256, _ = _required(receipt.sha256, receipt.version_id, receipt)
        with self._write() as conn:
            known = recordings_db.get(conn, sha256)
            if known is not None:
                done = receipts_db.advance(conn, receipt, State.LOGGED, self.now(), recording=known.id, duplicate=1)
                return done, ("duplicate of an earlier recording",)
        recording, body, notes = self._describe(receipt, flight)
        packets = self._packets_of(receipt, flight)  # before the transaction: it may wait for ffprobe
        with self._write() as conn:
            index = self.journal.append(
                conn, EntryType.INGEST, recording=recording.id, body=body, time=recording.ingested_at
            )
            recording = _with_entry(recording, index)
            recordings_db.insert_recording(conn, recording)
            self._check(conn, receipt, recording, flight, packets)
            done = receipts_db.advance(conn, receipt, State.LOGGED, self.now(), recording=recording.id)
        return done, notes

    def _release(self, receipt: Receipt) -> Receipt:
        mode = self.options.after_verify
        if mode is not AfterVerify.KEEP:
            try:
                current = os.lstat(receipt.path)
            except FileNotFoundError:
                current = None  # released before a crash, or removed by someone else
            if current is not None and _same_file(current, receipt) and stat.S_ISREG(current.st_mode):
                if mode is AfterVerify.DELETE:
                    os.unlink(receipt.path)
                else:
                    self._move(receipt)
            elif current is not None:
                log.warning("dock file %r changed after storing; left in place", os.fspath(receipt.path))
        with self._write() as conn:
            return receipts_db.advance(conn, receipt, State.RELEASED, self.now())

    # -- helpers ----------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A catalog transaction of this pipeline; one at a time, however many files are in flight."""
        with self._writing, self.catalog.begin() as conn:
            yield conn

    @contextmanager
    def _claim(self, sha256: str) -> Iterator[None]:
        """This content is this run's from its upload to its INGEST entry: a second run of it waits, then finds it."""
        with self._claims:
            while sha256 in self._claimed:
                self._claims.wait()
            self._claimed.add(sha256)
        try:
            yield
        finally:
            with self._claims:
                self._claimed.discard(sha256)
                self._claims.notify_all()

    def _leave_copy_era(self, receipt: Receipt) -> Receipt:
        """A receipt from before direct uploads (it reserved a staging key) continues on today's path.

        Its staging upload is unlocked and goes. In that era ``stored`` meant "at the staging key"
        and ``locked`` came before the re-read, so from either it starts again at ``hashed``: the
        content key's copy, if any, is found (``_stored_before``) and verified before it is trusted.
        """
        self.store.abort_uploads(receipt.staging_key)
        for leftover in self.store.versions(receipt.staging_key):
            self.store.delete_version(leftover)
        with self._write() as conn:
            return receipts_db.leave_copy_era(conn, receipt, self.now())

    def _move(self, receipt: Receipt) -> None:
        """Move the dock copy under ``move_to``; the target name appears only once its bytes are all there.

        A rename when both are on one filesystem; otherwise a copy to a short temporary name
        beside the target, synced, renamed into place, and only then the dock copy unlinked.
        On any error (a full disk, a name too long for the target) the temporary copy is
        removed and the error raised: the dock copy stays as it was.
        """
        if self.options.move_to is None:
            raise RuntimeError("after_verify is MOVE but no move_to folder was given")
        relative = receipt.path.relative_to(receipt.folder)
        target = self.options.move_to / receipt.folder.name / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(target):
            target = target.with_name(f"{target.name}.{receipt.id}")
        try:
            os.rename(receipt.path, target)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        partial = target.parent / f".evidock-move-{receipt.id}.partial"
        try:
            with open(receipt.path, "rb") as source, open(partial, "xb") as copy:
                shutil.copyfileobj(source, copy, COPY_CHUNK)
                copy.flush()
                os.fsync(copy.fileno())
            shutil.copystat(receipt.path, partial)
            os.rename(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.unlink(receipt.path)

    def _start_scan(self, receipt: Receipt) -> PacketScan | None:
        """The deep scan (packet timestamps) runs beside the upload.

        It starts before the file is known to be media (ffprobe gives up at
        once on anything else), so the header probe can run beside it too.
        """
        if not self.options.checks.deep_scan:
            return None
        return PacketScan(receipt.path)

    def _packets_of(self, receipt: Receipt, flight: _Flight) -> dict[int, list[int]] | None:
        scan, flight.scan = flight.scan, None
        if scan is None and receipt.path.exists():
            scan = self._start_scan(receipt)  # resumed after a crash
        return scan.result() if scan is not None else None

    def _check(
        self,
        conn: Connection,
        receipt: Receipt,
        recording: recordings_db.Recording,
        flight: _Flight,
        packets: dict[int, list[int]] | None,
    ) -> None:
        """Findings of the new recording and its device, in the INGEST transaction. Never blocks storage."""
        identity = self._identify(receipt, flight)
        now = recording.ingested_at
        savepoint = conn.begin_nested()  # a failed check leaves no half-written entry in the INGEST transaction
        try:
            device = recording.device
            around = recording.start_raw or now
            found = []
            if receipt.path.name.endswith(CLOCK_SIDECAR_SUFFIX):
                report = self._clock_sidecar(conn, receipt, recording)
                if report is not None:
                    device, around = report.device, report.station_time
            else:
                found = file_findings(
                    recording.id,
                    name=os.fsdecode(receipt.path.name),
                    named=identity.named,
                    media=identity.media,
                    packets=packets,
                    mtime=datetime.fromtimestamp(receipt.mtime_ns / 1e9, tz=UTC),
                    patterns=self.options.patterns,
                    options=self.options.checks,
                )
            found += self._superseded(conn, receipt, recording, flight)
            scope = (device, around) if device is not None else None
            if scope is not None:
                found += device_findings(conn, scope[0], scope[1], self.options.checks)
            record(conn, self.journal, found, now=now, withdraw_scope=scope)
            savepoint.commit()
        except Exception:
            savepoint.rollback()
            log.exception("checks of recording %s failed; it is stored and logged without findings", recording.id)

    def _earlier(self, receipt: Receipt) -> list[Receipt]:
        with self.catalog.read() as conn:
            return receipts_db.earlier_at_path(
                conn,
                station=receipt.station,
                folder=receipt.folder,
                relative=receipt.path.relative_to(receipt.folder),
                smaller_than=receipt.size,
            )

    def _superseded(
        self, conn: Connection, receipt: Receipt, recording: recordings_db.Recording, flight: _Flight
    ) -> list[Finding]:
        """SUPERSEDED_PARTIAL findings: earlier, shorter files at this path whose bytes this one begins with."""
        earlier = receipts_db.earlier_at_path(
            conn,
            station=receipt.station,
            folder=receipt.folder,
            relative=receipt.path.relative_to(receipt.folder),
            smaller_than=receipt.size,
        )
        if not earlier:
            return []
        prefixes = flight.prefixes
        if prefixes is None or any(r.size not in prefixes for r in earlier):
            prefixes = _prefix_digests(receipt, [r.size for r in earlier])  # resumed after a crash
        found = []
        for partial in earlier:
            if partial.recording != recording.id and prefixes.get(partial.size) == partial.sha256:
                assert partial.recording is not None  # noqa: S101 - earlier_at_path selects recorded ones
                found.append(
                    superseded_partial_finding(
                        partial.recording,
                        recording.id,
                        path=recording.original_name,
                        partial_size=partial.size,
                        complete_size=recording.size,
                        device=recording.device,
                    )
                )
        return found

    def _clock_sidecar(
        self, conn: Connection, receipt: Receipt, recording: recordings_db.Recording
    ) -> ClockReport | None:
        """A dock driver's clock report (``*.clock.json``): stored like any file, and read."""
        try:
            report = parse_clock_sidecar(receipt.path.read_bytes())
        except (OSError, ValueError) as exc:
            log.warning("clock sidecar %r is not readable (%s); stored as a file only", receipt.path.name, exc)
            return None
        log_clock_report(
            conn,
            self.journal,
            report,
            station=receipt.station,
            source="sidecar",
            by=receipt.station,
            recording=recording.id,
            now=recording.ingested_at,
        )
        return report

    def _retain_until(self, receipt: Receipt, flight: _Flight) -> datetime:
        """Retention runs from the recording's end; the station's receipt time bounds it.

        A recording cannot have ended after the station received it, and the
        station's clock is NTP-synced while a device clock may be wrong by
        years. So the basis is the later of the claimed end and the receipt:
        never less than the art. 27 period after the true end.
        """
        end = self._identify(receipt, flight).end
        basis = max(end, receipt.received_at) if end else receipt.received_at
        return self.options.retain_until(basis)

    def _identify(self, receipt: Receipt, flight: _Flight) -> _Identity:
        """Name and media facts, probed once per run (headers only, not a second full read)."""
        probing = flight.probing
        if probing is not None and probing is not threading.current_thread():
            probing.join()  # the probe started beside the hash; its answer is the one
        if flight.identity is not None:
            return flight.identity
        named = parse_name(os.fsdecode(receipt.path.name), self.options.patterns, self.options.timezone)
        if receipt.path.exists():
            media = probe(receipt.path, device_named=named is not None)
        else:
            media = MediaFacts(kind="other", problem="the dock file was gone before it could be probed")
        device_zone = self.options.checks.device_timezone or self.options.timezone
        start = named.start if named else media.embedded_start(device_zone)
        end = start + timedelta(milliseconds=media.duration_ms) if start and media.duration_ms is not None else start
        flight.identity = _Identity(start, end, named, media)
        return flight.identity

    def _describe(
        self, receipt: Receipt, flight: _Flight
    ) -> tuple[recordings_db.Recording, dict[str, Any], tuple[str, ...]]:
        sha256, version_id = _required(receipt.sha256, receipt.version_id, receipt)
        start, end, named, media = self._identify(receipt, flight)
        notes: list[str] = []
        if named is None:
            notes.append("file name matches no configured pattern")
        if media.problem:
            notes.append(f"not readable as media: {media.problem}")
        now = self.now()
        retain = self.store.read_lock(StoredVersion(content_key(sha256), version_id, receipt.size))
        if retain.retain_until is None:
            raise StorageError(f"recording {sha256} has no retention on the server; not logging it")
        original_bytes = os.fsencode(receipt.path.relative_to(receipt.folder))
        display = original_bytes.decode("utf-8", "backslashreplace")
        recording = recordings_db.Recording(
            id=sha256,
            size=receipt.size,
            object_key=content_key(sha256),
            version_id=version_id,
            retain_until=retain.retain_until,
            original_name=display,
            station=receipt.station,
            device=named.device if named else None,
            officer=named.officer if named else None,
            seq=named.seq if named else None,
            start_raw=start,
            end_raw=end,
            duration_ms=media.duration_ms,
            kind=media.kind,
            media=media.as_json(),
            notes=notes,
            ingested_at=now,
            ingest_entry=-1,
        )
        body: dict[str, Any] = {
            "sha256": sha256,
            "size": receipt.size,
            "object_key": recording.object_key,
            "version_id": version_id,
            **original_name_fields(original_bytes),
            "device": recording.device,
            "officer": recording.officer,
            "sequence": recording.seq,
            "start_raw": start,
            "end_raw": end,
            "duration_ms": media.duration_ms,
            "kind": media.kind,
            "media": recording.media,
            "notes": notes,
            "retain_until": retain.retain_until,
            "received_at": receipt.received_at,
            "receipt": receipt.id,
        }
        return recording, body, tuple(notes)

    def _quarantine(self, receipt: Receipt, exc: Exception) -> Receipt:
        """Stop this receipt for a person, with what happened and what is (not) lost."""
        reason = _error_text(exc)
        if receipt.state is State.LOGGED:
            note = (
                f"stored, verified and logged as recording {receipt.recording}; releasing the dock copy "
                f"({self.options.after_verify.value}) failed: {reason}. The dock copy is left where it was: "
                "move or delete it by hand once the cause is fixed"
            )
        elif receipt.state is State.LOCKED:
            note = (
                f"stopped at state {receipt.state.value} by an unexpected error: {reason}. The content is stored "
                f"and locked (sha256 {receipt.sha256}) but not logged as a recording; the dock copy is untouched"
            )
        else:
            note = (
                f"stopped at state {receipt.state.value} by an unexpected error: {reason}. "
                "The dock copy is untouched; nothing is stored as a recording yet"
            )
        log.error("ingest of %r quarantined: %s", os.fspath(receipt.path), note, exc_info=exc)
        with self._write() as conn:
            return receipts_db.advance(conn, receipt, State.QUARANTINED, self.now(), error=note)

    def _fail(self, receipt: Receipt, reason: str) -> Receipt:
        log.error("ingest of %r failed: %s", os.fspath(receipt.path), reason)
        with self._write() as conn:
            return receipts_db.advance(conn, receipt, State.FAILED, self.now(), error=reason)


def _prefix_digests(receipt: Receipt, sizes: list[int]) -> dict[int, str]:
    """Prefix hashes from the dock copy when the upload's were lost (a crash); {} if it changed or went."""
    try:
        with open(receipt.path, "rb") as raw:
            if not _same_file(os.fstat(raw.fileno()), receipt):
                return {}
            return digest_file(raw.fileno(), marks=sizes).prefixes
    except OSError:
        return {}


def _known(fact: str | None, receipt: Receipt) -> str:
    """A fact an earlier state recorded; missing means the receipt table was edited by hand."""
    if not fact:
        raise RuntimeError(f"receipt {receipt.id} is in state {receipt.state} but lacks the facts of that state")
    return fact


def _required(first: str | None, second: str | None, receipt: Receipt) -> tuple[str, str]:
    """Facts an earlier state recorded; missing ones mean the receipt table was edited by hand."""
    if not first or not second:
        raise RuntimeError(f"receipt {receipt.id} is in state {receipt.state} but lacks the facts of that state")
    return first, second


def _error_text(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({os.fsdecode(exc.filename)!r})" if exc.filename else ""
        return f"{type(exc).__name__} [errno {exc.errno}] {exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc}"


def _same_file(st: os.stat_result, receipt: Receipt) -> bool:
    return (st.st_size, st.st_mtime_ns, st.st_ino) == (receipt.size, receipt.mtime_ns, receipt.inode)


def _with_entry(recording: recordings_db.Recording, index: int) -> recordings_db.Recording:
    return replace(recording, ingest_entry=index)
