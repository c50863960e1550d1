"""The `evidock` command line. Thin: every command calls the same functions the service uses.

Errors are one line on stderr and a non-zero exit code; ``--json`` prints plain
JSON only (no colours, no progress) so scripts can read it.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import make_url
from typer.core import TyperGroup as TyperCommandGroup
from typer.exceptions import TyperException

from access.people import Permission
from chain.errors import EvidockError
from evidock import service_log
from evidock.anchoring import anchor_appended
from evidock.api.listen import LOCALHOST, Listen
from evidock.app import connect_store, open_app, take_appended
from evidock.auth import acting_person
from evidock.cli_access import (
    access_app,
    audit_app,
    gate_registered,
    logged_query,
    person_required,
    recordings_get,
    users_app,
)
from evidock.cli_cases import case_show, decision_app
from evidock.cli_checks import clock_app, findings_app, incidents_command, timeline
from evidock.cli_common import (
    ConfigOption,
    JsonOption,
    err,
    local_time,
    out,
    print_json,
    readable_block,
    settings_of,
)
from evidock.cli_derived import derived_app, redact_app
from evidock.cli_export import export_app
from evidock.cli_log import keys_app, log_app, verify_command
from evidock.cli_publish import publish_app
from evidock.cli_quarantine import quarantine_app
from evidock.cli_retention import (
    alerts,
    calendar_app,
    case_app,
    compliance,
    deadlines,
    evidence_app,
    label,
    purge,
    status,
)
from evidock.cli_review import review_app, review_list
from evidock.cli_witness import witness_app
from evidock.moments import utc
from evidock.recording_reads import NO_REASON, list_recordings, show_recording
from evidock.settings import Settings
from evidock.text import OneLineFormatter, one_line, shown
from ingest.pipeline import AfterVerify, Outcome, Pipeline
from ingest.watcher import DockedFile, look, scan
from storage.errors import StorageError
from storage.objects import BucketReport
from storage.search import CustodyStatus, RecordingFilter

log = logging.getLogger(__name__)

app = typer.Typer(
    name="evidock",
    help="evidock — evidence-media ingestion and integrity (执法记录仪采集站).\n\n"
    "Example: evidock --config config.toml recordings list --device CAM01",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
recordings_app = typer.Typer(help="Stored recordings.\n\nExample: evidock recordings show 3fa4c1", no_args_is_help=True)
config_app = typer.Typer(help="The configuration.\n\nExample: evidock config check --json", no_args_is_help=True)
app.add_typer(recordings_app, name="recordings")
app.add_typer(config_app, name="config")
app.add_typer(keys_app, name="keys")
app.add_typer(log_app, name="log")
app.command("verify")(person_required(Permission.VERIFY, verify_command))
app.add_typer(findings_app, name="findings")
app.add_typer(clock_app, name="clock")
gate_registered(findings_app, "explain", lambda f: person_required(Permission.EXPLAIN, f))
gate_registered(clock_app, "report", lambda f: person_required(Permission.CLOCK, f))
app.command("timeline")(logged_query("timeline", timeline))
app.command("incidents")(logged_query("incidents", incidents_command))
# Person-facing reads of other modules' commands go through the gate (docs/access.md).
gate_registered(findings_app, "list", lambda f: logged_query("findings list", f))
gate_registered(log_app, "entry", lambda f: logged_query("log entry", f))
gate_registered(log_app, "proof", lambda f: logged_query("log proof", f))
app.add_typer(users_app, name="users")
app.add_typer(access_app, name="access")
app.add_typer(audit_app, name="audit")
recordings_app.command("get")(recordings_get)
app.add_typer(calendar_app, name="calendar")
# Custody and the art. 26 reports act as the authenticated person (docs/access.md, the permission table).
app.command("deadlines")(logged_query("deadlines", deadlines, permission=Permission.REPORTS))
app.command("label")(person_required(Permission.CUSTODY, label))
app.add_typer(evidence_app, name="evidence")
app.add_typer(case_app, name="case")
app.add_typer(export_app, name="export")
app.add_typer(witness_app, name="witness")
app.add_typer(quarantine_app, name="quarantine")
for _group, _name in ((evidence_app, "add"), (evidence_app, "release"), (case_app, "close"), (case_app, "done")):
    gate_registered(_group, _name, lambda f: person_required(Permission.CUSTODY, f))
# A case's decision (法制审核办法, 公示办法): the handling unit decides, the legal role reviews (docs/decisions.md).
case_app.add_typer(decision_app, name="decision")
for _name in ("facts", "propose", "mark-major", "final"):
    gate_registered(decision_app, _name, lambda f: person_required(Permission.DECIDE, f))
case_app.command("show")(person_required(Permission.READ_METADATA, case_show))
case_app.add_typer(review_app, name="review")
for _name in ("submit", "supplement", "rereview", "accept", "escalate", "decide"):
    gate_registered(review_app, _name, lambda f: person_required(Permission.DECIDE, f))
for _name in ("check", "extend", "opinion"):
    gate_registered(review_app, _name, lambda f: person_required(Permission.REVIEW, f))
for _name in ("show", "pdf"):  # the unit or the reviewer; each read is logged by the command itself
    gate_registered(review_app, _name, lambda f: person_required(Permission.READ_METADATA, f))
review_app.command("list")(logged_query("case review list", review_list, permission=Permission.REPORTS))
case_app.add_typer(publish_app, name="publish")
for _name in ("decision", "exclude", "withdraw", "feed"):
    gate_registered(publish_app, _name, lambda f: person_required(Permission.PUBLISH, f))
gate_registered(publish_app, "list", lambda f: person_required(Permission.READ_METADATA, f))
app.command("compliance")(logged_query("compliance", compliance, permission=Permission.REPORTS))
app.command("alerts")(logged_query("alerts", alerts, permission=Permission.REPORTS))
app.command("purge")(person_required(Permission.PURGE, purge))
app.command("status")(logged_query("status", status, permission=Permission.REPORTS))
# Derived files and redactions (art. 28, 29; docs/derived.md): reading them is a query on the record.
app.add_typer(derived_app, name="derived")
app.add_typer(redact_app, name="redact")
gate_registered(derived_app, "list", lambda f: logged_query("derived list", f))
gate_registered(derived_app, "show", lambda f: logged_query("derived show", f))
gate_registered(redact_app, "list", lambda f: logged_query("redact list", f))
gate_registered(redact_app, "show", lambda f: logged_query("redact show", f))


@app.callback()
def _root(ctx: typer.Context, config: ConfigOption = None) -> None:
    ctx.obj = {"config": config}


# -- run ---------------------------------------------------------------------------


@app.command()
def run(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option(help="Take what is stable now, then exit (for tests and cron).")] = False,
    http_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the HTTP API (docs/api.md).")] = 8080,
    http_host: Annotated[str, typer.Option(help="Address it listens on; TLS belongs to a reverse proxy.")] = LOCALHOST,
    no_http: Annotated[bool, typer.Option("--no-http", help="Serve no HTTP API (--once never does).")] = False,
) -> None:
    """Run the service: watch the dock folders, ingest, run scheduled jobs and the HTTP API until SIGTERM.

    Example: evidock --config config.toml run --http-port 8080
    """
    from evidock.runner import serve  # noqa: PLC0415 - the scheduler, watcher and web server: start-up of other commands

    http = None if once or no_http else Listen(http_host, http_port)
    settings = settings_of(ctx)
    service_log.configure(settings.timezone)
    stamped = f"{service_log.stamp(time.time(), settings.timezone)} {starting_line(settings)}"
    err.print(stamped, markup=False, soft_wrap=True)
    serve(settings, once=once, http=http)


def starting_line(settings: Settings) -> str:
    """What `run` says first (one line on stderr): where evidence goes and which catalog records it.

    A service started against the wrong S3 server writes COMPLIANCE-locked objects
    there that nobody can delete; the person starting it must see at once where it writes.
    """
    s3 = settings.s3
    catalog = make_url(settings.database_url).render_as_string(hide_password=True)
    config = settings.source if settings.source is not None else "(none)"
    return (
        f"evidock run: S3 endpoint {s3.endpoint} (from {s3.endpoint_source}), bucket {s3.bucket}, "
        f"catalog {catalog}, config {config}"
    )


# -- ingest ------------------------------------------------------------------------


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest now.")],
    as_json: JsonOption = False,
) -> None:
    """Ingest files once (the dock copy is always kept), with progress for large files.

    Example: evidock ingest /media/dock/CAM01_P1001_20261120080619_0001.mp4
    """
    settings = settings_of(ctx)
    results: list[dict[str, Any]] = []
    failed = 0
    with open_app(settings) as evi:
        pipeline = evi.pipeline(after_verify=AfterVerify.KEEP)
        pipeline.resume()
        for path in paths:
            files = _targets(path, settings)
            if not files:
                err.print(f"[yellow]skipped[/]: {shown(path)} is not a regular file (symlinks are not followed)")
                failed += 1
                continue
            for file in files:
                outcome = _ingest_one(pipeline, file, quiet=as_json)
                if outcome is None:
                    results.append({"path": shown(file.path), "state": "already ingested"})
                    continue
                results.append(outcome.as_json())
                failed += outcome.receipt.state.value == "failed"
                if not as_json:
                    _report(outcome)
    if as_json:
        print_json(results)
    if failed:
        raise typer.Exit(1)


def _targets(path: Path, settings: Settings) -> list[DockedFile]:
    absolute = path.absolute()
    if absolute.is_dir() and not absolute.is_symlink():
        return sorted(scan(absolute, settings.watch.ignore), key=lambda f: os.fsencode(f.path))
    found = look(absolute.parent, absolute, ())
    return [found] if found else []


def _ingest_one(pipeline: Pipeline, file: DockedFile, *, quiet: bool) -> Outcome | None:
    if quiet or file.size < 64 * 1024 * 1024:
        return pipeline.ingest(file)
    from rich.progress import (  # noqa: PLC0415 - only with a bar to show: start-up of scripted ingests
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=err
    ) as bar:
        task = bar.add_task(shown(file.path.name)[:40], total=file.size)
        return pipeline.ingest(file, progress=lambda n: bar.advance(task, n))


def _report(outcome: Outcome) -> None:
    name = shown(outcome.receipt.path)
    if outcome.receipt.state.value == "failed":
        err.print(f"[red]failed[/]: {name}: {outcome.receipt.error}")
        return
    tag = "duplicate" if outcome.duplicate else "stored"
    out.print(f"{tag}: {name} -> recording {outcome.recording}")
    for note in outcome.notes:
        out.print(f"  note: {note}")


# -- recordings --------------------------------------------------------------------


@recordings_app.command("list")
def recordings_list(
    ctx: typer.Context,
    device: Annotated[str | None, typer.Option(help="Only this device id.")] = None,
    officer: Annotated[str | None, typer.Option(help="Only this officer id.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Started at or after (local time).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Started before (local time).")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Only those now labelled with this 案号.")] = None,
    status: Annotated[
        CustodyStatus | None, typer.Option(help="Only labelled, unlabelled, evidence (legal hold) or purged.")
    ] = None,
    has_findings: Annotated[
        bool | None, typer.Option("--has-findings/--no-findings", help="Only with (or without) findings.")
    ] = None,
    open_findings: Annotated[
        bool | None,
        typer.Option("--open-findings/--no-open-findings", help="Only with (or without) findings still to explain."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100000)] = 1000,
    reason: Annotated[str, typer.Option(help="Why (事由); it goes into the log entry.")] = NO_REASON,
    as_json: JsonOption = False,
) -> None:
    """List stored recordings, filtered. A person's search: one ACCESS entry (action "list") names what it showed.

    Example: evidock recordings list --device CAM01 --since 2026-11-20 --json
    """
    settings = settings_of(ctx)
    wanted = RecordingFilter(
        device=device,
        officer=officer,
        case_number=case,
        since=_aware(since, settings),
        until=_aware(until, settings),
        status=status,
        has_findings=has_findings,
        open_findings=open_findings,
        limit=limit,
    )
    with open_app(settings, ensure_bucket=False) as evi:
        found = list_recordings(evi, acting_person(evi), wanted, reason=reason, command="recordings list")
    rows, entry = found.recordings, found.entry
    if as_json:
        print_json([r.as_json() for r in rows])
        return
    table = Table(
        "id", "device", "officer", "seq", f"start ({settings.timezone})", "duration", "kind", "retain until", "name"
    )
    for r in rows:
        table.add_row(
            r.id[:12],
            r.device or "—",
            r.officer or "—",
            str(r.seq) if r.seq is not None else "—",
            local_time(r.start_raw, settings),
            f"{r.duration_ms / 1000:.1f} s" if r.duration_ms is not None else "—",
            r.kind,
            local_time(r.retain_until, settings)[:10],
            shown(r.original_name),
        )
    out.print(table)
    out.print(f"{len(rows)} recording(s) (this search is ACCESS entry {entry})")


@recordings_app.command("show")
def recordings_show(
    ctx: typer.Context,
    recording: Annotated[str, typer.Argument(help="Recording id (SHA-256) or a unique prefix of 6+ digits.")],
    reason: Annotated[str, typer.Option(help="Why (事由); it goes into the log entry.")] = NO_REASON,
    as_json: JsonOption = False,
) -> None:
    """Show one recording's facts, label, retention and receipts, through the access gate (one ACCESS entry).

    Example: evidock recordings show 3fa4c1 --reason "case review" --json
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        data = show_recording(evi, acting_person(evi), recording, reason=reason)
    if as_json:
        print_json(data)
        return
    for line in readable_block(data, settings):
        out.print(line, markup=False)


def _aware(moment: datetime | None, settings: Settings) -> datetime | None:
    return None if moment is None else utc(moment, settings.timezone)


# -- config -----------------------------------------------------------------------


@config_app.command("check")
def config_check(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Print the effective configuration (secrets masked) and test S3, versioning and Object Lock.

    Exit 1 on any problem, a missing bucket included, so a script can rely on the code; --json still prints the report.

    Example: evidock --config config.toml config check
    """
    settings = settings_of(ctx)
    problems: list[str] = []
    report: BucketReport | None = None
    try:
        report = connect_store(settings).inspect_bucket()
    except StorageError as exc:
        problems.append(f"s3.endpoint {settings.s3.endpoint}: {one_line(str(exc))}")
    if report is not None and not report.exists:
        problems.append(f"bucket {report.bucket!r} does not exist (evidock run creates it with Object Lock)")
    elif report is not None:
        if report.versioning != "Enabled":
            problems.append(f"bucket versioning is {report.versioning}, needs Enabled")
        if not report.object_lock:
            problems.append("bucket has no Object Lock; create a new bucket with Object Lock")
    effective = settings.masked()
    result = {
        "settings": effective,
        "s3": {
            "reachable": report is not None,
            "bucket_exists": report.exists if report else None,
            "versioning": report.versioning if report else None,
            "object_lock": report.object_lock if report else None,
            "default_retention": report.default_retention if report else None,
        },
        "ok": not problems,
        "problems": problems,
    }
    if as_json:
        print_json(result)
    else:
        for key, value in effective.items():
            out.print(f"{key} = {value!r}", markup=False)
        if report is not None:
            out.print(
                f"s3: reachable, bucket {report.bucket!r} exists={report.exists} "
                f"versioning={report.versioning} object_lock={report.object_lock}",
                markup=False,
            )
        for problem in problems:
            err.print(f"[yellow]problem[/]: {escape(problem)}")
    if not result["ok"]:
        raise typer.Exit(1)


# -- entry point ------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (tests call this in-process)."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=os.environ.get("EVIDOCK_LOG_LEVEL", "WARNING"), handlers=[handler])
    args = list(argv) if argv is not None else sys.argv[1:]
    take_appended()  # appends by whoever called in this process before: not this command's to sign
    code = 1
    try:
        code = _run(args)
    finally:  # also after a crash: what the command appended is signed before the process exits
        unanchored = anchor_appended()  # the one place a command that appended signs (evidock.anchoring)
        for problem in unanchored:
            sys.stderr.write(f"{'error' if problem.error else 'warning'}: {one_line(problem.message)}\n")
    return 1 if code == 0 and any(problem.error for problem in unanchored) else code


def _run(args: list[str]) -> int:
    try:
        code = _command().main(args=args, prog_name="evidock", standalone_mode=False)
    except EvidockError as exc:
        sys.stderr.write(f"error: {one_line(str(exc))}\n")
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err.print("aborted")
        return 130
    except TyperException as exc:  # usage errors: missing or bad options, shown with the usage line
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"error: {one_line(str(exc))}\n")
        return int(getattr(exc, "exit_code", 2))
    return code if isinstance(code, int) else 0


@functools.cache
def _command() -> TyperCommandGroup:
    """The command tree, built once per process (Typer rebuilds it on every call otherwise)."""
    command = typer.main.get_command(app)
    assert isinstance(command, TyperCommandGroup)  # noqa: S101 - app has subcommands
    return command


if __name__ == "__main__":
    raise SystemExit(main())
