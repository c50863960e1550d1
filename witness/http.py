"""The witness's HTTP interface: ``POST /add-checkpoint`` (C2SP tlog-witness) and ``GET /`` (who it is).

A FastAPI app without OpenAPI pages: the protocol is the spec, not a schema.
The work of a request (signature checks, an fsynced SQLite commit) runs in the
thread pool so the event loop keeps accepting connections (keep-alive, as the
spec recommends).
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from witness.service import TEXT, Witness

MAX_BODY = 64 * 1024
"""Bytes; an add-checkpoint body is a few hundred (63 proof lines and a note with 100 signatures fit easily)."""


def create_app(witness: Witness) -> FastAPI:
    app = FastAPI(title="evidock witness", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():  # read up to the limit only: the body comes from anyone
            body += chunk
            if len(body) > MAX_BODY:
                return Response(f"request body above {MAX_BODY} bytes\n", status_code=400, media_type=TEXT)
        answer = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        # The Content-Type is set as a header, not as media_type: Starlette would append "; charset=utf-8" to
        # text/x.tlog.size, which the spec names exactly.
        return Response(answer.body, status_code=answer.status, headers={"Content-Type": answer.content_type})

    @app.get("/")
    async def identity() -> Response:
        config = witness.config
        lines = [f"evidock witness {config.name}", f"vkey {config.vkey}", *(f"log {p.origin}" for p in config.logs)]
        return Response("\n".join(lines) + "\n", media_type=TEXT)

    return app
