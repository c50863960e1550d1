"""Login, logout, language, the dashboard and the verify status page."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select

from access.errors import NotAuthenticated
from access.people import TOKEN_PREFIX, Permission, authenticate
from chain.errors import EvidockError
from evidock.app import retention_context
from evidock.keys import load_vkey
from evidock.trust_status import trust_status
from evidock.verify import verify as run_verify
from evidock.web.sessions import Session
from evidock.web.site import LANG_COOKIE, SESSION_COOKIE, Web, safe_next
from retention import alerts as alerts_mod
from storage import findings as findings_db
from storage import journal
from storage.receipts import FINISHED, State
from storage.schema import NAME_LENGTH, receipts, recordings
from storage.status import count_purged, count_recordings, counts_by_receipt_state, latest_checkpoint

QUEUED = [s.value for s in State if s not in FINISHED]
DASHBOARD_FINDINGS = 50  # open findings shown on the dashboard (the count is always complete)


def add_pages(router: APIRouter, web: Web) -> None:  # noqa: PLR0915 - one nested handler per page
    evi = web.evi

    def waits(request: Request, session: Session, next: str, wait: float) -> Response:
        minutes = max(1, math.ceil(wait / 60))
        return web.render(
            request, "login.html", session=session, next=safe_next(next), failed=("wait", minutes), status=429
        )

    @router.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        session = web.session(request) or web.sessions.new(evi.now())
        response = web.render(request, "login.html", session=session, next=safe_next(next), failed=None)
        web.set_session(request, response, session)
        return response

    @router.post("/login")
    def login(
        request: Request,
        name: Annotated[str, Form()] = "",
        secret: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/",
    ) -> Response:
        session = web.session(request)
        if session is None or not session.csrf_ok(csrf):
            return web.error(request, 403, "error.csrf")
        now = evi.now()
        client = request.client.host if request.client else "?"
        who = name.strip()[:NAME_LENGTH]
        token = secret if secret.startswith(TOKEN_PREFIX) else None
        if token is None:  # a password is not even checked while this name waits at this address
            wait = web.limiter.wait(who, client, time.monotonic())
            if wait is not None:
                return waits(request, session, next, wait)
        try:
            with evi.catalog.read() as conn:
                person = authenticate(conn, name.strip(), token=token, password=None if token else secret)
        except NotAuthenticated:
            wait = web.limiter.failed(who, client, time.monotonic())
            if wait is not None:
                return waits(request, session, next, wait)
            return web.render(
                request, "login.html", session=session, next=safe_next(next), failed=("wrong", 0), status=401
            )
        web.limiter.succeeded(who, client)
        web.sessions.end(session.id)
        fresh = web.sessions.new(now, user=person.name)
        response = RedirectResponse(safe_next(next), status_code=303)
        web.set_session(request, response, fresh)
        return response

    @router.post("/logout")
    def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        _, session = web.posted(request, csrf)
        web.sessions.end(session.id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.get("/lang/{lang}")
    def switch_language(request: Request, lang: str, next: str = "/") -> Response:
        response = RedirectResponse(safe_next(next), status_code=303)
        if lang in ("zh", "en"):
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="strict", httponly=True, path="/")
        return response

    @router.get("/")
    def dashboard(request: Request) -> Response:
        person, session = web.person(request)
        now = evi.now()
        data: dict[str, Any] = {"now": now}
        with evi.catalog.read() as conn:
            data["receipts"] = counts_by_receipt_state(conn)
            data["queue"] = sum(n for state, n in data["receipts"].items() if state in QUEUED)
            data["throughput"] = [
                (
                    hours,
                    *conn.execute(
                        select(func.count(), func.coalesce(func.sum(recordings.c.size), 0)).where(
                            recordings.c.ingested_at >= now - timedelta(hours=hours)
                        )
                    ).one(),
                )
                for hours in (1, 24)
            ]
            oldest = conn.execute(select(func.min(receipts.c.received_at)).where(receipts.c.state.in_(QUEUED))).scalar()
            data["oldest_queued"] = oldest
            data["recordings"] = count_recordings(conn)
            data["purged"] = count_purged(conn)
            data["log_size"] = journal.size(conn)
            data["checkpoint"] = latest_checkpoint(conn)
            findings = (
                findings_db.listing(conn, open_only=True, limit=DASHBOARD_FINDINGS + 1)
                if person.may(Permission.READ_METADATA)
                else []
            )
        data["findings"] = findings[:DASHBOARD_FINDINGS]
        data["more_findings"] = len(findings) > DASHBOARD_FINDINGS
        try:
            data["bucket"] = evi.store.inspect_bucket()
            data["bucket_error"] = None
        except EvidockError as exc:
            data["bucket"], data["bucket_error"] = None, str(exc)
        report = None
        if person.may(Permission.REPORTS):
            report = alerts_mod.check(retention_context(evi), now=now)
        data["alerts"] = report
        data["outside_trust"] = trust_status(evi, now=now)
        shown = {r for f in data["findings"] for r in f.recordings}
        if report is not None:
            shown |= {t.recording for t in [*report.overdue, *report.due_soon]}
        if person.may(Permission.READ_METADATA):
            # Deadlines and findings name recordings: the person's read is logged before the page is sent.
            data["entry"] = evi.gate().record_listing(
                person, command="web dashboard", query={}, recordings=sorted(shown), reason="dashboard"
            )
        else:
            data["entry"] = None
        return web.render(request, "dashboard.html", person=person, session=session, **data)

    @router.get("/verify")
    def verify_page(request: Request) -> Response:
        person, session = web.person(request)
        person.require(Permission.VERIFY)
        return web.render(request, "verify.html", person=person, session=session, last=web.last_verify)

    @router.post("/verify")
    def verify_now(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
        person, _ = web.posted(request, csrf)
        person.require(Permission.VERIFY)
        report = run_verify(evi, load_vkey(evi.settings), deep=False)
        web.last_verify = (evi.now(), person.name, report)
        return RedirectResponse("/verify", status_code=303)
