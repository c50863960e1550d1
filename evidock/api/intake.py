"""What a request may bring before the application reads it: credentials first, then at most ``max_bytes`` of body.

FastAPI reads and parses a JSON body before a route's dependencies run, so
without this an unauthenticated 300 MiB POST was read whole into memory
before the credentials were even looked at. ``BodyGuard`` is plain ASGI,
outside the routes:

* an API request (under ``/api/``) that carries a body is authenticated from
  its headers first (the same ``identify`` as every route; the person is kept
  for the route), and refused 401/429 without a byte of the body read;
* a ``Content-Length`` above ``max_bytes`` is refused 413 at once;
* a body sent without a length (chunked) is counted as it streams and refused
  413 as soon as it passes ``max_bytes``, so memory never holds more.

The pages' form posts are checked the same way one step later, by their route
class, before FastAPI parses the form: a post without a logged-in session is
refused unread (``evidock.web.site.Web.admit``).

Every legitimate body is small (the largest: an access request naming 1,000
recordings, about 70 KiB); dock files never arrive over HTTP.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from access.errors import NotAuthenticated
from evidock.api import errors
from evidock.api.security import USER_HEADER, TooManyFailures, identify

MAX_BODY_BYTES = 1024 * 1024  # bytes of one request body, API and pages alike
API_PATHS = "/api/"


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes; nothing was done")


def _refusal(path: str, status: int, detail: str, error: str, headers: dict[str, str] | None = None) -> Response:
    if path.startswith(API_PATHS):
        return JSONResponse({"detail": detail, "error": error}, status_code=status, headers=headers)
    return PlainTextResponse(f"{status}: {detail}", status_code=status, headers=headers)


class BodyGuard:
    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        declared = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if declared is not None and not declared.strip().isdigit():
            await _refusal(path, 400, "Content-Length is not a number", "BadRequest")(scope, receive, send)
            return
        if declared is not None and int(declared) > self.max_bytes:
            too_large = BodyTooLarge(self.max_bytes)
            await _refusal(path, 413, too_large.detail, "BodyTooLarge")(scope, receive, send)
            return
        if path.startswith(API_PATHS) and (chunked or (declared is not None and int(declared) > 0)):
            refused = self._authenticate(scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, self._counted(receive), send)

    def _authenticate(self, scope: Scope) -> Response | None:
        """None when the headers prove a person (kept in the request's state), else the refusal to send."""
        request = Request(scope)  # no receive: nothing here can read the body
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            identify(request, scheme=scheme or None, token=token.strip() or None, user=request.headers.get(USER_HEADER))
        except NotAuthenticated as exc:
            return errors.answer(exc)
        except TooManyFailures as exc:
            return JSONResponse(
                {"detail": exc.detail, "error": "TooManyFailures"}, status_code=429, headers=exc.headers
            )
        return None

    def _counted(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_bytes

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        return counted
