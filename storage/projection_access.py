"""People and access requests as a projection of the log: USER, REQUEST, APPROVAL and ACCESS entries.

Each of these tables is written in the same transaction as the entry that
records it (the ``access`` package):

* ``users``, ``user_tokens``, ``user_events``: a USER entry per change (add,
  set-role, disable, token). The entry names the ``user_events`` row and, for
  a token, the ``user_tokens`` row it made; a user's display name is in it
  only as a salted commitment. Credentials (a password's hash, a token's
  digest) are never in the log: those two columns are operational.
* ``access_requests``, ``access_grants``: one REQUEST entry per recording
  asked for, carrying the request's number; the APPROVAL entries of the
  decision; and the ACCESS entry that used the grant (its ``request``).
  Requester and party names are in the entries only as commitments.
* ``access_results``: the recordings a search showed. Its LIST entry holds
  their number and a SHA-256 over the sorted ids, which prove the rows of that
  entry as a whole (``Projected.digested``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from chain.entries import Entry, EntryType
from storage.access_terms import APPROVED_ACTIONS, Action, RequestStatus
from storage.projected import Committed, Expected, Projected, Rebuilt, Second, logged_time
from storage.schema import access_grants, access_requests, access_results, user_events, user_tokens, users

TABLES: tuple[Projected, ...] = (
    Projected(
        users,
        ("name",),
        {
            "password_hash": "a credential (argon2id of the password), never in the log nor shown; "
            "`users list` says only whether one is set",
        },
        personal=frozenset({"display_name"}),
    ),
    Projected(user_tokens, ("id",), {"digest": "a credential (SHA-256 of an API token), never in the log nor shown"}),
    Projected(user_events, ("id",)),
    Projected(access_requests, ("id",), personal=frozenset({"requester", "party"})),
    Projected(access_grants, ("request", "recording")),
    Projected(access_results, ("entry", "recording"), digested=True),
)

_APPROVED = frozenset(a.value for a in APPROVED_ACTIONS)
_DECISION = ("decided_by", "decided_at", "decision_reason", "expires_at")
_USE = ("approval_entry", "used_at", "access_entry")
_LISTING = b'"action":"list"'
_USING = b'"request":'


def access_shapes_a_table(data: bytes) -> bool:
    """Whether an ACCESS entry's bytes may shape a table: a listing, or the use of an approved request.

    Most ACCESS entries (a view, a metadata read) shape none, and decoding each
    in verify's main process would cost as much again as the workers' decoding.
    The bytes are canonical JSON (RFC 8785): the body member ``"action":"list"``
    or ``"request":`` is written exactly so, while a string holding those
    characters escapes its quotes; so no entry that matters is passed over (one
    whose query merely mentions them is decoded, and shapes nothing).
    """
    return _LISTING in data or _USING in data


class AccessReplay(Rebuilt):
    """The replay of USER, REQUEST, APPROVAL and ACCESS entries (part of ``storage.projection.Replay``)."""

    def __init__(self, tables: tuple[Projected, ...]) -> None:
        super().__init__(tables)
        self._tokens: dict[str, list[Expected]] = {}  # user -> their tokens' rows

    def _access_handlers(self) -> Mapping[EntryType, Callable[[int, Entry], None]]:
        return {
            EntryType.USER: self._user,
            EntryType.REQUEST: self._request,
            EntryType.APPROVAL: self._approval,
            EntryType.ACCESS: self._access,
        }

    def _user(self, index: int, entry: Entry) -> None:
        body = entry.body
        name, actor, event = body.get("user"), body.get("actor"), body.get("action")
        moment = Second(entry.timestamp)
        number = body.get("event_id")
        self._put(
            user_events,
            (number,),
            index,
            {"id": number, "time": moment, "actor": actor, "user": name, "event": event, "detail": body.get("detail")},
        )
        if event == "add":
            self._put(
                users,
                (name,),
                index,
                {
                    "name": name,
                    "role": body.get("role"),
                    "officer_id": body.get("officer_id"),
                    "display_name": Committed.one(index, "display_name", body.get("display_name")),
                    "created_at": moment,
                    "created_by": actor,
                    "disabled_at": None,
                    "disabled_by": None,
                },
            )
        elif event == "set-role":
            self._change(users, (name,), index, role=body.get("role"))
        elif event == "disable":  # the user's tokens are revoked with them
            self._change(users, (name,), index, disabled_at=moment, disabled_by=actor)
            for token in self._tokens.get(str(name), []):
                if token.values["revoked_at"] is None:
                    token.values["revoked_at"] = moment
                    token.entry = index
        elif event == "token":
            number = body.get("token_id")
            row = self._put(
                user_tokens,
                (number,),
                index,
                {"id": number, "user": name, "created_at": moment, "created_by": actor, "revoked_at": None},
            )
            self._tokens.setdefault(str(name), []).append(row)

    def _request(self, index: int, entry: Entry) -> None:
        """One REQUEST entry per recording asked for; the first makes the request's row."""
        body = entry.body
        number = body.get("request")
        if (number,) not in self.rows[access_requests.name]:
            self._put(
                access_requests,
                (number,),
                index,
                {
                    "id": number,
                    "requested_by": body.get("requested_by"),
                    "action": body.get("action"),
                    "reason": body.get("reason"),
                    "category": body.get("requester_category"),
                    "document_ref": body.get("document_ref"),
                    "requester": Committed.one(index, "requester", body.get("requester")),
                    "party": Committed.one(index, "party", body.get("party")),
                    "created_at": Second(entry.timestamp),
                    "status": RequestStatus.PENDING.value,
                }
                | dict.fromkeys(_DECISION),
            )
        self._put(
            access_grants,
            (number, entry.recording),
            index,
            {"request": number, "recording": entry.recording} | dict.fromkeys(_USE),
        )

    def _approval(self, index: int, entry: Entry) -> None:
        """One APPROVAL entry per recording of the request, all with the same decision."""
        body = entry.body
        number = body.get("request")
        self._change(
            access_requests,
            (number,),
            index,
            status=body.get("decision"),
            decided_by=body.get("approver"),
            decided_at=Second(entry.timestamp),
            decision_reason=body.get("reason"),
            expires_at=logged_time(body.get("expires")),
        )
        self._change(access_grants, (number, entry.recording), index, approval_entry=index)

    def _access(self, index: int, entry: Entry) -> None:
        body = entry.body
        action = body.get("action")
        if action == Action.LIST.value:
            count = body.get("count")
            if type(count) is int and count > 0:
                self._put(access_results, (index,), index, {"count": count, "sha256": body.get("results_sha256")})
            return
        number = body.get("request")
        if action in _APPROVED and number is not None and entry.recording is not None:
            self._change(
                access_grants,
                (number, entry.recording),
                index,
                used_at=Second(entry.timestamp),
                access_entry=index,
            )


def digest_of(members: list[str]) -> dict[str, Any]:
    """What a LIST entry says of the recordings it showed (``Gate.record_listing``), for ``members`` sorted."""
    return {"count": len(members), "sha256": hashlib.sha256("\n".join(members).encode("utf-8")).hexdigest()}
