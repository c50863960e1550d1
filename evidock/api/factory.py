"""The ASGI application: routers, error mapping, security headers, and the state routes read.

``create_app(evi)`` returns the application `evidock run` serves: the JSON
API under /api/v1, /health and /metrics, and the web pages at the root
(``install_web``; left out of the OpenAPI document). Each half keeps its own
errors and headers: the API answers JSON errors and a ``default-src 'none'``
CSP; a page answers an HTML error page in the person's language and the
pages' CSP (evidock.web.site), which the API's middleware leaves in place.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi_offline import FastAPIOffline

from evidock.api import errors
from evidock.api.intake import BodyGuard
from evidock.api.metrics import registry_for
from evidock.api.routes import (
    access,
    audit,
    custody,
    decisions,
    derived,
    exports,
    findings,
    log,
    recordings,
    reports,
    station,
)
from evidock.api.security import secure_headers
from evidock.app import App
from evidock.disc_export import ExportJobs
from evidock.login_backoff import Backoff, FailureBackoff
from evidock.web import install_web

API_PREFIX = "/api/v1"
DEFAULT_BACKOFF = Backoff(attempts=10, forget_seconds=300.0)  # API tokens: failures per (name, address)
TITLE = "evidock API"
DESCRIPTION = (
    "Evidence-media ingestion and integrity (执法记录仪采集站): the same access gate, log and policies as the "
    "`evidock` command line. Authenticate with `Authorization: Bearer <API token>` and `X-Evidock-User: <name>`. "
    "Every read of a recording's metadata or content is an ACCESS entry in the log, written before the answer. "
    "See docs/api.md."
)


def api_router() -> APIRouter:
    """Every API route under /api/v1 (the station's /health and /metrics sit at the root)."""
    router = APIRouter(prefix=API_PREFIX)
    for area in (recordings, findings, custody, decisions, access, exports, audit, log, reports, derived):
        router.include_router(area.router)
    return router


def application() -> FastAPI:
    """The application without state: for the OpenAPI document (evidock.api.spec).

    FastAPIOffline serves /docs (Swagger UI) and /redoc with their scripts from
    the package, not from a CDN: a station's network is often closed to the
    Internet, where FastAPI's own pages stay blank.
    """
    app = FastAPIOffline(title=TITLE, description=DESCRIPTION, version="1", static_url="/docs/assets")
    app.include_router(api_router())
    app.include_router(station.router)
    errors.install(app)
    app.add_middleware(BodyGuard)  # inside secure_headers (added after it wraps it): its refusals get the headers
    app.middleware("http")(secure_headers)
    return app


def create_app(evi: App, *, backoff: Backoff = DEFAULT_BACKOFF) -> FastAPI:
    """The API and the pages over ``evi`` (its catalog, store, journal and settings)."""
    app = application()
    install_web(app, evi)
    app.state.evi = evi
    app.state.limiter = FailureBackoff(backoff)
    app.state.metrics = registry_for(evi)
    app.state.export_jobs = ExportJobs()
    return app
