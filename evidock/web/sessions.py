"""Server-side web sessions (kept in this process's memory; failed logins: evidock.login_backoff).

A session id is 256 random bits in a cookie (HttpOnly, SameSite=Strict, Secure
behind TLS); everything else — who is logged in, the CSRF token, the playback
a person asked for — stays on the server, so logging out really ends it. The
id is replaced at login (no session fixation). Sessions end after
``idle`` without a request and after ``lifetime`` in any case; a restart of
the service ends them all (people log in again; nothing is lost).

Pure bookkeeping: the caller passes ``now``.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MAX_SESSIONS = 10_000  # sessions kept at once; anonymous (login page) ones are dropped first


@dataclass(frozen=True)
class Playback:
    """A reason given to play one recording, good for the player's requests until ``until``.

    A player asks for the file in several byte ranges (to start, to seek);
    each request is still its own read through the gate, an ACCESS entry with
    this reason written before its bytes, as in the API.
    """

    reason: str
    until: datetime


@dataclass
class Session:
    id: str
    csrf: str  # the token every form carries in a hidden field
    created: datetime
    seen: datetime
    user: str | None = None  # None: not logged in yet (the login form's own session)
    playback: dict[str, Playback] = field(default_factory=dict)  # recording id -> the reason (事由) given to play it

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(self.csrf.encode(), given.encode("utf-8", "replace"))


class SessionStore:
    def __init__(self, *, idle: timedelta, lifetime: timedelta) -> None:
        self._idle = idle
        self._lifetime = lifetime
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self, now: datetime, *, user: str | None = None) -> Session:
        made = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), created=now, seen=now, user=user)
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= MAX_SESSIONS:
                # Anyone can open the login page: the oldest sessions not logged in go first.
                oldest = sorted(self._sessions.values(), key=lambda x: (x.user is not None, x.seen))
                for gone in oldest[: len(self._sessions) - MAX_SESSIONS + 1]:
                    del self._sessions[gone.id]
            self._sessions[made.id] = made
        return made

    def get(self, session_id: str | None, now: datetime) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            if now - found.seen > self._idle or now - found.created > self._lifetime:
                del self._sessions[session_id]
                return None
            found.seen = now
            return found

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def end_user(self, user: str) -> None:
        """End every session of ``user`` (disabled, or their role changed)."""
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.user == user]:
                del self._sessions[key]

    def _expire(self, now: datetime) -> None:
        for key in [
            k for k, s in self._sessions.items() if now - s.seen > self._idle or now - s.created > self._lifetime
        ]:
            del self._sessions[key]
