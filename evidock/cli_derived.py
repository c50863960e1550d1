"""Commands for derived files (playback proxies, redacted copies) and redactions for the party concerned (art. 29).

Thin: each says who is acting and calls ``derived``; reading derived files or
redactions is a query on the record (a QUERY entry, ``cli_access.logged_query``).
See docs/derived.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from access.errors import InvalidAccessInput
from derived.spec import from_options
from evidock.app import open_app
from evidock.auth import acting_person
from evidock.cli_common import JsonOption, local_time, out, print_json, settings_of
from storage import recordings as recordings_db
from storage.derived import DerivedFile, DerivedKind, Redaction, all_derived, get_derived
from storage.proxy_jobs import jobs

derived_app = typer.Typer(
    help="Derived files: playback proxies and redacted copies, made from an original that never changes "
    "(art. 28, 第二十八条).\n\nExample: evidock derived list --recording 3fa4c1",
    no_args_is_help=True,
)
redact_app = typer.Typer(
    help="Redaction for the party concerned (当事人, art. 29, 第二十九条): draft, preview, submit; a second "
    "custodian approves; render.\n\n"
    'Example: evidock redact new 3fa4c1 --mute 12-15.5 --blur 40,30,120,90@10-20 --request 7 --reason "路人面部"',
    no_args_is_help=True,
)

ReasonOption = Annotated[str, typer.Option("--reason", help="Why (事由); it goes into the log entry.")]
NumberArgument = Annotated[int, typer.Argument(min=1, help="The redaction's number.")]


# -- derived files --------------------------------------------------------------------------------


@derived_app.command("list")
def derived_list(
    ctx: typer.Context,
    recording: Annotated[str | None, typer.Option(help="Only this recording's (id or a unique prefix).")] = None,
    kind: Annotated[str | None, typer.Option(help="proxy or redacted.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List derived files with their DERIVED entries, and the playback proxies still to be made.

    Example: evidock derived list --kind redacted
    """
    settings = settings_of(ctx)
    if kind is not None and kind not in {k.value for k in DerivedKind}:
        raise InvalidAccessInput(f"--kind {kind!r}: use proxy or redacted")
    with open_app(settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        rid = recordings_db.resolve(conn, recording).id if recording else None
        found = all_derived(conn, kind=DerivedKind(kind) if kind else None, recording=rid)
        unmade = ("waiting", "running", "failed")
        pending = [j for j in jobs(conn, [rid] if rid else None).values() if j.state.value in unmade]
    if as_json:
        print_json({"derived": [d.as_json() for d in found], "proxies_pending": [j.as_json() for j in pending]})
        return
    table = Table("entry", "kind", "recording", "sha256", "bytes", f"made ({settings.timezone})", "asked", "approved")
    for d in found:
        table.add_row(
            str(d.entry), d.kind.value, d.recording[:12], d.sha256, str(d.size), local_time(d.made_at, settings),
            d.requested_by, d.approved_by or "—",
        )  # fmt: skip
    out.print(table)
    for job in pending:
        shown = f"{job.percent}%" if job.percent is not None else job.state.value
        out.print(f"proxy of {job.recording[:12]}: {job.state.value} ({shown}); {job.reason}"
                  + (f"; {job.error}" if job.error else ""), markup=False)  # fmt: skip


@derived_app.command("show")
def derived_show(
    ctx: typer.Context,
    entry: Annotated[int, typer.Argument(min=0, help="The DERIVED entry's index (see `derived list`).")],
    as_json: JsonOption = False,
) -> None:
    """One derived file: original and derived SHA-256, the exact ffmpeg version and arguments, who asked and approved.

    To repeat it: run the same ffmpeg build with the arguments shown, {input} being the original file
    and {output} the new one; the result has the SHA-256 shown (docs/derived.md).

    Example: evidock derived show 42
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        made = get_derived(conn, entry)
    if as_json:
        print_json(made.as_json())
        return
    _print_derived(made, settings)


def _print_derived(made: DerivedFile, settings: Any) -> None:
    lines = [
        f"DERIVED entry {made.entry}: {made.kind.value} of recording {made.recording}",
        f"  original SHA-256  {made.recording}",
        f"  derived SHA-256   {made.sha256} ({made.size} bytes)",
        f"  stored as         {made.object_key} (version {made.version_id})",
        f"  locked until      {local_time(made.retain_until, settings)} (never after the original)",
        f"  ffmpeg            {made.ffmpeg}",
        f"  arguments         {json.dumps(made.arguments, ensure_ascii=False)}",
        f"  asked by          {made.requested_by}; approved by {made.approved_by or '—'}",
        f"  made              {local_time(made.made_at, settings)}",
    ]
    if made.redaction is not None:
        lines.append(f"  redaction         {made.redaction} (spec SHA-256 {made.spec_sha256})")
    for line in lines:
        out.print(line, markup=False)


# -- redactions -----------------------------------------------------------------------------------


@redact_app.command("new")
def redact_new(
    ctx: typer.Context,
    recording: Annotated[str, typer.Argument(help="Recording id (SHA-256) or a unique prefix of 6+ digits.")],
    reason: ReasonOption,
    mute: Annotated[list[str] | None, typer.Option("--mute", help="Seconds FROM-TO to silence, e.g. 12-15.5.")] = None,
    bleep: Annotated[list[str] | None, typer.Option("--bleep", help="Seconds FROM-TO to bleep (1 kHz).")] = None,
    blur: Annotated[
        list[str] | None, typer.Option("--blur", help="X,Y,WIDTH,HEIGHT@FROM-TO: pixels of the picture @ seconds.")
    ] = None,
    spec_file: Annotated[
        Path | None, typer.Option("--spec", help="A JSON spec instead (moving boxes by keyframes; docs/derived.md).")
    ] = None,
    request: Annotated[int | None, typer.Option(min=1, help="The party's access request it serves.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Draft a redaction: ranges to mute or bleep, boxes to blur; checked against the recording. A REDACTION entry.

    Example: evidock redact new 3fa4c1 --mute 12-15.5 --blur 40,30,120,90@10-20 --request 7 --reason "路人面部和声音"
    """
    if spec_file is not None and (mute or bleep or blur):
        raise InvalidAccessInput("give --spec or --mute/--bleep/--blur, not both")
    try:
        if spec_file is not None:
            raw = json.loads(spec_file.read_text(encoding="utf-8"))
        else:
            raw = from_options(mute or [], bleep or [], blur or [])
    except (OSError, ValueError) as exc:
        raise InvalidAccessInput(f"--spec {spec_file}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidAccessInput(f"--spec {spec_file}: the file must hold one JSON object")
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        made = evi.redaction_desk().new(acting_person(evi), recording, raw, reason=reason, request=request)
    _print_redaction(made, as_json, next_step=f"preview it (evidock redact preview {made.id} --at S --out F.png), "
                     f"then: evidock redact submit {made.id}")  # fmt: skip


@redact_app.command("preview")
def redact_preview(
    ctx: typer.Context,
    number: NumberArgument,
    at: Annotated[float, typer.Option("--at", min=0, help="Seconds into the recording.")],
    out_file: Annotated[Path, typer.Option("--out", help="PNG to create; never overwritten.")],
    as_json: JsonOption = False,
) -> None:
    """One frame with the blurs applied, as a PNG; the original is read through the access gate (an ACCESS entry).

    Example: evidock redact preview 3 --at 12.5 --out frame.png
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        shown = evi.redaction_desk().preview(acting_person(evi), number, at_ms=round(at * 1000), out=out_file)
    if as_json:
        print_json({"path": str(shown.path), "access_entry": shown.access_entry})
    else:
        out.print(f"saved {shown.path}; ACCESS entry {shown.access_entry}", markup=False)


@redact_app.command("submit")
def redact_submit(ctx: typer.Context, number: NumberArgument, as_json: JsonOption = False) -> None:
    """Submit a draft for approval by another custodian. A REDACTION entry.

    Example: evidock redact submit 3
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        person = acting_person(evi)
        moved = evi.redaction_desk().submit(person, number)
    _print_redaction(moved, as_json, next_step=f"a custodian other than {person.name}: evidock redact approve {number}")


@redact_app.command("approve")
def redact_approve(
    ctx: typer.Context, number: NumberArgument, reason: ReasonOption, as_json: JsonOption = False
) -> None:
    """Approve a submitted redaction (a custodian who neither drafted nor submitted it). A REDACTION entry.

    Example: evidock redact approve 3 --reason "已核对遮挡范围"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        moved = evi.redaction_desk().decide(acting_person(evi), number, approve=True, reason=reason)
    _print_redaction(moved, as_json, next_step=f"evidock redact render {number}")


@redact_app.command("reject")
def redact_reject(
    ctx: typer.Context, number: NumberArgument, reason: ReasonOption, as_json: JsonOption = False
) -> None:
    """Reject a submitted redaction (draft a new one to try again). A REDACTION entry.

    Example: evidock redact reject 3 --reason "第 20 秒路人未遮挡"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        moved = evi.redaction_desk().decide(acting_person(evi), number, approve=False, reason=reason)
    _print_redaction(moved, as_json, next_step=None)


@redact_app.command("render")
def redact_render(ctx: typer.Context, number: NumberArgument, as_json: JsonOption = False) -> None:
    """Render an approved redaction with ffmpeg: the redacted copy, stored beside the original, and its DERIVED entry.

    Example: evidock redact render 3
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        made = evi.redaction_desk().render(acting_person(evi), number)
    if as_json:
        print_json(made.as_json())
        return
    _print_derived(made, settings)


@redact_app.command("no-third-parties")
def redact_no_third_parties(
    ctx: typer.Context,
    request: Annotated[int, typer.Argument(min=1, help="The party's approved access request.")],
    statement: Annotated[str, typer.Option("--statement", help="What you saw and heard (it goes into the log).")],
    recording: Annotated[
        list[str] | None, typer.Option("--recording", help="Only these recordings of the request (default: all).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """State, as the request's approver, that no third party is in its recordings: the party may have the originals.

    Example: evidock redact no-third-parties 7 --statement "画面和声音中只有当事人和执法人员"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        person = acting_person(evi)
        asked = evi.gate().get_request(person, request)
        wanted = recording or [g.recording for g in asked.grants]
        made = [evi.redaction_desk().no_third_parties(person, request, r, statement=statement) for r in wanted]
    if as_json:
        print_json([m.as_json() for m in made])
        return
    for item in made:
        out.print(f"redaction {item.id}: no third parties in {item.recording[:12]} (request {request})", markup=False)


@redact_app.command("list")
def redact_list(
    ctx: typer.Context,
    recording: Annotated[str | None, typer.Option(help="Only this recording's (id or a unique prefix).")] = None,
    as_json: JsonOption = False,
) -> None:
    """List redactions and no-third-parties statements, with their state and people.

    Example: evidock redact list --recording 3fa4c1
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        found = evi.redaction_desk().listing(acting_person(evi), recording)
    if as_json:
        print_json([r.as_json() for r in found])
        return
    table = Table("id", "recording", "request", "state", "drafted", "submitted", "decided", "copy (DERIVED)")
    for r in found:
        table.add_row(str(r.id), r.recording[:12], str(r.request or "—"), r.state.value, r.created_by,
                      r.submitted_by or "—", r.decided_by or "—", str(r.derived_entry or "—"))  # fmt: skip
    out.print(table)


@redact_app.command("show")
def redact_show(ctx: typer.Context, number: NumberArgument, as_json: JsonOption = False) -> None:
    """One redaction: its spec, state and the people of each step.

    Example: evidock redact show 3 --json
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = evi.redaction_desk().get(acting_person(evi), number)
    _print_redaction(found, as_json, next_step=None)


def _print_redaction(item: Redaction, as_json: bool, *, next_step: str | None) -> None:
    if as_json:
        print_json(item.as_json())
        return
    out.print(f"redaction {item.id}: {item.state.value}, recording {item.recording}", markup=False)
    if item.request is not None:
        out.print(f"  for request {item.request}", markup=False)
    if item.spec is not None:
        out.print(f"  spec {json.dumps(item.spec, ensure_ascii=False)} (SHA-256 {item.spec_sha256})", markup=False)
    steps = [f"drafted by {item.created_by}"]
    if item.submitted_by:
        steps.append(f"submitted by {item.submitted_by}")
    if item.decided_by and item.spec is not None:
        steps.append(f"{item.state.value if item.state.value == 'rejected' else 'approved'} by {item.decided_by}")
    out.print("  " + "; ".join(steps), markup=False)
    out.print(f"  {'statement' if item.spec is None else 'reason'}: {item.reason}", markup=False)
    if item.derived_entry is not None:
        out.print(f"  redacted copy: DERIVED entry {item.derived_entry} (evidock derived show {item.derived_entry})",
                  markup=False)  # fmt: skip
    if next_step:
        out.print(f"next: {next_step}", markup=False)
