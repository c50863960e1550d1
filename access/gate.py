"""The access gate: the one reader of a recording's content, and the one writer of ACCESS entries.

Art. 27 (第二十七条) registers every viewing and copy of a recording: viewer,
copier, approver, time and reason (事由). Every read of a recording by a
person goes through :class:`Gate`:

* the person is known (``access.people.authenticate``) and their role permits the read;
* an ACCESS entry (who, role, action, reason, approver, requester category,
  document reference, time) is appended and **committed in its own transaction
  before any byte is returned**; if it cannot be written the read fails
  (fail closed) and nothing is read;
* content is read only here (``ObjectStore._stream``), hashed while it streams
  and compared with the recording's SHA-256.

Copy, download and export need an approved request (``access.requests``); what
a disclosure may show is ``access.disclosure``'s. The same gate serves the CLI,
the HTTP API and the web pages; they only say who is acting. The audit trail
is read back from the log itself (``access.audit``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, update

from access.disclosure import disclosed
from access.errors import AccessDenied, AccessNotRecorded, ApprovalError, InvalidAccessInput
from access.party_copies import party_delivery
from access.people import REASON_LENGTH, Permission, Person, checked_text
from access.requests import DEFAULT_POLICY, AccessPolicy, AccessRequest, RequestDesk, live_recording, load_request
from cases.labels import Label, latest_labels
from chain.entries import EntryType, JsonValue
from chain.errors import EvidockError
from storage import receipts as receipts_db
from storage import recordings as recordings_db
from storage.access_terms import APPROVED_ACTIONS, CONTENT_ACTIONS, Action, Category
from storage.catalog import Catalog
from storage.derived import DerivedFile, proxy_of
from storage.errors import StorageError
from storage.journal import Journal
from storage.objects import ObjectStore, StoredVersion
from storage.schema import access_grants, access_results

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingView:
    """One recording's metadata as a person reads it, and the ACCESS entry that registered the read."""

    recording: recordings_db.Recording
    label: Label | None
    receipts: list[receipts_db.Receipt]
    entry: int


@dataclass(frozen=True)
class Delivered:
    """Content saved to a file through the gate."""

    recording: str
    path: Path
    size: int
    sha256: str
    entry: int  # the ACCESS entry
    request: int | None
    approval_entry: int | None
    disclosed: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "path": str(self.path),
            "size": self.size,
            "sha256": self.sha256,
            "access_entry": self.entry,
            "request": self.request,
            "approval_entry": self.approval_entry,
            "disclosed": self.disclosed,
        }


@dataclass(frozen=True)
class Served:
    """The bytes a read returns: the original, or one derived file of it (a playback proxy, a redacted copy)."""

    version: StoredVersion
    sha256: str
    name: str  # the file name a browser or a disk sees (its suffix decides the type served)
    derived: DerivedFile | None = None

    @classmethod
    def original(cls, rec: recordings_db.Recording) -> Served:
        return cls(StoredVersion(rec.object_key, rec.version_id, rec.size), rec.id, rec.original_name)

    @classmethod
    def derived_from(cls, rec: recordings_db.Recording, made: DerivedFile) -> Served:
        stem = Path(rec.original_name).stem or rec.id[:12]
        version = StoredVersion(made.object_key, made.version_id, made.size)
        return cls(version, made.sha256, f"{stem}.{made.kind}.mp4", made)

    @property
    def size(self) -> int:
        return self.version.size

    def access_facts(self) -> dict[str, JsonValue]:
        """What the ACCESS entry says besides the original it names: the derived file served instead, if one was."""
        if self.derived is None:
            return {}
        return {
            "derived": self.sha256,
            "derived_kind": self.derived.kind.value,
            "derived_entry": self.derived.entry,
        }


class Content:
    """Content whose ACCESS entry is committed; ``chunks()`` streams it and checks its SHA-256 at the end.

    ``served`` is the original unless the gate served a derived file of it
    (a playback proxy, a party's redacted copy); its ACCESS entry names both.
    """

    def __init__(
        self,
        store: ObjectStore,
        recording: recordings_db.Recording,
        *,
        entry: int,
        request: AccessRequest | None,
        approval_entry: int | None,
        disclosure: dict[str, Any],
        served: Served | None = None,
    ) -> None:
        self.recording = recording
        self.served = served or Served.original(recording)
        self.entry = entry
        self.request = request
        self.approval_entry = approval_entry
        self.disclosed = disclosure
        self._store = store
        self._started = False

    def chunks(self) -> Iterator[bytes]:
        """The served bytes, once; raises StorageError at the end if they are not what was logged."""
        if self._started:
            raise RuntimeError("content is streamed once per ACCESS entry; open it again through the gate")
        self._started = True
        served = self.served
        digest = hashlib.sha256()
        size = 0
        for chunk in self._store._stream(served.version):
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        if size != served.size or digest.hexdigest() != served.sha256:
            raise StorageError(
                f"the stored object {served.version.key} of recording {self.recording.id} does not match it: expected "
                f"{served.size} bytes with SHA-256 {served.sha256}, read {size} bytes with SHA-256 "
                f"{digest.hexdigest()}; run `evidock verify --deep`"
            )

    def byte_range(self, first: int, last: int) -> Iterator[bytes]:
        """Bytes ``first``..``last`` (inclusive) of what is served, once: an HTTP Range of a playback.

        A part cannot be checked against the whole file's SHA-256; its length is
        checked, and ``evidock verify --deep`` re-hashes every stored object.
        """
        served = self.served
        if not 0 <= first <= last < served.size:
            raise ValueError(f"range {first}-{last} is outside the {served.size} bytes of {served.name}")
        if first == 0 and last == served.size - 1:
            yield from self.chunks()
            return
        if self._started:
            raise RuntimeError("content is streamed once per ACCESS entry; open it again through the gate")
        self._started = True
        wanted = last - first + 1
        size = 0
        for chunk in self._store._stream(served.version, offset=first, length=wanted):
            size += len(chunk)
            yield chunk
        if size != wanted:
            raise StorageError(
                f"the stored object {served.version.key} of recording {self.recording.id} gave {size} bytes for a "
                f"range of {wanted}; run `evidock verify --deep`"
            )


class Gate(RequestDesk):
    """Every read of a recording by a person, registered in the log before a byte is returned.

    The requests and approvals a copy needs are the :class:`RequestDesk`'s half (``access.requests``).
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        journal: Journal,
        store: ObjectStore,
        policy: AccessPolicy = DEFAULT_POLICY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(catalog=catalog, journal=journal, policy=policy, clock=clock)
        self._store = store

    # -- the one place an ACCESS entry is written -------------------------------------

    def _register(
        self,
        person: Person,
        *,
        recording: str | None,
        action: Action,
        reason: str,
        category: Category = Category.INTERNAL,
        approver: str | None = None,
        approval: int | None = None,
        document_ref: str | None = None,
        requester: str | None = None,
        extra: Mapping[str, JsonValue] | None = None,
        listed: Sequence[str] = (),
        consume: int | None = None,
        recheck: Callable[[Connection], object] | None = None,
    ) -> int:
        """Append and commit the ACCESS entry (and use up the grant of request ``consume``), or refuse.

        ``recheck`` runs first in the same transaction and raises to refuse: the
        conditions it checks hold when the entry is written, not only before.
        """
        body: dict[str, object] = {
            "actor": person.name,
            "role": person.role.value,
            "action": action.value,
            "reason": reason,
            "approver": approver,
            "requester_category": category.value,
            "document_ref": document_ref,
            **(extra or {}),
        }
        if approval is not None:
            body["approval"] = approval
        now = self._clock()
        try:
            with self._catalog.begin() as conn:
                if recheck is not None:
                    recheck(conn)
                if consume is not None and recording is not None:
                    used = conn.execute(
                        update(access_grants)
                        .where(
                            access_grants.c.request == consume,
                            access_grants.c.recording == recording,
                            access_grants.c.used_at.is_(None),
                        )
                        .values(used_at=now)
                    )
                    if used.rowcount != 1:
                        raise ApprovalError(
                            f"request {consume} was already used for recording {recording[:12]}: "
                            "an approval is single-use; ask again"
                        )
                index = self._journal.append(
                    conn,
                    EntryType.ACCESS,
                    recording=recording,
                    body=body,
                    time=now,
                    personal={"requester": requester} if requester else None,
                )
                if consume is not None and recording is not None:
                    conn.execute(
                        update(access_grants)
                        .where(access_grants.c.request == consume, access_grants.c.recording == recording)
                        .values(access_entry=index)
                    )
                if listed:
                    shown = [{"entry": index, "recording": r} for r in sorted(set(listed))]
                    conn.execute(insert(access_results), shown)
        except AccessDenied:
            raise
        except EvidockError as exc:
            raise AccessNotRecorded(
                f"refused: the ACCESS entry could not be written to the log, so nothing was read (fail closed): {exc}"
            ) from exc
        log.info("ACCESS %s by %s (%s) of %s: entry %d", action.value, person.name, person.role.value, recording, index)
        return index

    # -- metadata -----------------------------------------------------------------------

    def read_metadata(self, person: Person, recording: str, *, reason: str) -> RecordingView:
        """One recording's facts, current label and receipts; one ACCESS entry (action ``metadata``)."""
        person.require(Permission.READ_METADATA)
        reason = checked_text("reason (事由)", reason, limit=REASON_LENGTH)
        with self._catalog.read() as conn:
            found = recordings_db.resolve(conn, recording)
            label = latest_labels(conn, [found.id]).get(found.id)
            docked = receipts_db.for_recording(conn, found.id)
        entry = self._register(person, recording=found.id, action=Action.METADATA, reason=reason)
        return RecordingView(found, label, docked, entry)

    def record_listing(
        self, person: Person, *, command: str, query: Mapping[str, str], recordings: Sequence[str], reason: str
    ) -> int:
        """A search that showed ``recordings``: one LIST entry; the ids go to ``access_results``."""
        person.require(Permission.READ_METADATA)
        reason = checked_text("reason (事由)", reason, limit=REASON_LENGTH)
        ids = sorted(set(recordings))
        extra: dict[str, JsonValue] = {
            "command": command,
            "query": dict(query),
            "count": len(ids),
            "results_sha256": hashlib.sha256("\n".join(ids).encode("ascii")).hexdigest(),
        }
        return self._register(person, recording=None, action=Action.LIST, reason=reason, extra=extra, listed=ids)

    def record_query(
        self,
        person: Person,
        *,
        command: str,
        query: Mapping[str, str],
        reason: str,
        action: Action = Action.QUERY,
        permission: Permission = Permission.READ_METADATA,
    ) -> int:
        """An overview command (findings, timeline, log entries, the audit trail): one entry with its query."""
        person.require(permission)
        reason = checked_text("reason (事由)", reason, limit=REASON_LENGTH)
        extra: dict[str, JsonValue] = {"command": command, "query": dict(query)}
        return self._register(person, recording=None, action=action, reason=reason, extra=extra)

    # -- content --------------------------------------------------------------------------

    def open_content(
        self,
        person: Person,
        recording: str,
        *,
        action: Action,
        reason: str | None = None,
        request_id: int | None = None,
        playback: bool = False,
    ) -> Content:
        """Register a read of content and return it; its bytes flow only after the entry is committed.

        ``view`` and ``stream`` need a reason; ``download``, ``copy`` and ``export``
        need ``request_id``: an approved, unexpired request of this person's for
        this action, not yet used for this recording. ``playback``: a player
        asks (``view``/``stream``), so a recording a browser cannot play is
        served as its playback proxy if one was made; the ACCESS entry names the
        proxy beside the original. Download, copy and export are always the
        original's bytes (a party's request excepted: ``access.party_copies``).
        """
        if action not in CONTENT_ACTIONS:
            raise InvalidAccessInput(f"{action.value} is not a read of content")
        if action in APPROVED_ACTIONS:
            person.require(Permission.REQUEST_COPY)
            if request_id is None:
                raise ApprovalError(f"{action.with_article} needs an approved request: `evidock access request` first")
            return self._approved_content(person, recording, action=action, request_id=request_id)
        person.require(Permission.VIEW_CONTENT)
        why = checked_text("reason (事由)", reason or "", limit=REASON_LENGTH)
        with self._catalog.read() as conn:
            found = live_recording(conn, recording)
            label = latest_labels(conn, [found.id]).get(found.id)
            proxy = proxy_of(conn, found.id) if playback else None
        served = Served.derived_from(found, proxy) if proxy is not None else Served.original(found)
        entry = self._register(person, recording=found.id, action=action, reason=why, extra=served.access_facts())
        return Content(
            self._store,
            found,
            entry=entry,
            request=None,
            approval_entry=None,
            disclosure=disclosed(found, label, party=None),
            served=served,
        )

    def _approved_content(self, person: Person, recording: str, *, action: Action, request_id: int) -> Content:
        found, asked, grant = self.check_grant(person, recording, action=action, request_id=request_id)
        with self._catalog.read() as conn:
            label = latest_labels(conn, [found.id]).get(found.id)
            delivery = party_delivery(conn, found.id, asked.asked)
        served = Served.original(found)
        extra: dict[str, JsonValue] = {"request": asked.id}
        if delivery is not None and delivery.redacted is not None:
            served = Served.derived_from(found, delivery.redacted)
            extra |= served.access_facts()
        elif delivery is not None and delivery.statement is not None:
            extra["no_third_parties"] = delivery.statement.id  # the approver's statement (a REDACTION entry)

        def still_granted(conn: Connection) -> None:
            self._grant_in(conn, person, found.id, action=action, request_id=request_id)
            now = party_delivery(conn, found.id, asked.asked)
            if now != delivery:
                raise ApprovalError(f"what serves request {asked.id} changed meanwhile; try again")

        entry = self._register(
            person,
            recording=found.id,
            action=action,
            reason=asked.reason,
            category=asked.category,
            approver=asked.decided_by,
            approval=grant.approval_entry,
            document_ref=asked.document_ref,
            requester=asked.requester,
            extra=extra,
            consume=asked.id,
            recheck=still_granted,
        )
        return Content(
            self._store,
            found,
            entry=entry,
            request=asked,
            approval_entry=grant.approval_entry,
            disclosure=disclosed(found, label, party=asked.party) | _derived_disclosed(served),
            served=served,
        )

    def download(self, person: Person, recording: str, *, request_id: int, out: Path) -> Delivered:
        """Save an approved copy to ``out`` atomically; an existing ``out`` is never overwritten.

        The temporary file beside ``out`` is made first, so a folder that cannot
        be written fails before the gate registers anything or uses the approval.
        If the stream, the SHA-256 check or the disk fails later, the temporary
        file goes and ``out`` does not appear (the ACCESS entry stays: the read
        happened).
        """
        target = _writable_target(out)
        with self._catalog.read() as conn:
            action = load_request(conn, request_id).action
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name[:100]}.", suffix=".evidock-part", dir=target.parent)
        temp = Path(temp_name)
        sink = os.fdopen(fd, "wb")
        try:
            content = self.open_content(person, recording, action=action, request_id=request_id)
            with sink:
                for chunk in content.chunks():
                    sink.write(chunk)
                sink.flush()
                os.fsync(sink.fileno())
            _place(temp, target)
        except BaseException:
            sink.close()
            temp.unlink(missing_ok=True)
            raise
        return Delivered(
            recording=content.recording.id,
            path=target,
            size=content.served.size,
            sha256=content.served.sha256,
            entry=content.entry,
            request=request_id,
            approval_entry=content.approval_entry,
            disclosed=content.disclosed,
        )


def _derived_disclosed(served: Served) -> dict[str, Any]:
    """A disclosure of a redacted copy says so: which file it is and the DERIVED entry binding it to the original."""
    if served.derived is None:
        return {}
    return {"delivered": {"kind": served.derived.kind.value, "sha256": served.sha256, "size": served.size,
                          "derived_entry": served.derived.entry}}  # fmt: skip


def _writable_target(out: Path) -> Path:
    target = out.absolute()
    if os.path.lexists(target):
        raise InvalidAccessInput(f"{out} exists; evidock never overwrites a file: choose a new --out")
    if not target.parent.is_dir():
        raise InvalidAccessInput(f"folder {target.parent} does not exist")
    return target


def _place(temp: Path, target: Path) -> None:
    """Give the synced temporary file its name without ever replacing a file, then sync the folder."""
    try:
        os.link(temp, target)  # fails if target exists, even if it appeared a moment ago
    except FileExistsError:
        raise InvalidAccessInput(f"{target} appeared while saving; evidock never overwrites a file") from None
    except OSError:
        # No hard links here (FAT/exFAT media, some network file systems): check, then rename.
        if os.path.lexists(target):
            raise InvalidAccessInput(f"{target} appeared while saving; evidock never overwrites a file") from None
        temp.rename(target)
    else:
        temp.unlink()
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
