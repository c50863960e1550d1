"""What every page shares: sessions, the person acting, CSRF, language, templates, errors, headers.

A page handler asks :meth:`Web.person` who is acting (a logged-in, still active
user) or, for a form post, :meth:`Web.posted` (the same, after the CSRF token
of the form matched the session's). Errors of the core (``EvidockError``) are
shown as a page in the person's language with the core's own message; they
never escape as a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from access.errors import AccessDenied, AccessNotRecorded, InvalidAccessInput, NotAuthenticated
from access.people import Permission, Person, Role
from chain.errors import EvidockError
from evidock.app import App
from evidock.login_backoff import Backoff, FailureBackoff
from evidock.settings import WebSettings
from evidock.verify_report import Report
from evidock.web.i18n import LANGUAGES, Translator, translator
from evidock.web.sessions import Session, SessionStore
from storage.errors import NotFound
from storage.schema import users

log = logging.getLogger(__name__)

SESSION_COOKIE = "evidock_session"
LANG_COOKIE = "evidock_lang"
DEFAULT_LANG = "zh"
NO_REASON = "not given"  # the reason (事由) written when a person gives none, as on the command line

# Pages load nothing from elsewhere and run no inline script; the timeline is inline SVG.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # no body, no change
LOGIN_PATH = "/login"
LOGIN_BODY_BYTES = 16 * 1024  # a login form (name, password or token, CSRF token, next page) is far smaller


class LoginRequired(Exception):
    """No valid session: the handler redirects to the login page."""


class CsrfRefused(Exception):
    """A form post without the session's CSRF token: refused, nothing done."""


class Web:
    """The pages' state: the application, sessions, the login limiter, templates, the last verify report."""

    def __init__(self, evi: App, options: WebSettings) -> None:
        self.evi = evi
        self.options = options
        self.sessions = SessionStore(
            idle=timedelta(minutes=options.session_idle_minutes), lifetime=timedelta(hours=options.session_hours)
        )
        window = options.login_window_minutes * 60.0
        self.limiter = FailureBackoff(
            Backoff(
                attempts=options.login_attempts,
                forget_seconds=window,
                first_wait_seconds=min(30.0, window),
                longest_wait_seconds=window,
            )
        )
        self.env = Environment(
            loader=PackageLoader("evidock.web", "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.last_verify: tuple[datetime, str, Report] | None = None  # when, by whom, what

    # -- language and time -------------------------------------------------------------

    def lang(self, request: Request) -> str:
        chosen = request.cookies.get(LANG_COOKIE, DEFAULT_LANG)
        return chosen if chosen in LANGUAGES else DEFAULT_LANG

    def local(self, moment: datetime | None, *, seconds: bool = True) -> str:
        """A stored UTC time as the station's local time (Asia/Shanghai by default)."""
        if moment is None:
            return "—"
        return moment.astimezone(self.evi.settings.timezone).strftime(
            "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
        )

    # -- who is acting -------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(SESSION_COOKIE), self.evi.now())

    def person(self, request: Request) -> tuple[Person, Session]:
        """The logged-in person, re-read from the catalog: a disabled user's session ends at once."""
        found = self.session(request)
        if found is None or found.user is None:
            raise LoginRequired
        with self.evi.catalog.read() as conn:
            row = conn.execute(select(users).where(users.c.name == found.user)).first()
        if row is None or row.disabled_at is not None:
            self.sessions.end_user(found.user)
            raise LoginRequired
        return Person(name=row.name, role=Role(row.role), officer_id=row.officer_id), found

    def admit(self, request: Request) -> None:
        """A form post, before a byte of its body is read: from a logged-in person, or refused.

        FastAPI reads and parses a form before the handler runs (``Form()`` fields), so
        the handler's own ``posted`` would come after an unauthenticated body was read.
        Only the login form comes from someone not yet logged in: it needs the session
        its page gave (with the CSRF token) and a small declared size.
        """
        if request.method in SAFE_METHODS:
            return
        if request.url.path == LOGIN_PATH:
            if self.session(request) is None:
                raise CsrfRefused
            declared = request.headers.get("content-length", "0")
            if declared.isdigit() and int(declared) > LOGIN_BODY_BYTES:
                raise HTTPException(413, f"a login form is at most {LOGIN_BODY_BYTES} bytes")
            return
        self.person(request)

    def posted(self, request: Request, csrf: str) -> tuple[Person, Session]:
        """The person posting a form whose hidden CSRF token matches their session's."""
        person, found = self.person(request)
        if not found.csrf_ok(csrf):
            log.warning("form post to %s by %s refused: CSRF token missing or wrong", request.url.path, person.name)
            raise CsrfRefused
        return person, found

    def set_session(self, request: Request, response: Response, session: Session) -> None:
        secure = self.options.secure_cookies
        response.set_cookie(
            SESSION_COOKIE,
            session.id,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https" if secure is None else secure,
            path="/",
        )

    # -- rendering -----------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        *,
        person: Person | None = None,
        session: Session | None = None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        lang = self.lang(request)
        t = translator(lang)
        page = self.env.get_template(template).render(
            t=t,
            lang=lang,
            other_lang="en" if lang == "zh" else "zh",
            person=person,
            csrf=session.csrf if session else "",
            path=request.url.path,
            here=_here(request),
            tz=str(self.evi.settings.timezone),
            local=self.local,
            may=(lambda p: person is not None and person.may(p)),
            P=Permission,
            shown_reason=lambda reason: t("common.not_given") if reason == NO_REASON else reason,
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def error(self, request: Request, status: int, title_key: str, message: str | None = None) -> HTMLResponse:
        person: Person | None = None
        session: Session | None = None
        try:
            person, session = self.person(request)
        except (LoginRequired, EvidockError):
            session = None
        return self.render(
            request, "error.html", person=person, session=session, status=status, title_key=title_key, message=message
        )


def _here(request: Request) -> str:
    """This page's path and query, for a link back after login or a language switch."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(target: str | None) -> str:
    """A redirect target after login: a path on this site only (no //host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return "/" if parts.scheme or parts.netloc else target


ERROR_STATUS: Mapping[type[EvidockError], tuple[int, str]] = {  # the first match wins
    AccessNotRecorded: (503, "error.not_recorded"),
    InvalidAccessInput: (400, "error.input"),
    NotAuthenticated: (403, "error.denied"),
    AccessDenied: (403, "error.denied"),
    NotFound: (404, "error.not_found"),  # as the API answers it
}


def page_route(web: Web) -> type[APIRoute]:
    """A route class for the pages: login redirects, CSRF refusals and core errors become pages."""

    class PageRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def run(request: Request) -> Response:
                response: Response
                try:
                    await run_in_threadpool(web.admit, request)  # before the body is read (a catalog read)
                    response = await handler(request)
                except LoginRequired:
                    response = RedirectResponse(f"/login?next={quote(_here(request), safe='')}", status_code=303)
                except CsrfRefused:
                    response = web.error(request, 403, "error.csrf")
                except RequestValidationError:
                    response = web.error(request, 400, "error.input")
                except EvidockError as exc:
                    status, key = next(
                        (v for k, v in ERROR_STATUS.items() if isinstance(exc, k)), (400, "error.refused")
                    )
                    response = web.error(request, status, key, str(exc))
                except HTTPException as exc:
                    key = "error.not_found" if exc.status_code == 404 else "error.input"
                    response = web.error(request, exc.status_code, key)
                except Exception:  # a page answers a page, never the API's JSON; the cause goes to the log
                    log.exception("HTTP 500 on page %s %s", request.method, request.url.path)
                    response = web.error(request, 500, "error.internal")
                for name, value in SECURITY_HEADERS.items():
                    response.headers.setdefault(name, value)
                return response

            return run

    return PageRoute


__all__ = ["NO_REASON", "Translator", "Web", "page_route", "safe_next"]
