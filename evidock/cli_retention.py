"""Commands of art. 26-28: working days, deadlines, labels, evidence, cases, compliance, purge, status.

Thin: each command calls the ``retention`` function the scheduled jobs use.
Times are typed and shown in the station's zone (Asia/Shanghai by default).
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from cases.register import Case
from evidock import custody, spreadsheet
from evidock.app import open_app, retention_context, working_calendar
from evidock.auth import acting_person
from evidock.cli_common import CsvOption, JsonOption, err, local_time, out, person_of, print_json, settings_of
from evidock.moments import utc
from evidock.reports import documents as reports
from evidock.reports.options import LangOption, PdfOption
from evidock.settings import Settings
from retention import alerts as alerts_mod
from retention import compliance as compliance_mod
from retention import lifecycle
from retention.context import CustodyError
from retention.deadlines import storage_deadline
from retention.purge import purge as run_purge
from retention.tracking import Tracked, describe
from storage.status import alert_run_history, count_purged, count_recordings, counts_by_receipt_state, latest_checkpoint

calendar_app = typer.Typer(
    help="Working days of mainland China (调休 included) and the art. 26 deadline.\n\n"
    "Example: evidock calendar deadline 2026-09-30T10:00",
    no_args_is_help=True,
)
evidence_app = typer.Typer(
    help="Evidence (作为证据使用, art. 27): legal hold and case-term retention.\n\n"
    "Example: evidock evidence add 3fa4c1 --case 京朝公(治)行罚决字[2026]1号",
    no_args_is_help=True,
)
case_app = typer.Typer(
    help="Cases: lifecycle (art. 26: case file within 30 days, archive by 31 March), decisions, legal review "
    "(法制审核) and publication (公示).\n\n"
    "Example: evidock case close 京朝公(治)行罚决字[2026]1号 --date 2026-11-20",
    no_args_is_help=True,
)


def _now() -> datetime:
    return datetime.now(UTC)


def _moment(text: str, settings: Settings, what: str) -> datetime:
    """A date-time as typed: with an offset as given, else local (station timezone)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise CustodyError(
            f"{what} {text!r} is not a date-time: use 2026-09-30T10:00 (local, {settings.timezone}) "
            f"or 2026-09-30T02:00:00+00:00"
        ) from exc
    return utc(moment, settings.timezone)


def _day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise CustodyError(f"{what} {text!r} is not a date: use YYYY-MM-DD, e.g. 2026-11-20") from exc


def _warn(warnings: Any) -> None:
    for warning in warnings:
        err.print(f"warning: provisional: {warning}", markup=False, soft_wrap=True)


# -- calendar -----------------------------------------------------------------------------


@calendar_app.command("is-workday")
def calendar_is_workday(
    ctx: typer.Context,
    day: Annotated[str, typer.Argument(metavar="DATE", help="A date, YYYY-MM-DD.")],
    as_json: JsonOption = False,
) -> None:
    """Whether a date is a working day (weekends, statutory holidays, 调休 make-up days, config overrides).

    Example: evidock calendar is-workday 2026-10-10 --json
    """
    settings = settings_of(ctx)
    answer = working_calendar(settings).day(_day(day, "DATE"))
    warnings = working_calendar(settings).warnings_for([answer.day.year])
    result = {
        "date": answer.day.isoformat(),
        "working_day": answer.working,
        "reason": answer.reason,
        "provisional": answer.provisional,
        "warnings": list(warnings),
    }
    if as_json:
        print_json(result)
        return
    kind = "working day" if answer.working else "day off"
    out.print(f"{answer.day.isoformat()} ({answer.day.strftime('%A')}): {kind} — {answer.reason}", markup=False)
    _warn(warnings)


@calendar_app.command("deadline")
def calendar_deadline(
    ctx: typer.Context,
    ended: Annotated[
        str, typer.Argument(metavar="DATETIME", help="When the recording ended; local time unless it has an offset.")
    ],
    as_json: JsonOption = False,
) -> None:
    """The art. 26 deadline (第二十六条: stored and labelled within 2 working days) of a recording.

    Due at 23:59:59 local time of the 2nd working day after the local end date.

    Example: evidock calendar deadline "2026-09-30 18:30" --json
    """
    settings = settings_of(ctx)
    ended_at = _moment(ended, settings, "DATETIME")
    deadline = storage_deadline(ended_at, working_calendar(settings), settings.timezone)
    result = {
        "ended_at": ended_at.astimezone(settings.timezone).isoformat(),
        "ended_on": deadline.ended_on.isoformat(),
        "due": deadline.due.isoformat(),
        "due_utc": deadline.due.astimezone(UTC).isoformat(),
        "timezone": str(settings.timezone),
        "provisional": deadline.provisional,
        "warnings": list(deadline.warnings),
    }
    if as_json:
        print_json(result)
        return
    out.print(
        f"ended {local_time(ended_at, settings)} → due {local_time(deadline.due, settings)} ({settings.timezone})"
        + (" [provisional]" if deadline.provisional else ""),
        markup=False,
        soft_wrap=True,
    )
    _warn(deadline.warnings)


# -- deadlines per recording ------------------------------------------------------------------


def deadlines(
    ctx: typer.Context,
    device: Annotated[str | None, typer.Option(help="Only this device id.")] = None,
    officer: Annotated[str | None, typer.Option(help="Only this officer id.")] = None,
    month: Annotated[str | None, typer.Option(help="Only recordings that ended in this month, YYYY-MM.")] = None,
    unlabelled: Annotated[bool, typer.Option("--unlabelled", help="Only recordings without a label.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Each recording's art. 26 deadline: storage and label on time, due soon, overdue or late.

    Stored = catalogued (ingest time); labelled = its first LABEL entry.

    Example: evidock deadlines --month 2026-11 --unlabelled --json
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        rctx = retention_context(evi)
        tracked = compliance_mod.deadlines(
            rctx,
            now=_now(),
            device=device,
            officer=officer,
            month=compliance_mod.parse_month(month) if month else None,
            unlabelled_only=unlabelled,
        )
    if as_json:
        print_json([_tracked_json(t, settings) for t in tracked])
        return
    table = Table("id", "device", "officer", f"ended ({settings.timezone})", "due", "storage", "label", "case (案号)")
    for t in tracked:
        table.add_row(
            t.recording[:12],
            t.device or "—",
            t.officer or "—",
            local_time(t.deadline.ended_at, settings),
            local_time(t.deadline.due, settings) + (" *" if t.deadline.provisional else ""),
            describe(t.deadline.storage),
            describe(t.deadline.label),
            t.case_number or "—",
        )
    out.print(table)
    out.print(f"{len(tracked)} recording(s)")
    _warn(sorted({w for t in tracked for w in t.deadline.warnings}))


def _tracked_json(t: Tracked, settings: Settings) -> dict[str, Any]:
    return {
        "recording": t.recording,
        "device": t.device,
        "officer": t.officer,
        "case_number": t.case_number,
        "open_findings": len(t.open_findings),
        **t.deadline.as_json(settings.timezone),
    }


# -- labels -----------------------------------------------------------------------------


def label(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Option("--case", help="Case number (案号).")],
    handler: Annotated[str, typer.Option("--handler", help="Handler's name (承办人).")],
    recordings: Annotated[
        list[str] | None, typer.Argument(metavar="RECORDING...", help="Recording ids or unique prefixes.")
    ] = None,
    parties: Annotated[list[str] | None, typer.Option("--party", help="Party name (当事人); repeat for each.")] = None,
    device: Annotated[str | None, typer.Option(help="Label a shift: this device's recordings ...")] = None,
    start: Annotated[str | None, typer.Option("--from", help="... that started at or after (local time) ...")] = None,
    end: Annotated[str | None, typer.Option("--to", help="... and before this time (local).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Label recordings with case number (案号), parties (当事人) and handler (承办人) — art. 26.

    Each label is a LABEL log entry; a change is a new entry (the latest wins,
    the history stays). Party names are committed (salted hash) in the log.

    Example: evidock label 3fa4c1 --case 京朝公(治)行罚决字[2026]1号 --party 张三 --handler 李四

    Example (a shift): evidock label --device CAM01 --from "2026-11-20 08:00" --to "2026-11-20 18:00"
    --case 京朝公(治)行罚决字[2026]1号 --party 张三 --handler 李四
    """
    settings = settings_of(ctx)
    shift = None
    if device is not None or start is not None or end is not None:
        if device is None or start is None or end is None:
            raise CustodyError("a shift needs all of --device, --from and --to")
        shift = custody.Shift(device, _moment(start, settings, "--from"), _moment(end, settings, "--to"))
    with open_app(settings, ensure_bucket=False) as evi:
        outcomes = custody.label(
            evi,
            person_of(ctx),
            recordings=recordings or [],
            shift=shift,
            case_number=case_number,
            parties=parties or [],
            handler=handler,
        )
    if as_json:
        print_json([o.as_json() for o in outcomes])
        return
    for o in outcomes:
        what = f"LABEL entry {o.label.entry}" if o.changed else "unchanged (already this label)"
        out.print(
            f"{o.recording[:12]}: case {o.label.case_number}, parties {', '.join(o.label.parties)}, "
            f"handler {o.label.handler} — {what}",
            markup=False,
        )


# -- evidence ------------------------------------------------------------------------------


@evidence_app.command("add")
def evidence_add(
    ctx: typer.Context,
    recordings: Annotated[list[str], typer.Argument(metavar="RECORDING...", help="Recording ids or prefixes.")],
    case_number: Annotated[str, typer.Option("--case", help="Case number (案号).")],
    period: Annotated[
        str | None,
        typer.Option(help='Retention: years (e.g. 30) or "permanent" (永久); default retention.evidence_years.'),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Designate recordings as evidence: legal hold on, COMPLIANCE retention extended (both read back).

    Writes HOLD and RETENTION log entries. Retention is only ever extended.

    Example: evidock evidence add 3fa4c1 9b02de --case 京朝公(治)行罚决字[2026]1号 --period 30
    """
    settings = settings_of(ctx)
    with open_app(settings) as evi:
        outcomes = custody.designate(evi, person_of(ctx), recordings, case_number=case_number, period=period)
    if as_json:
        print_json([o.as_json() for o in outcomes])
        return
    for o in outcomes:
        was = local_time(o.previous_retain_until, settings)
        entries = f"HOLD entry {o.hold_entry}" if o.hold_entry is not None else "already evidence of this case"
        if o.retention_entry is not None:
            entries += f", RETENTION entry {o.retention_entry}"
        out.print(
            f"{o.recording[:12]}: legal hold {'ON' if o.legal_hold else 'OFF'}, retained until "
            f"{local_time(o.retain_until, settings)} (was {was}) — {entries}",
            markup=False,
        )


@evidence_app.command("release")
def evidence_release(
    ctx: typer.Context,
    recording: Annotated[str, typer.Argument(metavar="RECORDING", help="Recording id or prefix.")],
    reason: Annotated[str, typer.Option(help="Why the hold is lifted (recorded in the log).")],
    approved_by: Annotated[
        str, typer.Option("--approved-by", help="The custodian approving: an active user, not you.")
    ],
    case_number: Annotated[
        str | None, typer.Option("--case", help="Release only this case's designation (案号).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Lift the legal hold of an evidence recording, with a reason and a second person's approval.

    You act as yourself (EVIDOCK_USER, authenticated); the approver must be another
    active custodian, named (not authenticated) by you. Both go into the HOLD entry.
    Retention is not shortened.

    Example: evidock evidence release 3fa4c1 --reason "case closed, 判决生效" --approved-by zhao.liu
    """
    with open_app(settings_of(ctx)) as evi:
        outcome = custody.release(
            evi, person_of(ctx), recording, reason=reason, approved_by=approved_by, case_number=case_number
        )
    if as_json:
        print_json(outcome.as_json())
        return
    hold = "ON" if outcome.legal_hold else "OFF"
    still = f" (still held for {', '.join(outcome.still_held_for)})" if outcome.still_held_for else ""
    entry = f"HOLD entry {outcome.hold_entry}" if outcome.hold_entry is not None else "earlier release finished"
    out.print(f"{outcome.recording[:12]}: legal hold {hold}{still} — {entry}", markup=False)


# -- cases ---------------------------------------------------------------------------------


@case_app.command("close")
def case_close(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="案号", help="Case number (案号).")],
    closed_on: Annotated[str, typer.Option("--date", help="Local date the case ended (执法行为终结), YYYY-MM-DD.")],
    as_json: JsonOption = False,
) -> None:
    """Close a case: case file due 30 days later, archive by 31 March of the next year (art. 26).

    Example: evidock case close 京朝公(治)行罚决字[2026]1号 --date 2026-11-20
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        case = lifecycle.close(
            retention_context(evi), case_number, closed_on=_day(closed_on, "--date"), by=person_of(ctx).name, now=_now()
        )
    _print_case(case, as_json=as_json)


@case_app.command("done")
def case_done(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="案号", help="Case number (案号).")],
    case_file: Annotated[str | None, typer.Option("--case-file", help="Date the case file (案卷) was formed.")] = None,
    archived: Annotated[str | None, typer.Option("--archived", help="Date it was handed to the archive.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record that a closed case's file was formed and/or handed to the archive (ends the reminders).

    Example: evidock case done 京朝公(治)行罚决字[2026]1号 --case-file 2026-12-01
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        case = lifecycle.done(
            retention_context(evi),
            case_number,
            case_file_on=_day(case_file, "--case-file") if case_file else None,
            archived_on=_day(archived, "--archived") if archived else None,
            by=person_of(ctx).name,
            now=_now(),
        )
    _print_case(case, as_json=as_json)


def _print_case(case: Case, *, as_json: bool) -> None:
    if as_json:
        print_json(case.as_json())
        return
    out.print(
        f"case {case.case_number}: closed {case.closed_on}; case file due {case.case_file_due}"
        f"{f' (formed {case.case_file_done_on})' if case.case_file_done_on else ''}; archive due {case.archive_due}"
        f"{f' (archived {case.archived_on})' if case.archived_on else ''}",
        markup=False,
    )


# -- compliance -----------------------------------------------------------------------------

CSV_COLUMNS = [
    "group",
    "key",
    "recordings",
    "stored_on_time",
    "labelled_on_time",
    "late",
    "working_days_late",
    "overdue",
    "open_findings",
    "due",
    "due_status",
]


def compliance(
    ctx: typer.Context,
    month: Annotated[str | None, typer.Option(help="Recordings that ended in this month (local), YYYY-MM.")] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    pdf: PdfOption = None,
    lang: LangOption = "zh",
) -> None:
    """Art. 26 compliance per device, officer and case: stored and labelled on time, late, open findings.

    Also lists the cases whose case file (30 days) or archive handover (31 March) falls due.
    Open findings are the art. 7/18 findings (gaps, clock drift, ...) still unexplained.
    With --pdf the report is also printed to an A4 PDF (Chinese; --lang en for English).

    Example: evidock compliance --month 2026-11 --csv > 2026-11.csv
    """
    if as_json and as_csv:
        raise CustodyError("give --json or --csv, not both")
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        rctx = retention_context(evi)
        result = compliance_mod.report(rctx, now=_now(), month=compliance_mod.parse_month(month) if month else None)
        data = result.as_json(rctx)
        if pdf is not None:
            by = acting_person(evi).name  # the REPORTS query entry naming them is already written
            size = reports.compliance_pdf(evi, result, by=by, target=pdf, lang=lang)
            err.print(f"wrote {pdf} ({size} bytes, A4 PDF)", markup=False)
    if as_json:
        print_json(data)
        return
    if as_csv:
        lines = [{**row.as_json(), "key": row.key or "", "due": "", "due_status": ""} for row in result.rows]
        lines += [
            {"group": due.what, "key": due.case_number, "due": due.due.isoformat(), "due_status": due.status}
            for due in result.cases_due
        ]
        lines += [
            {"group": due.what, "key": due.case_number, "due": due.due.isoformat(), "due_status": due.status}
            for due in result.decisions_due
        ]
        spreadsheet.write_rows(sys.stdout, lines, CSV_COLUMNS)
        return
    out.print(f"art. 26 compliance, {result.month or 'all recordings'} (第二十六条)", markup=False)
    for title, rows in (("device", result.by_device), ("officer", result.by_officer), ("case (案号)", result.by_case)):
        table = Table(
            title,
            "recordings",
            "stored on time",
            "labelled on time",
            "late",
            "working days late",
            "overdue",
            "open findings",
        )
        for row in rows:
            table.add_row(
                row.key or "—",
                *(
                    str(v)
                    for v in (
                        row.recordings,
                        row.stored_on_time,
                        row.labelled_on_time,
                        row.late,
                        row.working_days_late,
                        row.overdue,
                        row.open_findings,
                    )
                ),
            )
        out.print(table)
    for due in result.cases_due:
        what = "case file (案卷)" if due.what == "case_file" else "archive handover"
        out.print(f"case {due.case_number}: {what} due {due.due} — {due.status}", markup=False)
    for decided in result.decisions_due:
        what = "legal review (法制审核)" if decided.what == "review" else "publication (公示)"
        out.print(f"case {decided.case_number}: {what} due {decided.due} — {decided.status}", markup=False)
    _warn(result.warnings)


# -- alerts, purge, status -------------------------------------------------------------------------


def alerts(
    ctx: typer.Context,
    notify: Annotated[
        bool, typer.Option("--notify", help="Also notify as the scheduled check does (log, webhook, status).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The art. 26 alert check now: labels due soon or overdue, case files and archive handovers due.

    The service runs it every alerts.check_every_minutes and notifies.

    Example: evidock alerts --notify --json
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        rctx = retention_context(evi)
        report = alerts_mod.check(rctx, now=_now())
        data = report.as_json(rctx)
        if notify:
            data["webhook"] = alerts_mod.notify(rctx, report).webhook
    if as_json:
        print_json(data)
        return
    out.print(data["summary"], markup=False)
    for kind in ("overdue", "due_soon"):
        for item in data[kind]:
            out.print(
                f"  {item['recording'][:12]} device {item['device'] or '—'}: label {item['status']}, due {item['due']}",
                markup=False,
            )
    for due in report.cases_due:
        out.print(f"  case {due.case_number}: {due.what} due {due.due} ({due.status})", markup=False)
    for decided in report.decisions_due:
        out.print(f"  case {decided.case_number}: {decided.what} due {decided.due} ({decided.status})", markup=False)
    if notify:
        out.print(f"webhook: {data['webhook']}", markup=False)


def purge(
    ctx: typer.Context,
    apply: Annotated[bool, typer.Option("--apply", help="Purge for real (default: a dry run).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete recordings whose retention passed (art. 27): no hold, not evidence, no open case.

    A PURGE log entry is written before deletion, every object version is removed,
    the catalog keeps a tombstone. What the server refuses is reported, never forced
    (exit code 1). Without --apply nothing changes. The service runs it daily.

    Example: evidock purge --json
    """
    settings = settings_of(ctx)
    with open_app(settings) as evi:
        report = run_purge(retention_context(evi), now=_now(), apply=apply)
    if as_json:
        print_json(report.as_json())
    else:
        for item in report.items:
            why = f": {'; '.join(item.reasons)}" if item.reasons else ""
            out.print(f"{item.recording[:12]} {item.action}{why}", markup=False)
        out.print(report.summary(), markup=False)
    if report.count("refused") or report.count("error"):
        raise typer.Exit(1)


def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The station at a glance: receipts by state, recordings, art. 26 deadlines, checkpoint, alerts.

    Example: evidock status --json
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        rctx = retention_context(evi)
        report = alerts_mod.check(rctx, now=_now())
        with evi.catalog.read() as conn:
            receipts = counts_by_receipt_state(conn)
            total = count_recordings(conn)
            purged = count_purged(conn)
            checkpoint = latest_checkpoint(conn)
            runs = alert_run_history(conn, limit=1)
    last = runs[0] if runs else None
    data = {
        "receipts": receipts,
        "recordings": total,
        "purged": purged,
        "labels_due_soon": len(report.due_soon),
        "labels_overdue": len(report.overdue),
        "cases_due": len(report.cases_due),
        "decisions_due": len(report.decisions_due),
        "latest_checkpoint": (
            {"size": checkpoint[0], "created_at": checkpoint[1].astimezone(settings.timezone).isoformat()}
            if checkpoint
            else None
        ),
        "last_alert_check": (
            {
                "ran_at": last.ran_at.astimezone(settings.timezone).isoformat(),
                "summary": last.summary,
                "webhook": last.webhook,
            }
            if last
            else None
        ),
        "provisional": bool(report.warnings),
    }
    if as_json:
        print_json(data)
        return
    states = ", ".join(f"{state} {n}" for state, n in sorted(receipts.items())) or "none"
    out.print(f"receipts: {states}", markup=False, soft_wrap=True)
    out.print(f"recordings: {total} ({purged} purged)", markup=False, soft_wrap=True)
    out.print(
        f"art. 26 now: {len(report.overdue)} label(s) overdue, {len(report.due_soon)} due soon; "
        f"{len(report.cases_due)} case file/archive date(s) due; "
        f"{len(report.decisions_due)} legal review/publication deadline(s) due soon or overdue",
        markup=False,
        soft_wrap=True,
    )
    out.print(
        f"latest checkpoint: size {checkpoint[0]} at {local_time(checkpoint[1], settings)}"
        if checkpoint
        else "latest checkpoint: none yet",
        markup=False,
        soft_wrap=True,
    )
    out.print(
        f"last alert check: {last.summary}; webhook {last.webhook}" if last else "last alert check: none yet",
        markup=False,
        soft_wrap=True,
    )
