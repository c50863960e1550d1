"""Commands of the access gate (art. 27, 29): users, access requests and approvals, copies, the audit trail.

Thin: each command says who is acting (evidock.auth) and calls the ``access`` package.
Commands of other modules that show recordings to a person are wrapped at
registration (:func:`logged_query`, :func:`person_required`); see docs/access.md.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.table import Table

from access.errors import InvalidAccessInput
from access.people import (
    Permission,
    Person,
    add_user,
    disable_user,
    has_users,
    hash_password,
    issue_token,
    list_users,
    role_of,
    set_role,
)
from access.requests import AccessRequest
from evidock import audit_queries, spreadsheet
from evidock.app import open_app
from evidock.auth import acting_person, new_password
from evidock.cli_common import PERSON_KEY, CsvOption, JsonOption, err, local_time, out, print_json, settings_of
from evidock.recording_reads import NO_REASON
from evidock.reports import documents as reports
from evidock.reports.options import LangOption, PdfOption
from evidock.settings import Settings
from evidock.text import one_line
from storage.access_terms import APPROVED_ACTIONS, Action, Category, RequestStatus

users_app = typer.Typer(
    help="People and roles: station, officer, custodian, auditor, admin.\n\n"
    "Example: evidock users add wang.wu --role custodian --officer-id P1001",
    no_args_is_help=True,
)
access_app = typer.Typer(
    help="Access requests and approvals (art. 29, 第二十九条): copy, download and export need a second person.\n\n"
    'Example: evidock access request 3fa4c1 --action copy --category court --document "(2026)京0105刑初12号" '
    '--reason "trial evidence"',
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help="The audit trail of every access (art. 27, 第二十七条), for auditors.\n\n"
    "Example: evidock audit access --recording 3fa4c1 --csv",
    no_args_is_help=True,
)

ReasonOption = Annotated[str, typer.Option("--reason", help="Why (事由); it goes into the log entry.")]

F = TypeVar("F", bound=Callable[..., Any])


def _reader(ctx: typer.Context) -> tuple[Settings, Person]:
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        return settings, acting_person(evi)


# -- wrappers for other modules' commands -------------------------------------------------


def logged_query(command: str, func: F, *, permission: Permission = Permission.READ_METADATA) -> F:
    """``func`` (a Typer command showing recordings) run by a person, after a QUERY entry with its options.

    Reports (deadlines, compliance, status) show recordings, officers and case numbers too, so
    they are queries on the record like any listing; they need ``Permission.REPORTS`` instead.
    """

    @functools.wraps(func)
    def gated(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs["ctx"]
        with open_app(settings_of(ctx), ensure_bucket=False) as evi:
            person = acting_person(evi)
            evi.gate().record_query(
                person,
                command=command,
                query=audit_queries.query_values(kwargs),
                reason=NO_REASON,
                permission=permission,
            )
        return func(*args, **kwargs)

    return cast(F, gated)


def person_required(permission: Permission, func: F) -> F:
    """``func`` run only by an authenticated person whose role has ``permission`` (no log entry).

    The command finds the person with ``cli_common.person_of(ctx)``: it acts as them.
    """

    @functools.wraps(func)
    def gated(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs["ctx"]
        _, person = _reader(ctx)
        person.require(permission)
        ctx.meta[PERSON_KEY] = person
        return func(*args, **kwargs)

    return cast(F, gated)


def gate_registered(group: typer.Typer, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Wrap the callback of command ``name`` already registered on ``group``."""
    for info in group.registered_commands:
        if info.name == name and info.callback is not None:
            info.callback = wrap(info.callback)
            return
    raise RuntimeError(f"no command {name!r} registered to wrap")


# -- users ------------------------------------------------------------------------------------


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name, e.g. wang.wu or 王五.")],
    role: Annotated[str, typer.Option(help="station, officer, custodian, auditor or admin.")],
    officer_id: Annotated[
        str | None, typer.Option(help="The officer id (警号) recordings carry, e.g. P1001 (for audits).")
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="Full name as shown to people.")] = None,
    password: Annotated[
        bool,
        typer.Option("--password", help="Set a password (asked twice, or $EVIDOCK_NEW_PASSWORD) instead of a token."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a user. The first user (an admin) needs no login; after that only an admin adds users.

    Without --password an API token is printed once: give it to the person as EVIDOCK_TOKEN.

    Example: EVIDOCK_USER=admin evidock users add wang.wu --role custodian --officer-id P1001
    """
    settings = settings_of(ctx)
    wanted = role_of(role)
    with open_app(settings, ensure_bucket=False) as evi:
        with evi.catalog.read() as conn:
            bootstrap = not has_users(conn)
        actor = None if bootstrap else acting_person(evi)
        if actor is not None:
            actor.require(Permission.MANAGE_USERS)
        hashed = hash_password(new_password()) if password else None
        now = evi.now()
        with evi.catalog.begin() as conn:
            stored = add_user(
                conn,
                journal=evi.journal,
                actor=actor,
                name=name,
                role=wanted,
                officer_id=officer_id,
                display_name=display_name,
                password_hash=hashed,
                time=now,
            )
            token = None if password else issue_token(conn, journal=evi.journal, actor=actor, name=stored, time=now)
    if as_json:
        print_json({"name": stored, "role": wanted.value, "token": token})
        return
    out.print(f"added user {stored} ({wanted.value})", markup=False)
    if token:
        out.print(f"API token (shown once; give it as EVIDOCK_TOKEN): {token}", markup=False)


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List users, their roles and whether they are disabled (admins and auditors).

    Example: evidock users list --json
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        person = acting_person(evi)
        if not person.may(Permission.AUDIT):
            person.require(Permission.MANAGE_USERS)
        with evi.catalog.read() as conn:
            found = list_users(conn)
    if as_json:
        print_json([u.as_json() for u in found])
        return
    table = Table("name", "role", "officer id", "display name", "login", "disabled", "created by")
    for u in found:
        login = ", ".join(x for x in ("password" if u.has_password else "", f"{u.tokens} token(s)") if x)
        table.add_row(
            u.name,
            u.role.value,
            u.officer_id or "—",
            u.display_name or "—",
            login,
            local_time(u.disabled_at, settings) if u.disabled_at else "—",
            u.created_by,
        )
    out.print(table)


@users_app.command("disable")
def users_disable(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name.")],
    reason: ReasonOption,
) -> None:
    """Disable a user and revoke their tokens (the user stays: the log names them).

    Example: evidock users disable wang.wu --reason "left the unit"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        person = acting_person(evi)
        with evi.catalog.begin() as conn:
            disable_user(conn, journal=evi.journal, actor=person, name=name, reason=reason, time=evi.now())
    out.print(f"disabled user {name}", markup=False)


@users_app.command("set-role")
def users_set_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Argument(help="station, officer, custodian, auditor or admin.")],
) -> None:
    """Change a user's role.

    Example: evidock users set-role wang.wu auditor
    """
    wanted = role_of(role)
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        person = acting_person(evi)
        with evi.catalog.begin() as conn:
            set_role(conn, journal=evi.journal, actor=person, name=name, role=wanted, time=evi.now())
    out.print(f"{name} is now {wanted.value}", markup=False)


@users_app.command("token")
def users_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name (yourself, or anyone for an admin).")],
    as_json: JsonOption = False,
) -> None:
    """Issue a new API token (printed once). Revoke old ones by disabling and re-adding the user.

    Example: evidock users token wang.wu
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        person = acting_person(evi)
        with evi.catalog.begin() as conn:
            token = issue_token(conn, journal=evi.journal, actor=person, name=name, time=evi.now())
    if as_json:
        print_json({"name": name, "token": token})
    else:
        out.print(f"API token for {name} (shown once; give it as EVIDOCK_TOKEN): {token}", markup=False)


# -- access requests ------------------------------------------------------------------------------


def _choice(kind: type[Action] | type[Category], text: str, allowed: list[str], option: str) -> Any:
    if text.strip().lower() not in allowed:
        raise InvalidAccessInput(f"{option} {text[:40]!r} is not one of: {', '.join(allowed)}")
    return kind(text.strip().lower())


def _print_request(found: AccessRequest, now: datetime, settings: Settings) -> None:
    state = "expired" if found.status is RequestStatus.APPROVED and found.expired(now) else found.status.value
    out.print(
        f"request {found.id}: {found.action.value} of {len(found.grants)} recording(s) for {found.category.value}, "
        f"{state}",
        markup=False,
    )
    out.print(f"  requested by {found.requested_by} at {local_time(found.created_at, settings)}", markup=False)
    out.print(f"  reason: {one_line(found.reason)}", markup=False)
    if found.document_ref:
        out.print(f"  document (文号): {one_line(found.document_ref)}", markup=False)
    if found.party:
        out.print(f"  party (当事人): {one_line(found.party)}", markup=False)
    if found.decided_by:
        out.print(
            f"  {found.status.value} by {found.decided_by} at {local_time(found.decided_at, settings)}: "
            f"{one_line(found.decision_reason or '')}",
            markup=False,
        )
    if found.expires_at:
        out.print(f"  usable until {local_time(found.expires_at, settings)} ({settings.timezone})", markup=False)
    for g in found.grants:
        used = f"used (ACCESS entry {g.access_entry})" if g.used_at else "not used"
        approval = f"APPROVAL entry {g.approval_entry}" if g.approval_entry is not None else "no decision yet"
        out.print(f"  {g.recording[:12]}  {approval}, {used}", markup=False)


@access_app.command("request")
def access_request(
    ctx: typer.Context,
    recordings: Annotated[list[str], typer.Argument(help="Recording ids or unique prefixes (6+ hex digits).")],
    action: Annotated[str, typer.Option(help="copy, download or export.")],
    reason: ReasonOption,
    category: Annotated[
        str, typer.Option(help="internal, court, supervision, audit, lawyer or party (who it is for, art. 29).")
    ] = Category.INTERNAL.value,
    document: Annotated[
        str | None,
        typer.Option(help="Document reference (文号): letter or 律师调查令 number; needed unless internal."),
    ] = None,
    requester: Annotated[
        str | None, typer.Option(help="Who outside asks (court, lawyer); committed in the log.")
    ] = None,
    party: Annotated[
        str | None, typer.Option(help="With --category party: the party concerned (当事人); only their recordings.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Ask for a copy, download or export; a custodian other than you decides (`evidock access approve`).

    Example: evidock access request 3fa4c1 9b2e77 --action copy --category lawyer
    --document "(2026)京0105民初88号调查令" --requester "李律师" --reason "civil case evidence"
    """
    chosen = _choice(Action, action, sorted(a.value for a in APPROVED_ACTIONS), "--action")
    who = _choice(Category, category, [c.value for c in Category], "--category")
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        person = acting_person(evi)
        made = evi.gate().request(
            person,
            recordings,
            action=chosen,
            reason=reason,
            category=who,
            document_ref=document,
            requester=requester,
            party=party,
        )
        now = evi.now()
    if as_json:
        print_json(made.as_json(now))
        return
    _print_request(made, now, settings)
    out.print(f"ask a custodian other than {person.name}: evidock access approve {made.id} --reason ...", markup=False)


def _decide(ctx: typer.Context, request: int, reason: str, *, approve: bool, as_json: bool, said: str | None) -> None:
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        person = acting_person(evi)
        if said is None:
            decided = evi.gate().decide(person, request, approve=approve, reason=reason)
        else:  # a party's request (art. 29): the approver states no third party is in it
            decided = evi.redaction_desk().approve_stating(person, request, reason=reason, statement=said)
        now = evi.now()
    if as_json:
        print_json(decided.as_json(now))
    else:
        _print_request(decided, now, settings)


@access_app.command("approve")
def access_approve(
    ctx: typer.Context,
    request: Annotated[int, typer.Argument(min=1, help="Request number.")],
    reason: ReasonOption,
    no_third_parties: Annotated[str | None, typer.Option(help="A party's request: no third party is in it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Approve a request (custodian, not the requester): APPROVAL entries; usable once per recording until it expires.

    A party's request (当事人) gets redacted copies (`evidock redact`), or the originals on --no-third-parties.

    Example: evidock access approve 7 --reason "court letter checked, 负责人批准"
    """
    _decide(ctx, request, reason, approve=True, as_json=as_json, said=no_third_parties)


@access_app.command("deny")
def access_deny(
    ctx: typer.Context,
    request: Annotated[int, typer.Argument(min=1, help="Request number.")],
    reason: ReasonOption,
    as_json: JsonOption = False,
) -> None:
    """Deny a request (custodian, not the requester): APPROVAL entries with decision "denied".

    Example: evidock access deny 7 --reason "no court investigation order attached"
    """
    _decide(ctx, request, reason, approve=False, as_json=as_json, said=None)


@access_app.command("list")
def access_list(
    ctx: typer.Context,
    pending: Annotated[bool, typer.Option("--pending", help="Only requests waiting for a decision.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List access requests: your own, or all of them for custodians and auditors.

    Example: evidock access list --pending
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        person = acting_person(evi)
        found = evi.gate().list_requests(person, pending_only=pending)
        now = evi.now()
    if as_json:
        print_json([r.as_json(now) for r in found])
        return
    table = Table("id", "action", "category", "recordings", "requested by", "status", "decided by", "document")
    for r in found:
        state = "expired" if r.status is RequestStatus.APPROVED and r.expired(now) else r.status.value
        table.add_row(
            str(r.id),
            r.action.value,
            r.category.value,
            str(len(r.grants)),
            r.requested_by,
            state,
            r.decided_by or "—",
            one_line(r.document_ref or "—"),
        )
    out.print(table)


@access_app.command("show")
def access_show(
    ctx: typer.Context,
    request: Annotated[int, typer.Argument(min=1, help="Request number.")],
    as_json: JsonOption = False,
) -> None:
    """Show one request: its recordings, decision, expiry and which copies were taken.

    Example: evidock access show 7 --json
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        person = acting_person(evi)
        found = evi.gate().get_request(person, request)
        now = evi.now()
    if as_json:
        print_json(found.as_json(now))
    else:
        _print_request(found, now, settings)


# -- content ----------------------------------------------------------------------------------


def recordings_get(
    ctx: typer.Context,
    recording: Annotated[str, typer.Argument(help="Recording id (SHA-256) or a unique prefix of 6+ digits.")],
    request: Annotated[int, typer.Option("--request", min=1, help="The approved access request.")],
    out_file: Annotated[Path, typer.Option("--out", help="File to create; an existing file is never overwritten.")],
    as_json: JsonOption = False,
) -> None:
    """Save the original of a recording under an approved request, through the access gate.

    A party's request (当事人, art. 29): its approved redacted copy, or the original (docs/derived.md).

    The ACCESS entry is committed before the first byte is read; the bytes go to a
    temporary file beside FILE, are checked against the recording's SHA-256, synced,
    and only then appear as FILE. Each approval serves each recording once.

    Example: evidock recordings get 3fa4c1 --request 7 --out /media/export/3fa4c1.mp4
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        person = acting_person(evi)
        delivered = evi.gate().download(person, recording, request_id=request, out=out_file)
    if as_json:
        print_json(delivered.as_json())
        return
    copy = delivered.disclosed.get("delivered")
    out.print(
        (f"saved the redacted copy (DERIVED entry {copy['derived_entry']}): " if copy else "saved ")
        + f"{delivered.path} ({delivered.size} bytes, SHA-256 {delivered.sha256}); "
        f"ACCESS entry {delivered.entry}, approval entry {delivered.approval_entry}",
        markup=False,
    )
    label = delivered.disclosed
    if label.get("case_number"):
        parties = ", ".join(label["parties"])
        out.print(f"case {label['case_number']}; parties (当事人): {parties}; handler {label['handler']}", markup=False)


# -- audit ------------------------------------------------------------------------------------------


def _formats(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise InvalidAccessInput("give --json or --csv, not both")


@audit_app.command("access")
def audit_access(
    ctx: typer.Context,
    recording: Annotated[
        str | None, typer.Option(help="Only this recording (id or prefix), searches included.")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Only accesses by this user.")] = None,
    case: Annotated[
        str | None, typer.Option(help="Only recordings ever labelled with this case number (案号).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this local time, e.g. 2026-11-20.")] = None,
    until: Annotated[str | None, typer.Option(help="Before this local time.")] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    pdf: PdfOption = None,
    lang: LangOption = "zh",
) -> None:
    """Every access from the log (auditors): who, role, action, reason, approver, category, document, time.

    Each row names its log entry: `evidock log proof --entry N` proves it is in the signed log.
    This query is itself logged (an ACCESS entry of action "audit") and lists only older entries.
    With --pdf the same rows are also printed to an A4 PDF (Chinese; --lang en for English).

    Example: evidock audit access --case 京朝公(治)行罚决字[2026]1号 --since 2026-11-01 --csv
    """
    _formats(as_json, as_csv)
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        person = acting_person(evi)
        trail = audit_queries.access_trail(
            evi, person, recording=recording, user=user, case=case, since=since, until=until
        )
        if pdf is not None:
            filters = audit_queries.query_values(
                {"recording": recording, "user": user, "case": case, "since": since, "until": until}
            )
            size = reports.audit_access_pdf(
                evi, trail.rows, own=trail.entry, filters=filters, by=person.name, target=pdf, lang=lang
            )
            err.print(f"wrote {pdf} ({size} bytes, A4 PDF)", markup=False)
    rows, own = trail.rows, trail.entry
    listed = [r.as_json() for r in rows]
    if as_json:
        print_json(listed)
        return
    if as_csv:
        sys.stdout.write(spreadsheet.csv_text(listed, audit_queries.ACCESS_COLUMNS))
        return
    table = Table("entry", f"time ({settings.timezone})", "user", "role", "action", "recording", "reason", "approver")
    for r in rows:
        table.add_row(
            str(r.entry),
            local_time(r.time, settings),
            r.actor,
            r.role,
            r.action + (f" ({r.listed})" if r.listed else ""),
            (r.recording or "—")[:12],
            one_line(r.reason)[:60],
            r.approver or "—",
        )
    out.print(table)
    out.print(f"{len(rows)} access(es) before entry {own} (this query); prove one with `evidock log proof --entry N`")


@audit_app.command("anomalies")
def audit_anomalies(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="From this local time, e.g. 2026-11-01.")] = None,
    until: Annotated[str | None, typer.Option(help="Before this local time.")] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """Accesses to look at: own evidence read by its officer, outside hours, bulk, no approval, exports.

    Bulk is more than [access] bulk_threshold recordings by one person within an hour;
    working hours are [access] working_hours on working days (调休 included).

    Example: evidock audit anomalies --since 2026-11-01 --json
    """
    _formats(as_json, as_csv)
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        result = audit_queries.anomalies(evi, acting_person(evi), since=since, until=until)
    found, own = result.found, result.entry
    listed = [a.as_json() for a in found]
    if as_json:
        print_json(listed)
        return
    if as_csv:
        sys.stdout.write(spreadsheet.csv_text(listed, audit_queries.ANOMALY_COLUMNS))
        return
    table = Table("kind", "entry", f"time ({settings.timezone})", "user", "recording", "what")
    for a in found:
        table.add_row(
            a.kind.value,
            str(a.entry),
            local_time(a.time, settings),
            a.actor,
            (a.recording or "—")[:12],
            one_line(a.detail),
        )
    out.print(table)
    out.print(f"{len(found)} anomal{'y' if len(found) == 1 else 'ies'} before entry {own} (this query)")
