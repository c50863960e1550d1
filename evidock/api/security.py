"""Who is calling, how often they failed, and the headers every answer carries.

Authentication: ``Authorization: Bearer <API token>`` (from `evidock users add`
or `evidock users token`) with the user's name in ``X-Evidock-User`` (non-ASCII
names percent-encoded as UTF-8, e.g. ``%E7%8E%8B%E4%BA%94`` for 王五). Both are
checked by ``access.people.authenticate``, exactly as the CLI's
``EVIDOCK_USER``/``EVIDOCK_TOKEN``. A dock station is a user of role
``station`` with its own token. Secrets travel only in headers: a URL ends up
in proxy logs and browser history, so a request carrying a token-like query
parameter is refused.

Failed authentications are counted per (user name, client address)
(evidock.login_backoff): past the free attempts a failure is answered 429 with
``Retry-After``, and the wait doubles with every further failure. A presented
token is always checked, so a valid token is never refused because of someone
else's failures (or a stale token of one's own). Requests that carry a body
are authenticated before a byte of it is read (``BodyGuard``, evidock.api.intake).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from access.errors import NotAuthenticated
from access.people import Person, authenticate
from evidock.app import App
from evidock.login_backoff import FailureBackoff
from storage.schema import NAME_LENGTH

USER_HEADER = "X-Evidock-User"
SECRET_PARAMETERS = frozenset({"token", "access_token", "api_key", "apikey", "password", "key"})

bearer = HTTPBearer(auto_error=False, description="An evidock API token (evk_…), with the user in X-Evidock-User.")
user_header = APIKeyHeader(
    name=USER_HEADER, auto_error=False, description="The user name; non-ASCII names percent-encoded as UTF-8."
)


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


class TooManyFailures(HTTPException):
    """429: this name from this address failed too often; the wait grows with every further failure."""

    def __init__(self, wait: float) -> None:
        super().__init__(
            429,
            "too many failed authentications for this user from this address; try again later",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


def identify(request: Request, *, scheme: str | None, token: str | None, user: str | None) -> Person:
    """The person the credentials prove, remembered for the rest of the request; NotAuthenticated or 429 if not.

    Only a presented token that fails counts as a failure: a request with no
    credentials guesses nothing (a browser or a probe that forgot them).
    """
    known = getattr(request.state, "person", None)
    if isinstance(known, Person):
        return known
    limiter: FailureBackoff = request.app.state.limiter
    address = client_address(request)
    try:
        name = user_name(user) if user else ""
    except NotAuthenticated:
        limiter.failed("", address, time.monotonic())
        raise
    if not name or token is None or (scheme or "").lower() != "bearer":
        raise NotAuthenticated(
            f"send Authorization: Bearer <API token> and {USER_HEADER}: <user name> "
            "(tokens from `evidock users token NAME`)"
        )
    try:
        with evi_of(request).catalog.read() as conn:
            person = authenticate(conn, name, token=token, password=None)
    except NotAuthenticated:
        wait = limiter.failed(name[:NAME_LENGTH], address, time.monotonic())
        if wait is not None:
            raise TooManyFailures(wait) from None
        raise
    limiter.succeeded(name, address)
    request.state.person = person
    return person


def current_person(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    user: Annotated[str | None, Depends(user_header)],
) -> Person:
    """The authenticated caller (a dependency of every API route); 401 without valid credentials, 429 after failures."""
    return identify(
        request,
        scheme=credentials.scheme if credentials else None,
        token=credentials.credentials if credentials else None,
        user=user,
    )


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
    if request.url.path in DOCS_PAGES and response.headers.get("content-type", "").startswith("text/html"):
        response = await _docs_page(response)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not response.headers.get("content-type", "").startswith("text/html"):
        response.headers.setdefault("Content-Security-Policy", API_CSP)
    return response


DOCS_PAGES = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


async def _docs_page(response: Response) -> Response:
    """Swagger UI and ReDoc with a CSP: scripts only from this origin plus the page's own inline script (by hash).

    ReDoc styles its page with injected ``<style>`` elements and renders in a
    ``blob:`` worker, so styles may be inline and workers come from ``blob:``;
    nothing loads from elsewhere and the pages cannot be framed.
    """
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]  # a streamed page of < 2 KiB
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body.decode("utf-8"))
    )
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )
    return Response(body, status_code=response.status_code, headers=headers)
