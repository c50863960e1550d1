"""The ASGI application: routers, error mapping, security headers, and the state routes read.

``create_app(evi)`` returns a FastAPI application; another router (the web
pages) is mounted with one line, ``app.include_router(web_router)``, and shares
the same ``app.state.evi``, limiter and error handling.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from evidock.api import errors
from evidock.api.metrics import registry_for
from evidock.api.routes import access, audit, custody, findings, log, recordings, reports, station
from evidock.api.security import FailureLimiter, Limits, secure_headers
from evidock.app import App

API_PREFIX = "/api/v1"
DEFAULT_LIMITS = Limits()
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
    for area in (recordings, findings, custody, access, audit, log, reports):
        router.include_router(area.router)
    return router


def application() -> FastAPI:
    """The application without state: for the OpenAPI document (evidock.api.spec)."""
    app = FastAPI(title=TITLE, description=DESCRIPTION, version="1")
    app.include_router(api_router())
    app.include_router(station.router)
    errors.install(app)
    app.middleware("http")(secure_headers)
    return app


def create_app(evi: App, *, limits: Limits = DEFAULT_LIMITS) -> FastAPI:
    """The API over ``evi`` (its catalog, store, journal and settings); mount more routers on the result."""
    app = application()
    app.state.evi = evi
    app.state.limiter = FailureLimiter(limits)
    app.state.metrics = registry_for(evi)
    return app
