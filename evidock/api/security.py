"""Who is calling, how often they failed, and the headers every answer carries.

Authentication: ``Authorization: Bearer <API token>`` (from `evidock users add`
or `evidock users token`) with the user's name in ``X-Evidock-User`` (non-ASCII
names percent-encoded as UTF-8, e.g. ``%E7%8E%8B%E4%BA%94`` for 王五). Both are
checked by ``storage.access.authenticate``, exactly as the CLI's
``EVIDOCK_USER``/``EVIDOCK_TOKEN``. A dock station is a user of role
``station`` with its own token. Secrets travel only in headers: a URL ends up
in proxy logs and browser history, so a request carrying a token-like query
parameter is refused.

Failed authentications are counted per user name and per client address;
past the limit the answer is 429 with ``Retry-After``, before any check.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from evidock.app import App
from storage import access
from storage.access import NotAuthenticated, Person

USER_HEADER = "X-Evidock-User"
SECRET_PARAMETERS = frozenset({"token", "access_token", "api_key", "apikey", "password", "key"})

bearer = HTTPBearer(auto_error=False, description="An evidock API token (evk_…), with the user in X-Evidock-User.")
user_header = APIKeyHeader(
    name=USER_HEADER, auto_error=False, description="The user name; non-ASCII names percent-encoded as UTF-8."
)


@dataclass(frozen=True)
class Limits:
    failures: int = 10  # failed authentications allowed per user name, and per client address ...
    window_seconds: float = 300.0  # ... within this many seconds
    tracked: int = 10_000  # names and addresses remembered at most (the oldest are forgotten)


class FailureLimiter:
    """Failed authentications in a sliding window, per key; thread-safe, bounded in memory."""

    def __init__(self, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.get(key)
        if found is None:
            return deque()
        while found and found[0] <= now - self.limits.window_seconds:
            found.popleft()
        return found

    def retry_after(self, keys: Iterable[str]) -> float | None:
        """Seconds until the first of ``keys`` may try again, or None if none is over the limit."""
        now = self._clock()
        with self._lock:
            waits = [
                recent[0] + self.limits.window_seconds - now
                for key in keys
                if len(recent := self._recent(key, now)) >= self.limits.failures
            ]
        return max(waits) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                recent.append(now)
                self._failures[key] = recent
                self._failures.move_to_end(key)
            while len(self._failures) > self.limits.tracked:
                self._failures.popitem(last=False)


def user_name(header: str) -> str:
    """The user name from the header: Starlette reads header bytes as Latin-1; UTF-8 and %-encoding both work."""
    try:
        raw = header.encode("latin-1").decode("utf-8")
        return urllib.parse.unquote(raw, errors="strict").strip()
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise NotAuthenticated(f"the {USER_HEADER} header is not UTF-8 text") from None


def evi_of(request: Request) -> App:
    evi = request.app.state.evi
    assert isinstance(evi, App)  # noqa: S101 - set by create_app
    return evi


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_person(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    user: Annotated[str | None, Depends(user_header)],
) -> Person:
    """The authenticated caller; 401 without valid credentials, 429 after too many failures.

    Only a presented token that fails counts as a failure: a request with no
    credentials guesses nothing (a browser or a probe that forgot them).
    """
    limiter: FailureLimiter = request.app.state.limiter
    try:
        name = user_name(user) if user else ""
    except NotAuthenticated:
        limiter.failed([f"address:{client_address(request)}"])
        raise
    keys = [f"address:{client_address(request)}"] + ([f"user:{name}"] if name else [])
    wait = limiter.retry_after(keys)
    if wait is not None:
        raise HTTPException(
            429,
            "too many failed authentications; try again later",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    if not name or credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated(
            f"send Authorization: Bearer <API token> and {USER_HEADER}: <user name> "
            "(tokens from `evidock users token NAME`)"
        )
    try:
        with evi_of(request).catalog.read() as conn:
            person = access.authenticate(conn, name, token=credentials.credentials, password=None)
    except NotAuthenticated:
        limiter.failed(keys)
        raise
    request.state.person = person
    return person


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # answers hold personal data and recordings: no cache keeps them
    "Cross-Origin-Resource-Policy": "same-origin",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"


async def secure_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Refuse secrets in the URL; add the security headers (a strict CSP on everything but HTML pages)."""
    if SECRET_PARAMETERS & {k.lower() for k in request.query_params}:
        response: Response = Response(
            '{"detail":"credentials go in headers, never in the URL (it is logged by proxies and browsers)",'
            '"error":"SecretInURL"}',
            status_code=400,
            media_type="application/json",
        )
    else:
        response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not response.headers.get("content-type", "").startswith("text/html"):
        response.headers.setdefault("Content-Security-Policy", API_CSP)
    return response
