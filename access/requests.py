"""Requests for a copy, download or export, their approval by a second person, and whether a grant may be used.

Copy, download and export need an approved request: approved by a custodian
who is not the requester (two-person rule), used before it expires, once per
recording. The request is one REQUEST entry per recording, and each decision
one APPROVAL entry per recording, so both sit in the recording's custody chain.
The gate (``access.gate``) is a :class:`RequestDesk` that also reads content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from access.disclosure import checked_grounds, refusal, require_party_owns
from access.errors import ApprovalError, InvalidAccessInput, NotPermitted
from access.party_copies import Asked, party_delivery
from access.people import (
    REASON_LENGTH,
    ROLE_PERMISSIONS,
    Permission,
    Person,
    Role,
    checked_text,
    optional_text,
    user_row,
)
from cases.labels import latest_labels
from chain.entries import EntryType
from storage import recordings as recordings_db
from storage.access_terms import APPROVED_ACTIONS, Action, Category, RequestStatus
from storage.catalog import Catalog
from storage.errors import NotFound
from storage.journal import Journal, NewEntry
from storage.rows import from_row, inserted_id
from storage.schema import DOCUMENT_LENGTH, PERSON_LENGTH, access_grants, access_requests
from storage.tombstones import tombstone

log = logging.getLogger(__name__)

MAX_RECORDINGS_PER_REQUEST = 1000


@dataclass(frozen=True)
class AccessPolicy:
    approval_expiry: timedelta = timedelta(hours=72)  # an approval is usable this long after the decision


DEFAULT_POLICY = AccessPolicy()


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

    @property
    def asked(self) -> Asked:
        return Asked(self.id, self.category, self.action, self.decided_by)

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


def load_request(conn: Connection, request_id: int) -> AccessRequest:
    row = conn.execute(select(access_requests).where(access_requests.c.id == request_id)).first()
    if row is None:
        raise ApprovalError(f"no access request {request_id}")
    grants = conn.execute(
        select(access_grants).where(access_grants.c.request == request_id).order_by(access_grants.c.recording)
    )
    return from_row(
        AccessRequest,
        row,
        action=Action(row.action),
        category=Category(row.category),
        status=RequestStatus(row.status),
        grants=tuple(from_row(Grant, g) for g in grants),
    )


def live_recording(conn: Connection, recording: str) -> recordings_db.Recording:
    """The recording ``recording`` (an id or a unique prefix), unless it was purged."""
    found = recordings_db.resolve(conn, recording)
    gone = tombstone(conn, found.id)
    if gone is not None:
        raise NotFound(
            f"recording {found.id[:12]} was purged after its retention ended (PURGE entry {gone.purge_entry}); "
            "its content is gone"
        )
    return found


class RequestDesk:
    """Requests and their approvals: each change one transaction with its REQUEST or APPROVAL entries."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        journal: Journal,
        policy: AccessPolicy = DEFAULT_POLICY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._catalog = catalog
        self._journal = journal
        self._policy = policy
        self._clock = clock

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
        document_ref = optional_text("document reference (文号)", document_ref, limit=DOCUMENT_LENGTH)
        requester = optional_text("requester", requester, limit=PERSON_LENGTH)
        party = optional_text("party (当事人)", party, limit=PERSON_LENGTH)
        checked_grounds(category, document_ref=document_ref, party=party)
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
                require_party_owns(party, ids, latest_labels(conn, ids))
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
            request_id = inserted_id(result)
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
            return load_request(conn, request_id)

    def decide(self, person: Person, request_id: int, *, approve: bool, reason: str) -> AccessRequest:
        """Approve or deny a pending request: one APPROVAL entry per recording, in one transaction."""
        person.require(Permission.APPROVE)
        reason = checked_text("reason (事由)", reason, limit=REASON_LENGTH)
        now = self._clock()
        with self._catalog.begin() as conn:
            asked = load_request(conn, request_id)
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
            return load_request(conn, request_id)

    def get_request(self, person: Person, request_id: int) -> AccessRequest:
        with self._catalog.read() as conn:
            found = load_request(conn, request_id)
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
            return [load_request(conn, int(i)) for (i,) in conn.execute(query)]

    # -- content --------------------------------------------------------------------------

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
        found = live_recording(conn, recording)
        asked = load_request(conn, request_id)
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
        label = latest_labels(conn, [found.id]).get(found.id)
        approver = user_row(conn, asked.decided_by) if asked.decided_by else None
        problem = refusal(
            party=asked.party,
            labelled_parties=label.parties if label else None,
            approver_may_approve=approver is not None
            and approver.disabled_at is None
            and Permission.APPROVE in ROLE_PERMISSIONS[Role(approver.role)],
        )
        if problem is not None:
            log.warning("request %d refused at delivery of %s: %s", request_id, found.id[:12], problem)
            raise ApprovalError(f"request {request_id} can no longer be used for recording {found.id[:12]}: {problem}")
        party_delivery(conn, found.id, asked.asked)  # a party's: a redacted copy or the approver's statement (art. 29)
        return found, asked, grant
