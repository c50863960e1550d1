"""Content over HTTP, for the API and the web player: the gate opens it (ACCESS entry first), then the bytes stream.

One ``Range: bytes=first-last`` (or ``bytes=first-``, ``bytes=-suffix``) is
served as 206 so a player can seek; each HTTP request is its own read through
the gate, so every range a player asks for is registered. Several ranges in
one header are answered with the whole file (RFC 9110 allows ignoring Range).

A docked file's type follows its name, and anyone who can put a file in a dock
folder chooses that name: a ``.html`` or ``.svg`` shown inline from the
station's origin would run its script with the viewer's session. So only
audio, video and raster images are served ``inline`` with their own type;
everything else is an ``attachment`` of type ``application/octet-stream``.
Every answer carries ``nosniff`` and a sandboxing CSP, so even a browser that
renders the bytes runs nothing and loads nothing.
"""

from __future__ import annotations

import mimetypes
import re
import urllib.parse

from fastapi.responses import Response, StreamingResponse

from access.gate import Content

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ValueError):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for one satisfiable range; None for the whole file."""
    if header is None:
        return None
    found = _RANGE.match(header.strip())
    if found is None:
        return None  # several ranges or another unit: ignored, the whole file is sent
    first_text, last_text = found.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiable(header)
    return first, last


OCTET_STREAM = "application/octet-stream"
RASTER_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/avif"})
CONTENT_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
}


def media_type(name: str) -> str:
    guessed, _ = mimetypes.guess_type(name)
    return guessed or OCTET_STREAM


def shown_inline(kind: str) -> bool:
    """Whether a browser may show this type in place: audio, video, raster images; never SVG, HTML or text."""
    return kind.startswith(("video/", "audio/")) or kind in RASTER_IMAGES


def respond(content: Content, *, range_header: str | None, attachment: bool) -> Response:
    """The content as an HTTP answer: 200 whole, 206 one range, 416 outside; ``attachment`` forces a download.

    What is served may be a derived file of the recording (its playback proxy,
    a party's redacted copy): ``X-Evidock-Derived`` then names its SHA-256 and
    ``X-Evidock-Original`` the original's.
    """
    served = content.served
    kind = media_type(served.name)
    inline = shown_inline(kind) and not attachment
    if not shown_inline(kind):
        kind = OCTET_STREAM
    headers = {
        **CONTENT_HEADERS,
        "Accept-Ranges": "bytes",
        "ETag": f'"{served.sha256}"',
        "X-Evidock-Access-Entry": str(content.entry),
        "Content-Disposition": (
            f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{urllib.parse.quote(served.name, safe='')}"
        ),
    }
    if served.derived is not None:
        headers["X-Evidock-Derived"] = f"{served.derived.kind.value} {served.sha256}"
        headers["X-Evidock-Original"] = content.recording.id
    size = served.size
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(content.chunks(), media_type=kind, headers=headers)
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    return StreamingResponse(content.byte_range(first, last), status_code=206, media_type=kind, headers=headers)
