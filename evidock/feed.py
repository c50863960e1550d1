"""The static publication feed (公示, 公示办法 art. 9): Chinese HTML pages and JSON in a folder the website serves.

Rewritten whole from the catalog after every publication and withdrawal
(``evidock case publish feed`` rewrites it by hand)::

    index.html, index.json     what is published now, and what was withdrawn (撤下) with the document that did it
    items/<id>.html, <id>.json one published decision: its content exactly as logged in its PUBLICATION entry

Only the published content goes out, and it was checked for personal data
when it was published (``cases.redaction.leaks``); a withdrawn decision's
pages are deleted and only its document number, date and the judgment or
review decision that withdrew it stay in the index. Each file is written
atomically (a temporary file beside it, then renamed), and files of this
shape (``items/<number>.html|json``) that are no longer published are removed.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from cases.publication import Publication, all_publications
from chain.errors import EvidockError
from evidock.app import App

_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("reports") / "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)
_ITEM = re.compile(r"[0-9]+\.(html|json)")


class FeedError(EvidockError):
    """The feed folder could not be written; what was published stays published (the log has it)."""


def _item(publication: Publication, evi: App) -> dict[str, Any]:
    zone = evi.settings.timezone
    return {
        "id": publication.id,
        **publication.content,
        "published_on": publication.published_at.astimezone(zone).date().isoformat(),
    }


def _write(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_feed(evi: App, *, now: datetime | None = None) -> Path:
    """Rewrite the feed in ``publication.feed_dir`` from the catalog; returns the folder."""
    folder = evi.settings.publication.feed_dir
    zone = evi.settings.timezone
    with evi.catalog.read() as conn:
        found = all_publications(conn)
    live = sorted((p for p in found if p.active), key=lambda p: (p.decided_on, p.id), reverse=True)
    items = [_item(p, evi) for p in live]
    withdrawn = [
        {
            "id": p.id,
            "document": p.document,
            "decided_on": p.decided_on.isoformat(),
            "withdrawn_on": p.withdrawn_at.astimezone(zone).date().isoformat(),
            "basis": p.withdrawal_document,
        }
        for p in found
        if p.withdrawn_at is not None
    ]
    updated = (now or evi.now()).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    authority = evi.settings.publication.authority or ""
    try:
        (folder / "items").mkdir(parents=True, exist_ok=True)
        for item in items:
            _write(folder / "items" / f"{item['id']}.json", _json(item))
            _write(folder / "items" / f"{item['id']}.html", _env.get_template("feed_item.html").render(item=item))
        keep = {f"{item['id']}.{kind}" for item in items for kind in ("html", "json")}
        for stale in (folder / "items").iterdir():
            if _ITEM.fullmatch(stale.name) and stale.name not in keep:
                stale.unlink()
        index = {"authority": authority, "updated": updated, "published": items, "withdrawn": withdrawn}
        _write(folder / "index.json", _json(index))
        html = _env.get_template("feed_index.html").render(
            authority=authority, updated=updated, tz=str(zone), items=items, withdrawn=withdrawn
        )
        _write(folder / "index.html", html)
    except OSError as exc:
        raise FeedError(
            f"the publication feed in {folder} could not be written ({exc.strerror}); what was published is in the "
            "log and the catalog: fix the folder (publication.feed_dir) and run `evidock case publish feed`"
        ) from exc
    return folder
