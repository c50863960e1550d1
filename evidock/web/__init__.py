"""The web pages for custodians and auditors: server-rendered, Simplified Chinese first, English switchable.

One call mounts them into any FastAPI application::

    install_web(app, evi)                  # evi: evidock.app.App; options: config.toml [web]

``web_router(evi)`` gives the router alone (sessions, CSRF and errors live in
it; nothing is added to the application around it). ``standalone_app(evi)``
is an application with only the pages, for tests and screenshots. See docs/web.md.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI, HTTPException, Response

from evidock.app import App
from evidock.settings import WebSettings
from evidock.web.access_pages import add_access_pages
from evidock.web.decision_pages import add_decision_pages
from evidock.web.export_pages import add_export_pages
from evidock.web.pages import add_pages
from evidock.web.recordings import add_recording_pages
from evidock.web.redaction_pages import add_redaction_pages
from evidock.web.report_pages import add_report_pages
from evidock.web.site import Web, page_route

STATIC = {"style.css": "text/css; charset=utf-8"}


def web_router(evi: App, options: WebSettings | None = None) -> APIRouter:
    """Every page, its forms and its static files, over ``evi`` (the same gate, log and policies as the CLI).

    ``options`` default to config.toml's ``[web]`` (``evi.settings.web``).
    """
    web = Web(evi, options or evi.settings.web)
    router = APIRouter(route_class=page_route(web), include_in_schema=False)
    add_pages(router, web)
    add_recording_pages(router, web)
    add_access_pages(router, web)
    add_export_pages(router, web)
    add_report_pages(router, web)
    add_decision_pages(router, web)
    add_redaction_pages(router, web)

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404)
        body = resources.files("evidock.web").joinpath("static", name).read_bytes()
        return Response(body, media_type=STATIC[name], headers={"Cache-Control": "max-age=3600"})

    return router


def install_web(app: FastAPI, evi: App, options: WebSettings | None = None) -> None:
    """Mount the pages at the root of ``app`` (the JSON API keeps its own prefix)."""
    app.include_router(web_router(evi, options))


def standalone_app(evi: App, options: WebSettings | None = None) -> FastAPI:
    """An application serving only the pages (tests, screenshots, a station without the API)."""
    app = FastAPI(title="evidock pages", docs_url=None, redoc_url=None, openapi_url=None)
    install_web(app, evi, options)
    return app


__all__ = ["install_web", "standalone_app", "web_router"]
