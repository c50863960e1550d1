"""Derived files (playback proxies, redacted copies) and redactions in the catalog.

A derived file is made from one original by a recorded ffmpeg command and
stored under its own content-addressed key (``derived/<original>/<hex>``); the
original's object, row and INGEST entry never change. Each ``derived_files``
row is written in the same transaction as its DERIVED entry, each change of a
``redactions`` row with its REDACTION entry (``storage.projection_derived``
rebuilds both from the log).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from storage.errors import InvalidReference, NotFound
from storage.rows import from_row, inserted_id
from storage.schema import derived_files, redactions

DERIVED_PREFIX = "derived/"


class DerivedKind(StrEnum):
    PROXY = "proxy"  # an H.264/AAC MP4 a browser plays, for a recording it cannot
    REDACTED = "redacted"  # third parties muted and blurred, for the party concerned (art. 29)


class RedactionState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    RENDERED = "rendered"
    NO_THIRD_PARTIES = "no-third-parties"  # the approver's statement: nothing to redact


def derived_prefix(original: str) -> str:
    """``derived/<original's hex>/``: every derived file of one original, deleted with it by purge."""
    _hex(original)
    return f"{DERIVED_PREFIX}{original}/"


def derived_key(original: str, sha256_hex: str) -> str:
    """``derived/<original's hex>/<derived hex>``: content-addressed, under its original, never an original's key.

    Two originals that differ only in metadata give the same proxy bytes; each
    keeps its own copy, so purging one never touches the other's.
    """
    return derived_prefix(original) + _hex(sha256_hex)


def _hex(value: str) -> str:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise ValueError(f"not a lower-case SHA-256 hex digest: {value!r}")
    return value


@dataclass(frozen=True)
class DerivedFile:
    entry: int  # the DERIVED entry
    recording: str  # the original's SHA-256
    kind: DerivedKind
    sha256: str
    size: int
    object_key: str
    version_id: str
    retain_until: datetime | None
    ffmpeg: str
    arguments: list[str]
    redaction: int | None
    spec_sha256: str | None
    requested_by: str
    approved_by: str | None
    made_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "recording": self.recording,
            "kind": self.kind.value,
            "sha256": self.sha256,
            "size": self.size,
            "object_key": self.object_key,
            "version_id": self.version_id,
            "retain_until": self.retain_until.isoformat() if self.retain_until else None,
            "ffmpeg": self.ffmpeg,
            "arguments": list(self.arguments),
            "redaction": self.redaction,
            "spec_sha256": self.spec_sha256,
            "requested_by": self.requested_by,
            "approved_by": self.approved_by,
            "made_at": self.made_at.isoformat(),
        }


def _derived(row: Any) -> DerivedFile:
    return from_row(DerivedFile, row, kind=DerivedKind(row.kind), arguments=list(row.arguments))


def add_derived(conn: Connection, row: DerivedFile) -> None:
    values = {**row.__dict__, "kind": row.kind.value, "arguments": list(row.arguments)}
    conn.execute(insert(derived_files).values(**values))


def derived_of(conn: Connection, recording: str, kind: DerivedKind | None = None) -> list[DerivedFile]:
    """The derived files of one original, oldest first."""
    query = select(derived_files).where(derived_files.c.recording == recording)
    if kind is not None:
        query = query.where(derived_files.c.kind == kind.value)
    return [_derived(r) for r in conn.execute(query.order_by(derived_files.c.entry))]


def proxy_of(conn: Connection, recording: str) -> DerivedFile | None:
    """The newest playback proxy of a recording, if one was made."""
    found = derived_of(conn, recording, DerivedKind.PROXY)
    return found[-1] if found else None


def proxied(conn: Connection, recordings: Sequence[str]) -> set[str]:
    """Which of ``recordings`` have a playback proxy."""
    query = select(derived_files.c.recording).where(
        derived_files.c.kind == DerivedKind.PROXY.value, derived_files.c.recording.in_(list(recordings))
    )
    return {r for (r,) in conn.execute(query)}


def get_derived(conn: Connection, entry: int) -> DerivedFile:
    row = conn.execute(select(derived_files).where(derived_files.c.entry == entry)).first()
    if row is None:
        raise NotFound(f"no derived file with DERIVED entry {entry}: see `evidock derived list`")
    return _derived(row)


def all_derived(
    conn: Connection, *, kind: DerivedKind | None = None, recording: str | None = None
) -> list[DerivedFile]:
    query = select(derived_files).order_by(derived_files.c.entry)
    if kind is not None:
        query = query.where(derived_files.c.kind == kind.value)
    if recording is not None:
        query = query.where(derived_files.c.recording == recording)
    return [_derived(r) for r in conn.execute(query)]


# -- redactions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Redaction:
    id: int
    recording: str
    request: int | None
    spec: dict[str, Any] | None
    spec_sha256: str | None
    state: RedactionState
    reason: str
    created_by: str
    created_at: datetime
    submitted_by: str | None
    submitted_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    derived_entry: int | None

    def as_json(self) -> dict[str, Any]:
        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "recording": self.recording,
            "request": self.request,
            "spec": self.spec,
            "spec_sha256": self.spec_sha256,
            "state": self.state.value,
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": moment(self.created_at),
            "submitted_by": self.submitted_by,
            "submitted_at": moment(self.submitted_at),
            "decided_by": self.decided_by,
            "decided_at": moment(self.decided_at),
            "decision_reason": self.decision_reason,
            "derived_entry": self.derived_entry,
        }


def _redaction(row: Any) -> Redaction:
    return from_row(Redaction, row, state=RedactionState(row.state))


def add_redaction(conn: Connection, **values: Any) -> int:
    """A new redaction row; its number (the REDACTION entry written with it names it)."""
    return inserted_id(conn.execute(insert(redactions).values(**values)))


def change_redaction(conn: Connection, number: int, *, expected: RedactionState, **values: Any) -> bool:
    """Move redaction ``number`` on, only if it is still in state ``expected`` (two people racing: one wins)."""
    changed = conn.execute(
        update(redactions).where(redactions.c.id == number, redactions.c.state == expected.value).values(**values)
    )
    return changed.rowcount == 1


def get_redaction(conn: Connection, number: int) -> Redaction:
    row = conn.execute(select(redactions).where(redactions.c.id == number)).first()
    if row is None:
        raise InvalidReference(f"no redaction {number}: see `evidock redact list`")
    return _redaction(row)


def redactions_of(conn: Connection, recording: str | None = None) -> list[Redaction]:
    query = select(redactions).order_by(redactions.c.id)
    if recording is not None:
        query = query.where(redactions.c.recording == recording)
    return [_redaction(r) for r in conn.execute(query)]


def for_party_request(conn: Connection, recording: str, request: int) -> list[Redaction]:
    """What may serve a party's request for ``recording``: its rendered redactions and no-third-parties statements.

    Those made for this request, then those made for no request; newest first in each.
    """
    query = select(redactions).where(
        redactions.c.recording == recording,
        redactions.c.state.in_([RedactionState.RENDERED.value, RedactionState.NO_THIRD_PARTIES.value]),
        or_(redactions.c.request == request, redactions.c.request.is_(None)),
    )
    found = [_redaction(r) for r in conn.execute(query)]
    return sorted(found, key=lambda r: (r.request is None, -r.id))
