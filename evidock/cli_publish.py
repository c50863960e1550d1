"""`evidock case publish ...`: publication of decisions (公示, 公示办法 art. 9-10) and the static feed.

Thin: each command calls ``evidock.publishing``, as the API and the web pages do.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cases.publication import Publication
from cases.terms import Exclusion, PublicationMode
from evidock import publishing
from evidock.app import open_app
from evidock.cli_cases import CaseArgument
from evidock.cli_common import JsonOption, out, person_of, print_json, settings_of

publish_app = typer.Typer(
    help="Publication of decisions (公示, 公示办法 art. 9-10): publish, exclude (art. 10), withdraw (撤下), feed.\n\n"
    "Example: evidock case publish decision 武人社罚字[2026]12号 --mode summary --summary 罚款人民币6000元",
    no_args_is_help=True,
)


def _print(found: Publication, *, as_json: bool) -> None:
    if as_json:
        print_json(found.as_json())
        return
    state = (
        f"withdrawn {found.withdrawn_at:%Y-%m-%d} ({found.withdrawal_document})" if found.withdrawn_at else "published"
    )
    out.print(
        f"publication {found.id} of case {found.case_number} ({found.document}, {found.mode.value}): {state}; "
        f"due {found.due_on}",
        markup=False,
    )
    for key, value in found.content.items():
        out.print(f"  {key}: {value}", markup=False)


@publish_app.command("decision")
def publish_decision(
    ctx: typer.Context,
    case_number: CaseArgument,
    mode: Annotated[str, typer.Option(help="document (the decision, identity data removed) or summary (摘要).")],
    summary: Annotated[str | None, typer.Option(help="With --mode summary: the decision in brief (执法决定).")] = None,
    remove: Annotated[
        list[str] | None, typer.Option("--remove", help="Another text to hide (a name in the document); repeat.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Publish a final decision (7 working days for permits and penalties, 20 for others) and rewrite the feed.

    The party's name, ID number, phone and address are removed (an individual shows as 张某); ID, phone and
    account numbers are removed wherever they appear; anything left is refused. A minor's case or one
    transferred to the police is never published (art. 10): record the exclusion instead.

    Example: evidock case publish decision 武人社罚字[2026]12号 --mode summary --summary "罚款人民币6000元"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = publishing.publish(
            evi, person_of(ctx), case_number, mode=PublicationMode.parse(mode), summary=summary, remove=remove or []
        )
    _print(found, as_json=as_json)


@publish_app.command("exclude")
def publish_exclude(
    ctx: typer.Context,
    case_number: CaseArgument,
    ground: Annotated[
        str,
        typer.Option(help="minor, secret_or_privacy, safety, investigation, police or other_law (art. 10)."),
    ],
    reason: Annotated[str, typer.Option(help="Why it applies (理由).")],
    approved_by: Annotated[str, typer.Option("--approved-by", help="The second person who approved: an active user.")],
    as_json: JsonOption = False,
) -> None:
    """Record that art. 10 keeps a decision unpublished, approved by a second person; it is then not due.

    Example: evidock case publish exclude 武人社罚字[2026]13号 --ground minor --reason "当事人未满十八周岁"
    --approved-by zhao.liu
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = publishing.exclude(
            evi, person_of(ctx), case_number, ground=Exclusion.parse(ground), reason=reason, approved_by=approved_by
        )
    if as_json:
        print_json(found.as_json())
        return
    out.print(
        f"case {found.case_number}: not published ({found.ground.value}: {found.ground.zh}), approved by "
        f"{found.approved_by} — PUBLICATION entry {found.entry}",
        markup=False,
    )


@publish_app.command("withdraw")
def publish_withdraw(
    ctx: typer.Context,
    publication: Annotated[int, typer.Argument(metavar="PUBLICATION", help="The publication's number.")],
    document: Annotated[str, typer.Option(help="The judgment or review decision (生效的裁判文书/复议决定书).")],
    reason: Annotated[str, typer.Option(help="Revoked, confirmed illegal or void, or changed (撤销、变更 ...).")],
    as_json: JsonOption = False,
) -> None:
    """Withdraw a published decision from the feed (撤下, art. 9 para. 3), naming the document that requires it.

    Example: evidock case publish withdraw 57 --document "(2026)鄂0102行初12号行政判决书" --reason 判决撤销
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = publishing.withdraw(evi, person_of(ctx), publication, document=document, reason=reason)
    _print(found, as_json=as_json)


@publish_app.command("feed")
def publish_feed(ctx: typer.Context) -> None:
    """Rewrite the static feed (publication.feed_dir) from the catalog: index.html, index.json, items/.

    Example: evidock case publish feed
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        folder = publishing.rewrite_feed(evi, person_of(ctx))
    out.print(f"feed written to {folder}", markup=False)


@publish_app.command("list")
def publish_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every publication: case, document number, mode, due date, published or withdrawn (no personal data).

    Example: evidock case publish list --json
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = publishing.publications(evi, person_of(ctx))
    if as_json:
        print_json([p.as_json() for p in found])
        return
    table = Table("publication", "case (案号)", "document (文号)", "mode", "due", "published", "withdrawn")
    for p in found:
        table.add_row(
            str(p.id),
            p.case_number,
            p.document,
            p.mode.value,
            p.due_on.isoformat(),
            f"{p.published_at:%Y-%m-%d}",
            p.withdrawal_document or "—",
        )
    out.print(table)
