"""People: users, roles and what each may do, passwords and API tokens, and who proved to be whom.

Every change to people and their rights (a user added, a role changed, a user
disabled, an API token issued) appends a USER entry in the change's own
transaction, so the signed log proves who was given which role, by whom and
when; it never holds a token, a password or a hash of either.

The checks of typed-in text (:func:`checked_text`) are here too: a name, a
reason (事由) or a document reference is refused before anything is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import argon2
from sqlalchemy import Connection, func, insert, select, update

from access.disclosure import same_name
from access.errors import ApprovalError, InvalidAccessInput, NotAuthenticated, NotPermitted
from chain.entries import EntryType, JsonValue
from storage.journal import Journal
from storage.rows import from_row, inserted_id
from storage.schema import NAME_LENGTH, PERSON_LENGTH, log_head, user_events, user_tokens, users

log = logging.getLogger(__name__)

REASON_LENGTH = 2000  # characters of a reason (事由); the log keeps it whole
MIN_PASSWORD = 12  # characters
MAX_PASSWORD = 1024  # characters; argon2 hashes anything, but nobody types more
TOKEN_PREFIX = "evk_"  # noqa: S105 - the prefix of generated tokens, not a secret

# argon2id (RFC 9106) with argon2-cffi's defaults: 3 passes over 64 MiB, 4 lanes.
_HASHER = argon2.PasswordHasher()


# -- roles and permissions -------------------------------------------------------------


class Role(StrEnum):
    STATION = "station"  # a dock station's service account: ingest only
    OFFICER = "officer"  # 执法人员: views recordings, asks for copies
    CUSTODIAN = "custodian"  # 档案管理员 / 承办人: views, asks, approves others' requests
    AUDITOR = "auditor"  # 法制/监察/审计: reads the audit trail and runs verify; never content
    LEGAL = "legal"  # 法制审核机构: reviews major decisions; reads their case files through the gate
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
    DECIDE = "record a case's decision and submit it for legal review (承办)"
    REVIEW = "review major decisions (法制审核)"
    PUBLISH = "publish decisions (公示), record exclusions and withdrawals"


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
            Permission.DECIDE,
            Permission.PUBLISH,
        }
    ),
    Role.AUDITOR: frozenset({Permission.READ_METADATA, Permission.AUDIT, Permission.VERIFY, Permission.REPORTS}),
    Role.LEGAL: frozenset({Permission.READ_METADATA, Permission.VIEW_CONTENT, Permission.REVIEW, Permission.REPORTS}),
    Role.ADMIN: frozenset({Permission.MANAGE_USERS, Permission.VERIFY}),
}
"""What each role may do; docs/access.md shows the same table and which command needs which permission."""


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


def optional_text(what: str, value: str | None, *, limit: int) -> str | None:
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


def user_row(conn: Connection, name: str) -> Any:
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
    body["event_id"] = inserted_id(made)
    return journal.append(conn, EntryType.USER, recording=None, body=body, time=time, personal=personal)


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
    officer_id = optional_text("officer id (警号)", officer_id, limit=PERSON_LENGTH)
    display_name = optional_text("display name", display_name, limit=PERSON_LENGTH)
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
    if user_row(conn, name) is not None:
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
    row = user_row(conn, name)
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
        extra={"token_id": inserted_id(made)},  # the row's number, never the token or its digest
    )
    return token


def _active_admins(conn: Connection) -> int:
    query = (
        select(func.count()).select_from(users).where(users.c.role == Role.ADMIN.value, users.c.disabled_at.is_(None))
    )
    return int(conn.execute(query).scalar_one())


def set_role(conn: Connection, *, journal: Journal, actor: Person, name: str, role: Role, time: datetime) -> None:
    actor.require(Permission.MANAGE_USERS)
    row = user_row(conn, name)
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
    row = user_row(conn, name)
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
        from_row(User, r, role=Role(r.role), has_password=r.password_hash is not None, tokens=int(r.tokens))
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
    row = user_row(conn, name) if 0 < len(name) <= NAME_LENGTH else None
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
    row = user_row(conn, given)
    if row is None or row.disabled_at is not None:
        raise ApprovalError(f"approver {given!r} is not an active user: name a custodian who approved")
    if Permission.APPROVE not in ROLE_PERMISSIONS[Role(row.role)]:
        raise NotPermitted(f"approver {row.name} ({row.role}) may not approve: name a custodian")
    if same_name(row.name, actor.name):
        raise ApprovalError(f"{row.name} cannot approve their own action: a second custodian must approve")
    return str(row.name)


def officers_by_user(conn: Connection) -> dict[str, str]:
    """User name -> officer id (警号), for the users that have one."""
    rows = conn.execute(select(users.c.name, users.c.officer_id).where(users.c.officer_id.is_not(None)))
    return {str(name): str(officer) for name, officer in rows}
