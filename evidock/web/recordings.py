"""Recordings: the search, one recording (facts, label, findings, custody chain, playback), proofs, the timeline.

Every page that shows a recording's metadata registers the person's read with
the access gate first (``Gate.read_metadata``, ``record_listing``,
``record_query``): the ACCESS entry is committed before the page is rendered,
and if it cannot be written the page fails. Playback asks for a reason first
and streams through ``Gate.open_content`` (an ACCESS ``stream`` entry before
the first byte); its URL carries no secret, the session cookie authorises it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy import select

from access.errors import ApprovalError
from access.people import Permission
from cases.evidence import designations, held_recordings
from cases.labels import Label, label_history, latest_labels
from chain.entries import decode
from evidock import content_http, findings_reads, log_queries, timelines
from evidock.app import App, retention_context
from evidock.audit_queries import query_values
from evidock.web.sessions import Playback, Session
from evidock.web.site import NO_REASON, Web, safe_next
from ingest.timeline import svg
from retention import compliance as compliance_mod
from retention import labelling
from retention.context import CustodyError
from retention.tracking import Tracked
from storage import findings as findings_db
from storage import proxy_jobs
from storage import recordings as recordings_db
from storage.access_terms import Action
from storage.derived import derived_of, proxy_of, redactions_of
from storage.recording_facts import open_findings_by_recording, recording_facts
from storage.schema import log_entries
from storage.search import MAX_LIMIT, CustodyStatus, RecordingFilter
from storage.search import search as recording_search
from storage.status import latest_checkpoint

PAGE_LIMIT = 500  # recordings shown by one search
PLAYBACK_WINDOW = timedelta(hours=2)  # how long a reason given to play a recording covers the player's requests
DEADLINE_STATUSES = ("due_soon", "overdue")  # art. 26 label deadline states, from the working-day calendar
STATUSES = ("unlabelled", "labelled", "evidence", *DEADLINE_STATUSES)
FINDING_FILTERS = ("open", "none")
SHOWN_BODY_KEYS = (  # what a custody-chain row shows of an entry's body (never a commitment)
    "actor",
    "action",
    "author",
    "by",
    "approver",
    "decision",
    "case_number",
    "handler",
    "kind",
    "reason",
    "request",
    "explanation",
)


@dataclass(frozen=True)
class Filters:
    device: str = ""
    officer: str = ""
    case: str = ""
    since: str = ""  # local date, YYYY-MM-DD
    until: str = ""  # local date, inclusive
    status: str = ""
    findings: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Row:
    recording: recordings_db.Recording
    label: Label | None
    evidence: bool
    open_findings: int
    tracked: Tracked | None


def _day(text: str, what: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CustodyError(f"{what} {text[:40]!r} is not a date: use YYYY-MM-DD") from None


def _local_midnight(day: date, evi: App) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=evi.settings.timezone).astimezone(UTC)


def search(evi: App, wanted: Filters) -> tuple[list[Row], RecordingFilter]:
    """The recordings matching every filter, and the shared filter that found them.

    ``storage.search`` (the search of `evidock recordings list` and the API)
    applies every filter but the art. 26 deadline states (due soon, overdue),
    which need the working-day calendar: those are applied here, to its result.
    """
    if wanted.status and wanted.status not in STATUSES:
        raise CustodyError(f"status {wanted.status[:20]!r} is not one of {', '.join(STATUSES)}")
    if wanted.findings and wanted.findings not in FINDING_FILTERS:
        raise CustodyError(f"findings {wanted.findings[:20]!r} is not one of {', '.join(FINDING_FILTERS)}")
    since, until = _day(wanted.since, "since"), _day(wanted.until, "until")
    due = wanted.status in DEADLINE_STATUSES
    shared = RecordingFilter(
        device=wanted.device.strip() or None,
        officer=wanted.officer.strip() or None,
        case_number=wanted.case.strip() or None,
        since=_local_midnight(since, evi) if since else None,
        until=_local_midnight(until + timedelta(days=1), evi) if until else None,
        status=CustodyStatus(wanted.status) if wanted.status and not due else None,
        open_findings={"open": True, "none": False}.get(wanted.findings),
        limit=MAX_LIMIT if due else PAGE_LIMIT,
    )
    with evi.catalog.read() as conn:
        found = recording_search(conn, shared)
        labels = latest_labels(conn, [r.id for r in found])
        held = held_recordings(conn)
        open_findings = open_findings_by_recording(conn)
        # Deadlines are computed only for what may be shown (or filtered on): the calendar is not free.
        tracked = {
            t.recording: t
            for t in compliance_mod.track(
                retention_context(evi), conn, recording_facts(conn, ids=[r.id for r in found]), now=evi.now()
            )
        }
    rows = [
        Row(r, labels.get(r.id), r.id in held, len(open_findings.get(r.id, ())), tracked.get(r.id))
        for r in found
        if not due or (r.id in tracked and tracked[r.id].deadline.label.kind.value == wanted.status)
    ]
    return rows[:PAGE_LIMIT], shared


def _chain(evi: App, recording: str) -> list[dict[str, Any]]:
    """The recording's custody chain: every log entry about it, oldest first."""
    with evi.catalog.read() as conn:
        rows = conn.execute(
            select(log_entries.c.idx, log_entries.c.data)
            .where(log_entries.c.recording == recording)
            .order_by(log_entries.c.idx)
        ).all()
    chain = []
    for idx, data in rows:
        entry = decode(bytes(data))
        shown = {k: entry.body[k] for k in SHOWN_BODY_KEYS if entry.body.get(k) not in (None, "")}
        chain.append(
            {"index": int(idx), "type": entry.type.value, "time": entry.timestamp, "prev": entry.prev, "body": shown}
        )
    return chain


def add_recording_pages(router: APIRouter, web: Web) -> None:  # noqa: PLR0915 - one nested handler per page
    evi = web.evi

    @router.get("/recordings")
    def recordings_page(
        request: Request,
        device: str = "",
        officer: str = "",
        case: str = "",
        since: str = "",
        until: str = "",
        status: str = "",
        findings: str = "",
        reason: str = "",
    ) -> Response:
        person, session = web.person(request)
        wanted = Filters(device, officer, case, since, until, status, findings, reason)
        rows, shared = search(evi, wanted)
        deadline = {"status": wanted.status} if wanted.status in DEADLINE_STATUSES else {}
        entry = evi.gate().record_listing(
            person,
            command="web recordings",
            query=query_values({**shared.as_query(), **deadline}),
            recordings=[r.recording.id for r in rows],
            reason=reason.strip() or NO_REASON,
        )
        return web.render(
            request,
            "recordings.html",
            person=person,
            session=session,
            rows=rows,
            wanted=wanted,
            entry=entry,
            statuses=STATUSES,
            finding_filters=FINDING_FILTERS,
            limit=PAGE_LIMIT,
        )

    @router.get("/recordings/{recording}")
    def recording_page(request: Request, recording: str, reason: str = "", done: str = "") -> Response:
        person, session = web.person(request)
        view = evi.gate().read_metadata(person, recording, reason=reason.strip() or NO_REASON)
        rid = view.recording.id
        with evi.catalog.read() as conn:
            findings = findings_db.listing(conn, recording=rid)
            history = label_history(conn, rid)
            held = designations(conn, rid)
            checkpoint = latest_checkpoint(conn)
            tracked = compliance_mod.track(
                retention_context(evi), conn, recording_facts(conn, ids=[rid]), now=evi.now()
            )
            derived = derived_of(conn, rid)
            redactions = redactions_of(conn, rid)
            proxy_job = proxy_jobs.job_of(conn, rid)
        return web.render(
            request,
            "recording.html",
            person=person,
            session=session,
            view=view,
            rec=view.recording,
            findings=findings,
            history=history,
            designations=held,
            chain=_chain(evi, rid),
            proven_below=checkpoint[0] if checkpoint else 0,
            tracked=tracked[0] if tracked else None,
            done=done,
            derived=derived,
            redactions=redactions,
            proxy=next((d for d in reversed(derived) if d.kind.value == "proxy"), None),
            proxy_job=proxy_job,
        )

    @router.post("/recordings/{recording}/label")
    def label_recording(
        request: Request,
        recording: str,
        case_number: Annotated[str, Form()] = "",
        parties: Annotated[str, Form()] = "",
        handler: Annotated[str, Form()] = "",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        person.require(Permission.CUSTODY)
        rctx = retention_context(evi)
        ids = labelling.resolve(rctx, [recording])
        names = [p.strip() for p in parties.replace("，", ",").replace("\n", ",").split(",") if p.strip()]  # noqa: RUF001 - the Chinese comma people type
        labelling.label(
            rctx, ids, case_number=case_number, parties=names, handler=handler, by=person.name, now=evi.now()
        )
        return RedirectResponse(f"/recordings/{ids[0]}?done=label", status_code=303)

    @router.post("/findings/{finding}/explain")
    def explain_finding(
        request: Request,
        finding: int,
        text: Annotated[str, Form()] = "",
        back: Annotated[str, Form()] = "/",
        csrf: Annotated[str, Form()] = "",
    ) -> Response:
        person, _ = web.posted(request, csrf)
        findings_reads.explain(evi, person, finding, text=text)
        target = safe_next(back)
        return RedirectResponse(target + ("&" if "?" in target else "?") + "done=explain", status_code=303)

    @router.post("/recordings/{recording}/play")
    def ask_playback(
        request: Request, recording: str, reason: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""
    ) -> Response:
        person, session = web.posted(request, csrf)
        person.require(Permission.VIEW_CONTENT)
        if not reason.strip():
            return web.error(request, 400, "error.reason_needed")
        with evi.catalog.read() as conn:
            rid = recordings_db.resolve(conn, recording).id
        session.playback[rid] = Playback(reason.strip(), evi.now() + PLAYBACK_WINDOW)
        return RedirectResponse(f"/recordings/{rid}/player", status_code=303)

    def playing(session: Session, recording: str) -> Playback | None:
        given = session.playback.get(recording)
        if given is not None and given.until <= evi.now():
            del session.playback[recording]
            return None
        return given

    @router.get("/recordings/{recording}/player")
    def player(request: Request, recording: str) -> Response:
        person, session = web.person(request)
        person.require(Permission.VIEW_CONTENT)
        if playing(session, recording) is None:
            return RedirectResponse(f"/recordings/{recording}", status_code=303)
        with evi.catalog.read() as conn:
            proxy = proxy_of(conn, recording)
            proxy_job = proxy_jobs.job_of(conn, recording)
        return web.render(
            request, "player.html", person=person, session=session, rid=recording, proxy=proxy, proxy_job=proxy_job
        )

    @router.get("/recordings/{recording}/stream")
    def stream(request: Request, recording: str) -> Response:
        """The player's request (the whole file or one byte range): each one an ACCESS entry, then its bytes."""
        person, session = web.person(request)
        given = playing(session, recording)
        if given is None:
            raise ApprovalError("playback needs a reason (事由) first: open the recording and press play")
        content = evi.gate().open_content(person, recording, action=Action.STREAM, reason=given.reason, playback=True)
        return content_http.respond(content, range_header=request.headers.get("range"), attachment=False)

    @router.get("/log/proof/{index}")
    def proof(request: Request, index: int) -> Response:
        person, _ = web.person(request)
        evi.gate().record_query(person, command="log proof", query=query_values({"entry": index}), reason=NO_REASON)
        return JSONResponse(
            log_queries.inclusion(evi, index),
            headers={"Content-Disposition": f'attachment; filename="evidock-proof-{index}.json"'},
        )

    @router.get("/timeline")
    def timeline_page(request: Request, device: str = "", day: str = "") -> Response:
        person, session = web.person(request)
        picture = None
        drawing = None
        if device.strip() and day.strip():
            wanted = timelines.local_day(day)
            evi.gate().record_query(
                person,
                command="timeline",
                query=query_values({"device": device.strip(), "date": day}),
                reason=NO_REASON,
            )
            picture = timelines.device_day(evi, device.strip(), wanted)
            drawing = Markup(svg(picture, lang=web.lang(request)))  # noqa: S704 - ingest.timeline escapes every text
        else:
            person.require(Permission.READ_METADATA)
        return web.render(
            request,
            "timeline.html",
            person=person,
            session=session,
            devices=timelines.devices(evi),
            device=device,
            day=day or evi.now().astimezone(evi.settings.timezone).date().isoformat(),
            picture=picture,
            drawing=drawing,
        )
