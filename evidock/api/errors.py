"""evidock's errors as HTTP answers: a status code and, for the caller's mistakes, the one-line message the CLI prints.

A 5xx says what failed but not its cause: the cause (an SQL statement with its
parameters, a server's reply) goes to the station's log, never to the caller.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from access.errors import AccessDenied, AccessNotRecorded, InvalidAccessInput, NotAuthenticated, NotPermitted
from chain.errors import EvidockError, ProofError
from derived.ffmpeg import FfmpegError
from evidock.settings import ConfigError
from evidock.text import one_line
from retention.context import CustodyError
from retention.errors import RetentionError
from storage.errors import InvalidReference, NotFound, StorageError

log = logging.getLogger(__name__)

AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="evidock"'}

# Most specific first: the first class the error is an instance of decides.
STATUS: tuple[tuple[type[EvidockError], int], ...] = (
    (NotAuthenticated, 401),
    (InvalidAccessInput, 400),
    (AccessNotRecorded, 503),  # fail closed: the ACCESS entry could not be written, nothing was read
    (NotPermitted, 403),
    (AccessDenied, 403),  # ApprovalError: no, pending, denied, expired or used approval; self-approval
    (NotFound, 404),
    (InvalidReference, 400),
    (CustodyError, 400),
    (ProofError, 500),  # the log does not prove what it claims: an integrity alarm, not a caller's mistake
    (ConfigError, 500),
    (RetentionError, 500),
    (StorageError, 503),  # the object store or the catalog failed
    (FfmpegError, 500),  # ffmpeg could not make a derived file: its words go to the station's log
    (EvidockError, 400),  # FindingError, PatternError, SpecError: the request cannot be done as asked
)


def status_of(error: EvidockError) -> int:
    return next(code for kind, code in STATUS if isinstance(error, kind))


SERVER_SIDE = {
    AccessNotRecorded: "refused: the ACCESS entry could not be written to the log, so nothing was read (fail closed)",
    ProofError: "the log failed a proof check: run `evidock verify`",
    StorageError: "the object store or the catalog failed",
}


def _detail(error: EvidockError, code: int) -> str:
    if code < 500:
        return one_line(str(error))
    what = next((text for kind, text in SERVER_SIDE.items() if isinstance(error, kind)), "the station failed")
    return f"{what}; the station's log has the cause"


def _evidock_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EvidockError)  # noqa: S101 - registered for EvidockError only
    return answer(exc)


def answer(exc: EvidockError) -> JSONResponse:
    """The JSON answer to an evidock error (also sent by ASGI middleware, outside the routes)."""
    code = status_of(exc)
    if code >= 500:
        log.error("HTTP %d: %s", code, one_line(str(exc)))
    return JSONResponse(
        {"detail": _detail(exc, code), "error": type(exc).__name__},
        status_code=code,
        headers=AUTHENTICATE if code == 401 else None,
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("HTTP 500 on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error; the station's log has the cause", "error": "InternalError"}, 500)


def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    """422 with where and why, never the input itself: it may be a secret or megabytes echoed back."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for RequestValidationError only
    problems = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
    return JSONResponse({"detail": problems, "error": "InvalidInput"}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(EvidockError, _evidock_error)
    app.add_exception_handler(Exception, _unexpected)
