"""The access gate: people, roles, access requests, approvals, and every read of a recording.

Art. 27 (第二十七条) registers every viewing and copy of a recording: viewer,
copier, approver, time and reason (事由). Art. 29 (第二十九条) keeps recordings
internal; a disclosure needs approval, courts, supervision and audit bodies ask
by official letter (公函), lawyers with a court investigation order (律师调查令),
and the party concerned (当事人) sees their own recordings without third-party
information.

Every read of a recording by a person goes through :class:`Gate`:

* the person is known (:func:`authenticate`) and their role permits the read;
* an ACCESS entry (who, role, action, reason, approver, requester category,
  document reference, time) is appended and **committed in its own transaction
  before any byte is returned**; if it cannot be written the read fails
  (fail closed) and nothing is read;
* content is read only here (``ObjectStore._stream``), hashed while it streams
  and compared with the recording's SHA-256.

Copy, download and export need an approved request: approved by a custodian
who is not the requester (two-person rule), used before it expires, once per
recording. The request is one REQUEST entry per recording, and each decision
one APPROVAL entry per recording, so both sit in the recording's custody chain.

Every change to people and their rights (a user added, a role changed, a user
disabled, an API token issued) appends a USER entry in the change's own
transaction, so the signed log proves who was given which role, by whom and
when; it never holds a token, a password or a hash of either.

The same gate will serve the HTTP API; the CLI only says who is acting. The
audit trail is read back from the log itself (:func:`audit_trail`), and
:func:`find_anomalies` is pure: values in, anomalies out.

Errors::

    EvidockError
     └── AccessDenied               refused; the message says why and what to do
          ├── NotAuthenticated      unknown or disabled user, wrong or missing credentials
          ├── NotPermitted          the role may not do this
          ├── InvalidAccessInput    a reason, name or reference is empty, too long or has control characters
          ├── ApprovalError         no, pending, denied, expired or used approval; self-approval
          └── AccessNotRecorded     the ACCESS entry could not be written, so nothing was read
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import tempfile
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import argon2
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)

from chain import entries as chain_entries
from chain.entries import EntryType, JsonValue
from chain.errors import EvidockError
from storage import cases, delivery_checks
from storage import receipts as receipts_db
from storage import recordings as recordings_db
from storage.catalog import Catalog, UTCDateTime, log_entries, log_head, metadata
from storage.catalog import recordings as recordings_table
from storage.errors import NotFound, StorageError
from storage.journal import Journal, NewEntry
from storage.objects import ObjectStore, StoredVersion

log = logging.getLogger(__name__)

NAME_LENGTH = 64  # characters of a user name (login)
PERSON_LENGTH = 128  # characters of a display name, officer id, outside requester or party
REASON_LENGTH = 2000  # characters of a reason (事由); the log keeps it whole
DOCUMENT_LENGTH = 256  # characters of a document reference (文号)
MIN_PASSWORD = 12  # characters
MAX_PASSWORD = 1024  # characters; argon2 hashes anything, but nobody types more
MAX_RECORDINGS_PER_REQUEST = 1000
TOKEN_PREFIX = "evk_"  # noqa: S105 - the prefix of generated tokens, not a secret

# argon2id (RFC 9106) with argon2-cffi's defaults: 3 passes over 64 MiB, 4 lanes.
_HASHER = argon2.PasswordHasher()


# -- errors -------------------------------------------------------------------------


class AccessDenied(EvidockError):
    """The access gate refused; nothing was read and nothing changed (except where said)."""


class NotAuthenticated(AccessDenied):
    """No user, an unknown or disabled one, or wrong credentials."""


class NotPermitted(AccessDenied):
    """The person's role does not allow this."""


class InvalidAccessInput(AccessDenied):
    """A reason, name or document reference is empty, too long or holds control characters."""


class ApprovalError(AccessDenied):
    """The request or approval does not allow this: missing, pending, denied, expired, used, or self-approved."""


class AccessNotRecorded(AccessDenied):
    """The ACCESS entry could not be written; the read was refused (fail closed)."""


# -- roles and permissions -------------------------------------------------------------


class Role(StrEnum):
    STATION = "station"  # a dock station's service account: ingest only
    OFFICER = "officer"  # 执法人员: views recordings, asks for copies
    CUSTODIAN = "custodian"  # 档案管理员 / 承办人: views, asks, approves others' requests
    AUDITOR = "auditor"  # 法制/监察/审计: reads the audit trail and runs verify; never content
    ADMIN = "admin"  # manages users; no access to recordings


class Permission(StrEnum):
    INGEST = "ingest"
    READ_METADATA = "read recordings' metadata and labels"
    VIEW_CONTENT = "view or stream recordings"
    REQUEST_COPY = "ask for and receive copies, downloads and exports"
    APPROVE = "approve or deny access requests"
    AUDIT = "read the audit trail"
    VERIFY = "run verify"
    MANAGE_USERS = "manage users"
    CUSTODY = "label recordings, designate or release evidence, close cases"
    EXPLAIN = "explain findings"
    CLOCK = "report a device clock at docking"
    REPORTS = "read deadlines, compliance, alerts and status"
    PURGE = "purge recordings whose retention passed"


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.STATION: frozenset({Permission.INGEST, Permission.CLOCK}),
    Role.OFFICER: frozenset(
        {Permission.READ_METADATA, Permission.VIEW_CONTENT, Permission.REQUEST_COPY, Permission.EXPLAIN}
    ),
    Role.CUSTODIAN: frozenset(
        {
            Permission.INGEST,
            Permission.READ_METADATA,
            Permission.VIEW_CONTENT,
            Permission.REQUEST_COPY,
            Permission.APPROVE,
            Permission.VERIFY,
            Permission.CUSTODY,
            Permission.EXPLAIN,
            Permission.CLOCK,
            Permission.REPORTS,
            Permission.PURGE,
        }
    ),
    Role.AUDITOR: frozenset({Permission.READ_METADATA, Permission.AUDIT, Permission.VERIFY, Permission.REPORTS}),
    Role.ADMIN: frozenset({Permission.MANAGE_USERS, Permission.VERIFY}),
}
"""What each role may do; docs/access.md shows the same table and which command needs which permission."""


class Action(StrEnum):
    """The ``action`` of an ACCESS entry."""

    METADATA = "metadata"  # one recording's facts and labels
    LIST = "list"  # a search listing recordings; the ids listed are in ``access_results``
    QUERY = "query"  # an overview (findings, timeline, incidents, log entries) with its query
    AUDIT = "audit"  # a read of the audit trail
    VIEW = "view"
    STREAM = "stream"
    DOWNLOAD = "download"
    COPY = "copy"
    EXPORT = "export"

    @property
    def with_article(self) -> str:
        """The action as a noun in a message: "a copy", "an export"."""
        return f"{'an' if self.value[0] in 'aeiou' else 'a'} {self.value}"


CONTENT_ACTIONS = frozenset({Action.VIEW, Action.STREAM, Action.DOWNLOAD, Action.COPY, Action.EXPORT})
APPROVED_ACTIONS = frozenset({Action.DOWNLOAD, Action.COPY, Action.EXPORT})  # need an approved request


class Category(StrEnum):
    """Who the access is for (art. 29)."""

    INTERNAL = "internal"  # this bureau
    COURT = "court"  # 人民法院, by official letter
    SUPERVISION = "supervision"  # 监察机关
    AUDIT = "audit"  # 审计机关
    LAWYER = "lawyer"  # with a court investigation order (律师调查令)
    PARTY = "party"  # the party concerned (当事人): only their own recordings, no third-party data


EXTERNAL_CATEGORIES = frozenset(Category) - {Category.INTERNAL}


@dataclass(frozen=True)
class Person:
    """Someone acting, authenticated."""

    name: str
    role: Role
    officer_id: str | None = None  # 警号, as recordings.officer holds it

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.may(permission):
            allowed = ", ".join(r.value for r in Role if permission in ROLE_PERMISSIONS[r])
            raise NotPermitted(f"{self.name} ({self.role.value}) may not {permission.value}; allowed roles: {allowed}")


# -- tables ---------------------------------------------------------------------------

users = Table(
    "users",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("officer_id", String(PERSON_LENGTH), nullable=True, index=True),  # 警号 as in recordings.officer
    Column("display_name", String(PERSON_LENGTH), nullable=True),
    Column("password_hash", Text, nullable=True),  # argon2id PHC string
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
    Column("disabled_by", String(NAME_LENGTH), nullable=True),
)

user_tokens = Table(
    "user_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(NAME_LENGTH), ForeignKey("users.name"), nullable=False, index=True),
    Column("digest", String(64), nullable=False, unique=True),  # SHA-256 hex of the token; the token is not kept
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

user_events = Table(
    "user_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", UTCDateTime(), nullable=False),
    Column("actor", String(NAME_LENGTH), nullable=False),  # "(bootstrap)" for the first admin
    Column("user", String(NAME_LENGTH), nullable=False),
    Column("event", String(16), nullable=False),  # add, set-role, disable, token
    Column("detail", Text, nullable=False),
)
"""Changes to users, for listing; each row is also a USER log entry (:func:`_event`), which is what proves it."""

access_requests = Table(
    "access_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("requested_by", String(NAME_LENGTH), ForeignKey("users.name"), nullable=False),
    Column("action", String(16), nullable=False),  # copy, download, export
    Column("reason", Text, nullable=False),  # 事由
    Column("category", String(16), nullable=False),
    Column("document_ref", String(DOCUMENT_LENGTH), nullable=True),  # 文号, 律师调查令 number
    Column("requester", String(PERSON_LENGTH), nullable=True),  # the outside requester; committed in entries
    Column("party", String(PERSON_LENGTH), nullable=True),  # category party: whose recordings
    Column("created_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # pending, approved, denied
    Column("decided_by", String(NAME_LENGTH), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
)

access_grants = Table(
    "access_grants",
    metadata,
    Column("request", Integer, ForeignKey("access_requests.id"), nullable=False),
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=False),
    Column("approval_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=True),
    Column("used_at", UTCDateTime(), nullable=True),
    Column("access_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=True),
    PrimaryKeyConstraint("request", "recording"),
)

access_results = Table(
    "access_results",
    metadata,
    Column("entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False),
    Column("recording", String(64), nullable=False),
    PrimaryKeyConstraint("entry", "recording"),
    Index("ix_access_results_recording", "recording", "entry"),
)
"""The recordings a LIST entry showed; the entry holds their count and a SHA-256 over the sorted ids."""


# -- input ------------------------------------------------------------------------------


def checked_text(what: str, value: str, *, limit: int) -> str:
    """Trimmed, non-empty, at most ``limit`` characters, no control or format characters.

    The message never repeats the value: it may be a megabyte of hostile text.
    """
    text = value.strip()
    if not text:
        raise InvalidAccessInput(f"{what} is empty; give it in words")
    if len(text) > limit:
        raise InvalidAccessInput(f"{what} is {len(text)} characters long; at most {limit} are allowed")
    bad = next((c for c in text if unicodedata.category(c)[0] == "C"), None)
    if bad is not None:
        raise InvalidAccessInput(
            f"{what} contains the control character U+{ord(bad):04X} at position {text.index(bad)}; remove it"
        )
    return text


def checked_user_name(value: str) -> str:
    name = checked_text("user name", value, limit=NAME_LENGTH)
    if any(c.isspace() for c in name) or name.startswith("("):
        raise InvalidAccessInput(
            f"user name {name!r} is not valid: use letters (any script), digits, '.', '_' or '-', no spaces"
        )
    return name


def _optional(what: str, value: str | None, *, limit: int) -> str | None:
    return None if value is None or not value.strip() else checked_text(what, value, limit=limit)


# -- users --------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    officer_id: str | None
    display_name: str | None
    has_password: bool
    tokens: int  # active tokens
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    disabled_by: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.value,
            "officer_id": self.officer_id,
            "display_name": self.display_name,
            "password": self.has_password,
            "tokens": self.tokens,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "disabled_by": self.disabled_by,
        }


def role_of(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidAccessInput(f"role {text[:40]!r} is unknown: use one of {known}") from None


def hash_password(password: str) -> str:
    """The argon2id hash of a new password (slow on purpose: call it outside a transaction)."""
    if len(password) < MIN_PASSWORD:
        raise InvalidAccessInput(f"the password has {len(password)} characters; use at least {MIN_PASSWORD}")
    if len(password) > MAX_PASSWORD:
        raise InvalidAccessInput(f"the password is longer than {MAX_PASSWORD} characters")
    return _HASHER.hash(password)


def new_token() -> str:
    """A random API token (256 bits); only its SHA-256 is stored, so a fast hash is enough."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def has_users(conn: Connection) -> bool:
    return conn.execute(select(users.c.name).limit(1)).first() is not None


def _user_row(conn: Connection, name: str) -> Any:
    return conn.execute(select(users).where(users.c.name == name)).first()


def _event(
    conn: Connection,
    journal: Journal,
    *,
    time: datetime,
    actor: str,
    user: str,
    event: str,
    role: str,
    detail: str,
    extra: Mapping[str, JsonValue] | None = None,
    personal: Mapping[str, str] | None = None,
) -> int:
    """Record a change to a user: a ``user_events`` row and a USER log entry, in ``conn``'s transaction.

    Both commit with the change or neither does. ``detail`` and ``extra`` go
    into the log as they are: never pass a token, a password or a hash of one;
    a name goes in ``personal`` (committed). The entry names the row
    (``event_id``), so verify matches the two. Returns the entry's log index.
    """
    made = conn.execute(insert(user_events).values(time=time, actor=actor, user=user, event=event, detail=detail))
    body = {"action": event, "user": user, "actor": actor, "role": role, "detail": detail, **(extra or {})}
    body["event_id"] = _inserted_id(made)
    return journal.append(conn, EntryType.USER, recording=None, body=body, time=time, personal=personal)


def _inserted_id(result: Any) -> int:
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("an insert returned no id")
    return int(key[0])


def add_user(
    conn: Connection,
    *,
    journal: Journal,
    actor: Person | None,
    name: str,
    role: Role,
    officer_id: str | None = None,
    display_name: str | None = None,
    password_hash: str | None = None,
    time: datetime,
) -> str:
    """Add a user; returns the name as stored (trimmed).

    ``actor`` None is the bootstrap: allowed only for an admin while there is no user at all.
    """
    name = checked_user_name(name)
    officer_id = _optional("officer id (警号)", officer_id, limit=PERSON_LENGTH)
    display_name = _optional("display name", display_name, limit=PERSON_LENGTH)
    # Take the log's write lock without changing it: two first admins cannot race in.
    conn.execute(update(log_head).where(log_head.c.id == 1).values(size=log_head.c.size))
    if actor is None:
        if has_users(conn):
            raise NotAuthenticated(
                "users exist already: act as an admin (EVIDOCK_USER with EVIDOCK_TOKEN or EVIDOCK_PASSWORD) to add one"
            )
        if role is not Role.ADMIN:
            raise NotPermitted(f"the first user must be an admin (--role admin), not {role.value}")
    else:
        actor.require(Permission.MANAGE_USERS)
    if _user_row(conn, name) is not None:
        raise InvalidAccessInput(f"user {name!r} exists already; use `evidock users set-role` or pick another name")
    conn.execute(
        insert(users).values(
            name=name,
            role=role.value,
            officer_id=officer_id,
            display_name=display_name,
            password_hash=password_hash,
            created_at=time,
            created_by=actor.name if actor else "(bootstrap)",
        )
    )
    detail = f"role={role.value}" + (f", officer id {officer_id}" if officer_id else "")
    _event(
        conn,
        journal,
        time=time,
        actor=actor.name if actor else "(bootstrap)",
        user=name,
        event="add",
        role=role.value,
        detail=detail,
        extra={"officer_id": officer_id, "display_name": None},
        personal={"display_name": display_name} if display_name else None,
    )
    return name


def issue_token(conn: Connection, *, journal: Journal, actor: Person | None, name: str, time: datetime) -> str:
    """A new API token for ``name`` (by an admin, the user themself, or the bootstrap); shown once."""
    row = _user_row(conn, name)
    if row is None:
        raise InvalidAccessInput(f"no user {name[:NAME_LENGTH]!r}")
    if actor is not None and actor.name != name:
        actor.require(Permission.MANAGE_USERS)
    if row.disabled_at is not None:
        raise InvalidAccessInput(f"user {name!r} is disabled; a disabled user gets no token")
    token = new_token()
    by = actor.name if actor else "(bootstrap)"
    made = conn.execute(
        insert(user_tokens).values(user=name, digest=_token_digest(token), created_at=time, created_by=by)
    )
    _event(
        conn,
        journal,
        time=time,
        actor=by,
        user=name,
        event="token",
        role=row.role,
        detail="new API token",
        extra={"token_id": _inserted_id(made)},  # the row's number, never the token or its digest
    )
    return token


def _active_admins(conn: Connection) -> int:
    query = (
        select(func.count()).select_from(users).where(users.c.role == Role.ADMIN.value, users.c.disabled_at.is_(None))
    )
    return int(conn.execute(query).scalar_one())


def set_role(conn: Connection, *, journal: Journal, actor: Person, name: str, role: Role, time: datetime) -> None:
    actor.require(Permission.MANAGE_USERS)
    row = _user_row(conn, name)
    if row is None:
        raise InvalidAccessInput(f"no user {name[:NAME_LENGTH]!r}")
    if row.role == Role.ADMIN.value and role is not Role.ADMIN and _active_admins(conn) <= 1:
        raise NotPermitted(f"{name} is the last active admin; add another admin first")
    conn.execute(update(users).where(users.c.name == name).values(role=role.value))
    _event(
        conn,
        journal,
        time=time,
        actor=actor.name,
        user=name,
        event="set-role",
        role=role.value,
        detail=f"{row.role} -> {role.value}",
    )


def disable_user(conn: Connection, *, journal: Journal, actor: Person, name: str, reason: str, time: datetime) -> None:
    """Disable a user and revoke their tokens; the row stays (the log names them).

    The USER entry's ``role`` is the role the user held; ``detail`` is the reason.
    """
    actor.require(Permission.MANAGE_USERS)
    reason = checked_text("reason", reason, limit=REASON_LENGTH)
    row = _user_row(conn, name)
    if row is None:
        raise InvalidAccessInput(f"no user {name[:NAME_LENGTH]!r}")
    if row.disabled_at is not None:
        raise InvalidAccessInput(f"user {name!r} is disabled already")
    if row.role == Role.ADMIN.value and _active_admins(conn) <= 1:
        raise NotPermitted(f"{name} is the last active admin; add another admin first")
    conn.execute(update(users).where(users.c.name == name).values(disabled_at=time, disabled_by=actor.name))
    conn.execute(
        update(user_tokens)
        .where(user_tokens.c.user == name, user_tokens.c.revoked_at.is_(None))
        .values(revoked_at=time)
    )
    _event(conn, journal, time=time, actor=actor.name, user=name, event="disable", role=row.role, detail=reason)


def list_users(conn: Connection) -> list[User]:
    active = (
        select(user_tokens.c.user, func.count().label("n"))
        .where(user_tokens.c.revoked_at.is_(None))
        .group_by(user_tokens.c.user)
        .subquery()
    )
    rows = conn.execute(
        select(users, func.coalesce(active.c.n, 0).label("tokens"))
        .outerjoin(active, active.c.user == users.c.name)
        .order_by(users.c.name)
    )
    return [
        User(
            name=r.name,
            role=Role(r.role),
            officer_id=r.officer_id,
            display_name=r.display_name,
            has_password=r.password_hash is not None,
            tokens=int(r.tokens),
            created_at=r.created_at,
            created_by=r.created_by,
            disabled_at=r.disabled_at,
            disabled_by=r.disabled_by,
        )
        for r in rows
    ]


_DUMMY_HASH: list[str] = []


def _burn_password_time(password: str) -> None:
    """Verify against a throwaway hash, so an unknown user takes as long as a wrong password."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(_HASHER.hash(secrets.token_hex(16)))
    with contextlib.suppress(argon2.exceptions.VerificationError):
        _HASHER.verify(_DUMMY_HASH[0], password)


def authenticate(conn: Connection, name: str, *, token: str | None, password: str | None) -> Person:
    """The person ``name`` proved to be by an API token or a password; one message for every failure."""
    refused = NotAuthenticated(
        f"user {name[:NAME_LENGTH]!r} is unknown or disabled, or the token/password is wrong "
        "(check EVIDOCK_USER and EVIDOCK_TOKEN or EVIDOCK_PASSWORD)"
    )
    row = _user_row(conn, name) if 0 < len(name) <= NAME_LENGTH else None
    if token is not None:
        found = conn.execute(
            select(user_tokens.c.user).where(
                user_tokens.c.digest == _token_digest(token), user_tokens.c.revoked_at.is_(None)
            )
        ).first()
        ok = row is not None and found is not None and found.user == row.name
    elif password is not None:
        if row is None or row.password_hash is None:
            _burn_password_time(password)
            ok = False
        else:
            try:
                ok = _HASHER.verify(row.password_hash, password)
            except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
                ok = False
    else:
        raise NotAuthenticated(f"no token or password given for {name[:NAME_LENGTH]!r}")
    if not ok or row is None or row.disabled_at is not None:
        log.warning("authentication refused for user %r", name[:NAME_LENGTH])
        raise refused
    return Person(name=row.name, role=Role(row.role), officer_id=row.officer_id)


def approver(conn: Connection, name: str, *, actor: Person) -> str:
    """The second person of a two-person rule: ``name`` is an active user who may approve, not ``actor``.

    The approver is named, not authenticated: the acting person vouches for them, and both are logged.
    """
    given = checked_user_name(name)
    row = _user_row(conn, given)
    if row is None or row.disabled_at is not None:
        raise ApprovalError(f"approver {given!r} is not an active user: name a custodian who approved")
    if Permission.APPROVE not in ROLE_PERMISSIONS[Role(row.role)]:
        raise NotPermitted(f"approver {row.name} ({row.role}) may not approve: name a custodian")
    if delivery_checks.same_name(row.name, actor.name):
        raise ApprovalError(f"{row.name} cannot approve their own action: a second custodian must approve")
    return str(row.name)


def officers_by_user(conn: Connection) -> dict[str, str]:
    """User name -> officer id (警号), for the users that have one."""
    rows = conn.execute(select(users.c.name, users.c.officer_id).where(users.c.officer_id.is_not(None)))
    return {str(name): str(officer) for name, officer in rows}


# -- requests ---------------------------------------------------------------------------


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"


@dataclass(frozen=True)
class Grant:
    recording: str
    approval_entry: int | None
    used_at: datetime | None
    access_entry: int | None


@dataclass(frozen=True)
class AccessRequest:
    id: int
    requested_by: str
    action: Action
    reason: str
    category: Category
    document_ref: str | None
    requester: str | None  # the outside requester (a court, a lawyer)
    party: str | None  # category party: whose recordings
    created_at: datetime
    status: RequestStatus
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    expires_at: datetime | None
    grants: tuple[Grant, ...]

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now > self.expires_at

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "requested_by": self.requested_by,
            "action": self.action.value,
            "reason": self.reason,
            "category": self.category.value,
            "document_ref": self.document_ref,
            "requester": self.requester,
            "party": self.party,
            "created_at": self.created_at.isoformat(),
            "status": self.status.value,
            "expired": self.expired(now),
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "decision_reason": self.decision_reason,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "recordings": [
                {
                    "id": g.recording,
                    "approval_entry": g.approval_entry,
                    "used_at": g.used_at.isoformat() if g.used_at else None,
                    "access_entry": g.access_entry,
                }
                for g in self.grants
            ],
        }


def _request(conn: Connection, request_id: int) -> AccessRequest:
    row = conn.execute(select(access_requests).where(access_requests.c.id == request_id)).first()
    if row is None:
        raise ApprovalError(f"no access request {request_id}")
    grants = conn.execute(
        select(access_grants).where(access_grants.c.request == request_id).order_by(access_grants.c.recording)
    )
    return AccessRequest(
        id=int(row.id),
        requested_by=row.requested_by,
        action=Action(row.action),
        reason=row.reason,
        category=Category(row.category),
        document_ref=row.document_ref,
        requester=row.requester,
        party=row.party,
        created_at=row.created_at,
        status=RequestStatus(row.status),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        expires_at=row.expires_at,
        grants=tuple(
            Grant(
                recording=g.recording,
                approval_entry=None if g.approval_entry is None else int(g.approval_entry),
                used_at=g.used_at,
                access_entry=None if g.access_entry is None else int(g.access_entry),
            )
            for g in grants
        ),
    )


def disclosed(recording: recordings_db.Recording, label: cases.Label | None, *, party: str | None) -> dict[str, Any]:
    """What a disclosure says about one recording: a fixed list of fields, never more.

    For the party concerned (``party`` given) the parties are only that party:
    other parties' names and any complainant or reporter data never leave.
    """
    view: dict[str, Any] = {
        "id": recording.id,
        "sha256": recording.id,
        "size": recording.size,
        "kind": recording.kind,
        "device": recording.device,
        "officer": recording.officer,
        "start_raw": recording.start_raw.isoformat() if recording.start_raw else None,
        "end_raw": recording.end_raw.isoformat() if recording.end_raw else None,
        "duration_ms": recording.duration_ms,
        "case_number": label.case_number if label else None,
        "handler": label.handler if label else None,
    }
    if party is not None:
        view["parties"] = [party]
    else:
        view["parties"] = list(label.parties) if label else []
    return view


# -- the gate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessPolicy:
    approval_expiry: timedelta = timedelta(hours=72)  # an approval is usable this long after the decision


@dataclass(frozen=True)
class RecordingView:
    """One recording's metadata as a person reads it, and the ACCESS entry that registered the read."""

    recording: recordings_db.Recording
    label: cases.Label | None
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


class Content:
    """Content whose ACCESS entry is committed; ``chunks()`` streams it and checks its SHA-256 at the end."""

    def __init__(
        self,
        store: ObjectStore,
        recording: recordings_db.Recording,
        *,
        entry: int,
        request: AccessRequest | None,
        approval_entry: int | None,
        disclosure: dict[str, Any],
    ) -> None:
        self.recording = recording
        self.entry = entry
        self.request = request
        self.approval_entry = approval_entry
        self.disclosed = disclosure
        self._store = store
        self._started = False

    def chunks(self) -> Iterator[bytes]:
        """The original bytes, once; raises StorageError at the end if they are not the recording's."""
        if self._started:
            raise RuntimeError("content is streamed once per ACCESS entry; open it again through the gate")
        self._started = True
        rec = self.recording
        digest = hashlib.sha256()
        size = 0
        for chunk in self._store._stream(StoredVersion(rec.object_key, rec.version_id, rec.size)):
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        if size != rec.size or digest.hexdigest() != rec.id:
            raise StorageError(
                f"the stored object of recording {rec.id} does not match it: expected {rec.size} bytes with "
                f"SHA-256 {rec.id}, read {size} bytes with SHA-256 {digest.hexdigest()}; run `evidock verify --deep`"
            )

    def byte_range(self, first: int, last: int) -> Iterator[bytes]:
        """Bytes ``first``..``last`` (inclusive) of the original, once: an HTTP Range of a playback.

        A part cannot be checked against the whole file's SHA-256; its length is
        checked, and ``evidock verify --deep`` re-hashes every stored object.
        """
        rec = self.recording
        if not 0 <= first <= last < rec.size:
            raise ValueError(f"range {first}-{last} is outside the {rec.size} bytes of recording {rec.id[:12]}")
        if first == 0 and last == rec.size - 1:
            yield from self.chunks()
            return
        if self._started:
            raise RuntimeError("content is streamed once per ACCESS entry; open it again through the gate")
        self._started = True
        wanted = last - first + 1
        size = 0
        version = StoredVersion(rec.object_key, rec.version_id, rec.size)
        for chunk in self._store._stream(version, offset=first, length=wanted):
            size += len(chunk)
            yield chunk
        if size != wanted:
            raise StorageError(
                f"the stored object of recording {rec.id} gave {size} bytes for a range of {wanted}; "
                "run `evidock verify --deep`"
            )


class Gate:
    """Every read of a recording by a person, registered in the log before a byte is returned."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        journal: Journal,
        store: ObjectStore,
        policy: AccessPolicy = AccessPolicy(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._catalog = catalog
        self._journal = journal
        self._store = store
        self._policy = policy
        self._clock = clock

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
            label = cases.latest_labels(conn, [found.id]).get(found.id)
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

    # -- requests and approvals -------------------------------------------------------------

    def request(
        self,
        person: Person,
        recordings: Sequence[str],
        *,
        action: Action,
        reason: str,
        category: Category,
        document_ref: str | None,
        requester: str | None = None,
        party: str | None = None,
    ) -> AccessRequest:
        """Ask for a copy, download or export of ``recordings`` (ids or unique prefixes)."""
        person.require(Permission.REQUEST_COPY)
        if action not in APPROVED_ACTIONS:
            raise InvalidAccessInput(
                f"--action {action.value} needs no request; ask for one of "
                f"{', '.join(sorted(a.value for a in APPROVED_ACTIONS))}"
            )
        reason = checked_text("reason (事由)", reason, limit=REASON_LENGTH)
        document_ref = _optional("document reference (文号)", document_ref, limit=DOCUMENT_LENGTH)
        requester = _optional("requester", requester, limit=PERSON_LENGTH)
        party = _optional("party (当事人)", party, limit=PERSON_LENGTH)
        if category in EXTERNAL_CATEGORIES and document_ref is None:
            lawyer = category is Category.LAWYER
            what = "the court investigation order (律师调查令)" if lawyer else "the official letter (公函)"
            raise InvalidAccessInput(
                f"a {category.value} request needs a document reference (文号): give --document with the number of "
                f"{what} (art. 29, 第二十九条)"
            )
        if (category is Category.PARTY) != (party is not None):
            raise InvalidAccessInput(
                "--party names the party concerned (当事人) and goes with --category party only (art. 29)"
            )
        if not recordings:
            raise InvalidAccessInput("name at least one recording")
        if len(recordings) > MAX_RECORDINGS_PER_REQUEST:
            raise InvalidAccessInput(
                f"{len(recordings)} recordings in one request; at most {MAX_RECORDINGS_PER_REQUEST}: split it"
            )
        now = self._clock()
        with self._catalog.begin() as conn:
            ids = list(dict.fromkeys(recordings_db.resolve(conn, r).id for r in recordings))
            if party is not None:
                labels = cases.latest_labels(conn, ids)
                for rid in ids:
                    label = labels.get(rid)
                    if label is None or not any(delivery_checks.same_name(party, p) for p in label.parties):
                        # Never say whose recording it is instead: that would disclose a third party.
                        raise ApprovalError(
                            f"recording {rid[:12]} is not labelled with the party named; a party request may only "
                            "hold the party's own recordings (art. 29, 第二十九条)"
                        )
            result = conn.execute(
                insert(access_requests).values(
                    requested_by=person.name,
                    action=action.value,
                    reason=reason,
                    category=category.value,
                    document_ref=document_ref,
                    requester=requester or party,
                    party=party,
                    created_at=now,
                    status=RequestStatus.PENDING.value,
                )
            )
            request_id = _inserted_id(result)
            conn.execute(insert(access_grants), [{"request": request_id, "recording": rid} for rid in ids])
            body: dict[str, object] = {
                "request": request_id,
                "requested_by": person.name,
                "role": person.role.value,
                "action": action.value,
                "reason": reason,
                "requester_category": category.value,
                "document_ref": document_ref,
                "requester": None,
                "party": None,
            }
            named = {"requester": requester or party, "party": party}
            personal = {k: v for k, v in named.items() if v is not None} or None
            self._journal.append_many(
                conn, [NewEntry(EntryType.REQUEST, rid, body, now, personal) for rid in ids]
            )  # one per recording, in its custody chain, as the decision's APPROVAL entries
            return _request(conn, request_id)

    def decide(self, person: Person, request_id: int, *, approve: bool, reason: str) -> AccessRequest:
        """Approve or deny a pending request: one APPROVAL entry per recording, in one transaction."""
        person.require(Permission.APPROVE)
        reason = checked_text("reason (事由)", reason, limit=REASON_LENGTH)
        now = self._clock()
        with self._catalog.begin() as conn:
            asked = _request(conn, request_id)
            if asked.requested_by == person.name:
                raise ApprovalError(
                    f"{person.name} asked for request {request_id} and cannot decide it: the two-person rule "
                    "needs another custodian (art. 29, 第二十九条)"
                )
            decision = RequestStatus.APPROVED if approve else RequestStatus.DENIED
            expires = now + self._policy.approval_expiry if approve else None
            changed = conn.execute(
                update(access_requests)
                .where(access_requests.c.id == request_id, access_requests.c.status == RequestStatus.PENDING.value)
                .values(
                    status=decision.value,
                    decided_by=person.name,
                    decided_at=now,
                    decision_reason=reason,
                    expires_at=expires,
                )
            )
            if changed.rowcount != 1:
                raise ApprovalError(f"request {request_id} is {asked.status.value} already; a decision is final")
            body: dict[str, object] = {
                "approver": person.name,
                "role": person.role.value,
                "action": asked.action.value,
                "decision": decision.value,
                "reason": reason,
                "request": asked.id,
                "requested_by": asked.requested_by,
                "requester_category": asked.category.value,
                "document_ref": asked.document_ref,
                "expires": expires,
            }
            for grant in asked.grants:
                index = self._journal.append(
                    conn,
                    EntryType.APPROVAL,
                    recording=grant.recording,
                    body=body,
                    time=now,
                    personal={"requester": asked.requester} if asked.requester else None,
                )
                conn.execute(
                    update(access_grants)
                    .where(access_grants.c.request == request_id, access_grants.c.recording == grant.recording)
                    .values(approval_entry=index)
                )
            return _request(conn, request_id)

    def get_request(self, person: Person, request_id: int) -> AccessRequest:
        with self._catalog.read() as conn:
            found = _request(conn, request_id)
        if found.requested_by != person.name and not (person.may(Permission.APPROVE) or person.may(Permission.AUDIT)):
            raise NotPermitted(f"request {request_id} is not yours; custodians and auditors see every request")
        return found

    def list_requests(self, person: Person, *, pending_only: bool = False) -> list[AccessRequest]:
        query = select(access_requests.c.id).order_by(access_requests.c.id)
        if pending_only:
            query = query.where(access_requests.c.status == RequestStatus.PENDING.value)
        if not (person.may(Permission.APPROVE) or person.may(Permission.AUDIT)):
            query = query.where(access_requests.c.requested_by == person.name)
        with self._catalog.read() as conn:
            return [_request(conn, int(i)) for (i,) in conn.execute(query)]

    # -- content --------------------------------------------------------------------------

    def open_content(
        self,
        person: Person,
        recording: str,
        *,
        action: Action,
        reason: str | None = None,
        request_id: int | None = None,
    ) -> Content:
        """Register a read of content and return it; its bytes flow only after the entry is committed.

        ``view`` and ``stream`` need a reason; ``download``, ``copy`` and ``export``
        need ``request_id``: an approved, unexpired request of this person's for
        this action, not yet used for this recording.
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
            found = self._readable(conn, recording)
            label = cases.latest_labels(conn, [found.id]).get(found.id)
        entry = self._register(person, recording=found.id, action=action, reason=why)
        return Content(
            self._store,
            found,
            entry=entry,
            request=None,
            approval_entry=None,
            disclosure=disclosed(found, label, party=None),
        )

    def _readable(self, conn: Connection, recording: str) -> recordings_db.Recording:
        found = recordings_db.resolve(conn, recording)
        gone = cases.tombstone(conn, found.id)
        if gone is not None:
            raise NotFound(
                f"recording {found.id[:12]} was purged after its retention ended (PURGE entry {gone.purge_entry}); "
                "its content is gone"
            )
        return found

    def check_grant(
        self, person: Person, recording: str, *, action: Action, request_id: int
    ) -> tuple[recordings_db.Recording, AccessRequest, Grant]:
        """Whether ``person`` may use request ``request_id`` for ``action`` on ``recording`` now; nothing is written.

        Raises ``ApprovalError`` (or ``NotPermitted``) saying why not. A job that
        reads several recordings checks them all first, so a refusal uses up no
        approval and writes no entry. The same checks run again inside the
        transaction that writes the ACCESS entry (``_approved_content``): what was
        true at request or approval time (the party's label, the approver's
        rights) may have changed since.
        """
        person.require(Permission.REQUEST_COPY)
        with self._catalog.read() as conn:
            return self._grant_in(conn, person, recording, action=action, request_id=request_id)

    def _grant_in(
        self, conn: Connection, person: Person, recording: str, *, action: Action, request_id: int
    ) -> tuple[recordings_db.Recording, AccessRequest, Grant]:
        """Every condition of an approved disclosure, read in ``conn`` (see ``check_grant``)."""
        now = self._clock()
        found = self._readable(conn, recording)
        asked = _request(conn, request_id)
        if asked.requested_by != person.name:
            raise ApprovalError(f"request {request_id} was made by someone else; only the requester may use it")
        if asked.status is not RequestStatus.APPROVED:
            raise ApprovalError(f"request {request_id} is {asked.status.value}, not approved")
        if asked.action is not action:
            raise ApprovalError(f"request {request_id} approves {asked.action.with_article}, not {action.with_article}")
        if asked.expired(now):
            expired_at = asked.expires_at.isoformat() if asked.expires_at else "?"
            raise ApprovalError(f"the approval of request {request_id} expired at {expired_at}; ask again")
        grant = next((g for g in asked.grants if g.recording == found.id), None)
        if grant is None:
            raise ApprovalError(f"recording {found.id[:12]} is not in request {request_id}")
        if grant.used_at is not None:
            raise ApprovalError(
                f"request {request_id} was already used for recording {found.id[:12]} (ACCESS entry "
                f"{grant.access_entry}): an approval is single-use; ask again"
            )
        label = cases.latest_labels(conn, [found.id]).get(found.id)
        approver = _user_row(conn, asked.decided_by) if asked.decided_by else None
        problem = delivery_checks.refusal(
            party=asked.party,
            labelled_parties=label.parties if label else None,
            approver_may_approve=approver is not None
            and approver.disabled_at is None
            and Permission.APPROVE in ROLE_PERMISSIONS[Role(approver.role)],
        )
        if problem is not None:
            log.warning("request %d refused at delivery of %s: %s", request_id, found.id[:12], problem)
            raise ApprovalError(f"request {request_id} can no longer be used for recording {found.id[:12]}: {problem}")
        return found, asked, grant

    def _approved_content(self, person: Person, recording: str, *, action: Action, request_id: int) -> Content:
        found, asked, grant = self.check_grant(person, recording, action=action, request_id=request_id)
        with self._catalog.read() as conn:
            label = cases.latest_labels(conn, [found.id]).get(found.id)
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
            extra={"request": asked.id},
            consume=asked.id,
            recheck=lambda conn: self._grant_in(conn, person, found.id, action=action, request_id=request_id),
        )
        return Content(
            self._store,
            found,
            entry=entry,
            request=asked,
            approval_entry=grant.approval_entry,
            disclosure=disclosed(found, label, party=asked.party),
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
            action = _request(conn, request_id).action
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
            size=content.recording.size,
            sha256=content.recording.id,
            entry=content.entry,
            request=request_id,
            approval_entry=content.approval_entry,
            disclosed=content.disclosed,
        )


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


# -- the audit trail -------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessRow:
    """One ACCESS entry as the audit reads it back from the log."""

    entry: int  # log index: `evidock log proof --entry N` proves it
    time: datetime
    station: str
    recording: str | None
    actor: str
    role: str
    action: str
    reason: str
    approver: str | None
    approval: int | None
    category: str | None
    document_ref: str | None
    request: int | None
    listed: int  # recordings a LIST entry showed (0 otherwise)

    def as_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "time": self.time.isoformat(),
            "station": self.station,
            "recording": self.recording,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "reason": self.reason,
            "approver": self.approver,
            "approval": self.approval,
            "requester_category": self.category,
            "document_ref": self.document_ref,
            "request": self.request,
            "listed": self.listed,
        }


def _text_or_none(value: JsonValue) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: JsonValue) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _access_row(index: int, data: bytes) -> AccessRow:
    entry = chain_entries.decode(data)
    body = entry.body
    count = _int_or_none(body.get("count"))
    return AccessRow(
        entry=index,
        time=entry.timestamp,
        station=entry.station,
        recording=entry.recording,
        actor=str(body["actor"]),
        role=str(body["role"]),
        action=str(body["action"]),
        reason=str(body["reason"]),
        approver=_text_or_none(body.get("approver")),
        approval=_int_or_none(body.get("approval")),
        category=_text_or_none(body.get("requester_category")),
        document_ref=_text_or_none(body.get("document_ref")),
        request=_int_or_none(body.get("request")),
        listed=count if body.get("action") == Action.LIST.value and count is not None else 0,
    )


def recordings_of_case(conn: Connection, case_number: str) -> set[str]:
    """Every recording ever labelled with ``case_number`` (案号)."""
    rows = conn.execute(select(cases.labels.c.recording).where(cases.labels.c.case_number == case_number))
    return {r for (r,) in rows}


def audit_trail(
    conn: Connection,
    *,
    recordings: Collection[str] | None = None,
    user: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: int | None = None,
) -> list[AccessRow]:
    """ACCESS entries from the log, oldest first; ``recordings`` also matches searches that listed them."""
    query = select(log_entries.c.idx, log_entries.c.data).where(log_entries.c.type == EntryType.ACCESS.value)
    if since is not None:
        query = query.where(log_entries.c.time >= since)
    if until is not None:
        query = query.where(log_entries.c.time < until)
    if before is not None:
        query = query.where(log_entries.c.idx < before)
    rows = [_access_row(int(i), bytes(d)) for i, d in conn.execute(query.order_by(log_entries.c.idx))]
    if user is not None:
        rows = [r for r in rows if r.actor == user]
    if recordings is not None:
        wanted = set(recordings)
        listing = {r.entry for r in rows if r.action == Action.LIST.value}
        showed: set[int] = set()
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 400):  # SQLite limits bound parameters per statement
            found = conn.execute(
                select(access_results.c.entry).where(access_results.c.recording.in_(ordered[start : start + 400]))
            )
            showed.update(int(e) for (e,) in found if int(e) in listing)
        rows = [r for r in rows if r.recording in wanted or r.entry in showed]
    return rows


# -- anomalies ---------------------------------------------------------------------------------


class AnomalyKind(StrEnum):
    OWN_EVIDENCE = "own_evidence"  # the recording officer reading their own recording that is evidence
    OUTSIDE_HOURS = "outside_hours"  # outside working hours (working days, config access.working_hours)
    BULK = "bulk"  # more than access.bulk_threshold recordings by one person within an hour
    NO_APPROVAL = "no_approval"  # a copy/download/export without a matching approval: only tampering does that
    EXPORT = "export"  # every export, for review


@dataclass(frozen=True)
class Anomaly:
    kind: AnomalyKind
    entry: int  # the log entry to look at (and prove with `evidock log proof --entry N`)
    time: datetime
    actor: str
    recording: str | None
    detail: str
    entries: tuple[int, ...] = ()  # for bulk: every entry of the burst

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "entry": self.entry,
            "time": self.time.isoformat(),
            "actor": self.actor,
            "recording": self.recording,
            "detail": self.detail,
            "entries": list(self.entries),
        }


@dataclass(frozen=True)
class ApprovalFact:
    """An APPROVAL entry, as an ACCESS entry's ``approval`` must match it."""

    entry: int
    time: datetime
    recording: str | None
    approver: str
    action: str
    decision: str
    request: int | None
    requested_by: str | None
    expires: datetime | None


@dataclass(frozen=True)
class ExportFact:
    """An EXPORT entry (a recording put on a disc export)."""

    entry: int
    time: datetime
    recording: str | None
    by: str


@dataclass(frozen=True)
class AnomalyFacts:
    approvals: Mapping[int, ApprovalFact] = field(default_factory=dict)
    officer_of: Mapping[str, str] = field(default_factory=dict)  # user name -> officer id (警号)
    recording_officer: Mapping[str, str | None] = field(default_factory=dict)
    evidence: Mapping[str, Sequence[tuple[datetime, datetime | None]]] = field(default_factory=dict)  # designations
    exports: Sequence[ExportFact] = ()


def anomaly_facts(conn: Connection, rows: Sequence[AccessRow], *, before: int | None = None) -> AnomalyFacts:
    """What :func:`find_anomalies` needs besides the rows, read from the log and the catalog."""
    wanted = sorted({r.approval for r in rows if r.approval is not None})
    approvals: dict[int, ApprovalFact] = {}
    for start in range(0, len(wanted), 400):
        found = conn.execute(
            select(log_entries.c.idx, log_entries.c.data).where(log_entries.c.idx.in_(wanted[start : start + 400]))
        )
        for idx, data in found:
            entry = chain_entries.decode(bytes(data))
            if entry.type is not EntryType.APPROVAL:
                continue
            body = entry.body
            expires = body.get("expires")
            approvals[int(idx)] = ApprovalFact(
                entry=int(idx),
                time=entry.timestamp,
                recording=entry.recording,
                approver=str(body["approver"]),
                action=str(body["action"]),
                decision=str(body["decision"]),
                request=_int_or_none(body.get("request")),
                requested_by=_text_or_none(body.get("requested_by")),
                expires=chain_entries.parse_time(expires) if isinstance(expires, str) else None,
            )
    about = sorted({r.recording for r in rows if r.recording is not None})
    officers: dict[str, str | None] = {}
    for start in range(0, len(about), 400):
        found_officers = conn.execute(
            select(recordings_table.c.id, recordings_table.c.officer).where(
                recordings_table.c.id.in_(about[start : start + 400])
            )
        )
        officers.update({str(rid): officer for rid, officer in found_officers})
    evidence: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for d in cases.designations(conn):
        evidence.setdefault(d.recording, []).append((d.added_at, d.released_at))
    export_query = select(log_entries.c.idx, log_entries.c.data).where(log_entries.c.type == EntryType.EXPORT.value)
    if before is not None:
        export_query = export_query.where(log_entries.c.idx < before)
    exports = []
    for idx, data in conn.execute(export_query.order_by(log_entries.c.idx)):
        entry = chain_entries.decode(bytes(data))
        by = entry.body.get("extractor") or entry.body.get("maker") or ""
        exports.append(ExportFact(int(idx), entry.timestamp, entry.recording, str(by)))
    return AnomalyFacts(
        approvals=approvals,
        officer_of=officers_by_user(conn),
        recording_officer=officers,
        evidence=evidence,
        exports=exports,
    )


def _was_evidence(periods: Sequence[tuple[datetime, datetime | None]], moment: datetime) -> bool:
    return any(start <= moment and (end is None or moment < end) for start, end in periods)


def _approval_problem(row: AccessRow, facts: AnomalyFacts, used: set[int]) -> str | None:
    if row.approval is None:
        return "no approval named"
    found = facts.approvals.get(row.approval)
    checks = (
        (found is None, f"entry {row.approval} is not an APPROVAL entry"),
        (found is not None and found.entry >= row.entry, "the approval comes after the access"),
        (found is not None and found.decision != RequestStatus.APPROVED.value, "the request was denied"),
        (found is not None and found.recording != row.recording, "the approval is for another recording"),
        (found is not None and found.action != row.action, "the approval is for another action"),
        (found is not None and found.approver != row.approver, "the approver differs from the approval's"),
        (found is not None and found.approver == row.actor, "self-approved"),
        (found is not None and found.requested_by != row.actor, "the approval was asked for by someone else"),
        (found is not None and found.request != row.request, "the request differs from the approval's"),
        (found is not None and (found.expires is None or row.time > found.expires), "the approval had expired"),
        (row.approval in used, "the approval was used before (single-use)"),
    )
    return next((problem for bad, problem in checks if bad), None)


def find_anomalies(
    rows: Sequence[AccessRow],
    facts: AnomalyFacts,
    *,
    is_working_time: Callable[[datetime], bool],
    bulk_threshold: int,
    bulk_window: timedelta = timedelta(hours=1),
) -> list[Anomaly]:
    """The accesses an auditor should look at (pure: values in, anomalies out), ordered by entry."""
    found: list[Anomaly] = []
    used: set[int] = set()
    for row in sorted(rows, key=lambda r: r.entry):
        if row.recording is not None:
            officer = facts.officer_of.get(row.actor)
            mine = officer is not None and facts.recording_officer.get(row.recording) == officer
            if mine and _was_evidence(facts.evidence.get(row.recording, ()), row.time):
                found.append(
                    Anomaly(
                        AnomalyKind.OWN_EVIDENCE,
                        row.entry,
                        row.time,
                        row.actor,
                        row.recording,
                        f"officer {officer} ({row.actor}) read their own recording, which is evidence ({row.action})",
                    )
                )
        if not is_working_time(row.time):
            found.append(
                Anomaly(
                    AnomalyKind.OUTSIDE_HOURS,
                    row.entry,
                    row.time,
                    row.actor,
                    row.recording,
                    f"{row.action} outside working hours",
                )
            )
        if row.action in {a.value for a in APPROVED_ACTIONS}:
            problem = _approval_problem(row, facts, used)
            if problem is not None:
                found.append(
                    Anomaly(
                        AnomalyKind.NO_APPROVAL,
                        row.entry,
                        row.time,
                        row.actor,
                        row.recording,
                        f"{row.action} without a matching approval: {problem}",
                    )
                )
            if row.approval is not None:
                used.add(row.approval)
        if row.action == Action.EXPORT.value:
            found.append(Anomaly(AnomalyKind.EXPORT, row.entry, row.time, row.actor, row.recording, "export (review)"))
    for export in facts.exports:
        found.append(
            Anomaly(AnomalyKind.EXPORT, export.entry, export.time, export.by, export.recording, "disc export (review)")
        )
    found += _bulk(rows, threshold=bulk_threshold, window=bulk_window)
    return sorted(found, key=lambda a: (a.entry, a.kind.value))


def _bulk(rows: Sequence[AccessRow], *, threshold: int, window: timedelta) -> list[Anomaly]:
    """Per person: a burst of more than ``threshold`` distinct recordings within ``window``, reported once."""
    by_actor: dict[str, list[AccessRow]] = {}
    for row in rows:
        if row.recording is not None:
            by_actor.setdefault(row.actor, []).append(row)
    found = []
    for actor, mine in sorted(by_actor.items()):
        mine.sort(key=lambda r: (r.time, r.entry))
        start = 0
        in_burst = False
        for end, row in enumerate(mine):
            while mine[start].time <= row.time - window:
                start += 1
            inside = mine[start : end + 1]
            distinct = {r.recording for r in inside}
            if len(distinct) > threshold and not in_burst:
                in_burst = True
                found.append(
                    Anomaly(
                        AnomalyKind.BULK,
                        row.entry,
                        row.time,
                        actor,
                        None,
                        f"{len(distinct)} recordings within {window.total_seconds() / 60:g} minutes "
                        f"(more than {threshold})",
                        tuple(r.entry for r in inside),
                    )
                )
            elif len(distinct) <= threshold:
                in_burst = False
    return found
