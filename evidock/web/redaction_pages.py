"""Redaction in the web pages (art. 29): draft from a recording, preview frames, submit, approve, render.

The same steps as `evidock redact` (``derived.redaction``), by the logged-in
person: each step is its REDACTION entry; a preview frame reads the original
through the gate (an ACCESS ``view`` entry) before the PNG is answered; the
render writes the DERIVED entry. Ranges and boxes are typed as on the command
line, one per line (``12-15.5``; ``40,30,120,90@10-20``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from access.people import Permission
from derived.spec import from_options
from evidock.web.site import Web
from storage import recordings as recordings_db

MAX_PREVIEW_AT = 7 * 24 * 3600.0  # seconds: far beyond any recording; the desk checks the real length


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(";", "\n").splitlines() if line.strip()]


def add_redaction_pages(router: APIRouter, web: Web) -> None:
    evi = web.evi

    @router.post("/recordings/{recording}/redactions")
    def draft(
        request: Request,
        recording: str,
        reason: Annotated[str, Form()] = "",
        mute: Annotated[str, Form()] = "",
        bleep: Annotated[str, Form()] = "",
        blur: Annotated[str, Form()] = "",
        for_request: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        spec = from_options(_lines(mute), _lines(bleep), _lines(blur))
        number = int(for_request) if for_request.strip().isdigit() else None
        made = evi.redaction_desk().new(person, recording, spec, reason=reason, request=number)
        return RedirectResponse(f"/redactions/{made.id}?done=draft", status_code=303)

    @router.get("/redactions/{number}")
    def redaction_page(request: Request, number: int, at: float = 0.0, done: str = "") -> Response:
        person, session = web.person(request)
        desk = evi.redaction_desk()
        shown = desk.get(person, number)
        with evi.catalog.read() as conn:
            rec = recordings_db.get(conn, shown.recording)
        return web.render(
            request,
            "redaction.html",
            person=person,
            session=session,
            r=shown,
            rec=rec,
            at=max(0.0, min(at, MAX_PREVIEW_AT)),
            done=done,
        )

    @router.get("/redactions/{number}/preview.png")
    def preview(request: Request, number: int, at: float = 0.0) -> Response:
        """One frame with the blurs applied; the original is read through the gate first (an ACCESS view entry)."""
        person, _ = web.person(request)
        person.require(Permission.VIEW_CONTENT)
        with tempfile.TemporaryDirectory(prefix="evidock-preview-") as folder:
            at_ms = round(max(0.0, min(at, MAX_PREVIEW_AT)) * 1000)
            frame = evi.redaction_desk().preview(person, number, at_ms=at_ms, out=Path(folder) / "frame.png")
            picture = frame.path.read_bytes()
        return Response(picture, media_type="image/png", headers={"X-Evidock-Access-Entry": str(frame.access_entry)})

    @router.post("/redactions/{number}/{step}")
    def move(
        request: Request,
        number: int,
        step: str,
        reason: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        desk = evi.redaction_desk()
        if step == "submit":
            desk.submit(person, number)
        elif step in ("approve", "reject"):
            desk.decide(person, number, approve=step == "approve", reason=reason)
        elif step == "render":
            desk.render(person, number)
        else:
            return web.error(request, 404, "error.not_found")
        return RedirectResponse(f"/redactions/{number}?done={step}", status_code=303)
