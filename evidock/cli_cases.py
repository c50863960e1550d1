"""Commands of a case's decision (行政执法决定): facts, proposal, major flag, final decision, and reading them.

`evidock case decision ...` (the handling unit, 承办), `evidock case review ...`
(the legal review of a major decision, 法制审核) and `evidock case publish ...`
(公示) are thin: each calls the function the API and the web pages call
(``evidock.decisions``, ``evidock.legal_review``, ``evidock.publishing``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from cases.decisions import CaseDecision, Party
from cases.errors import DecisionError
from cases.major import parse_yuan, yuan
from cases.terms import ActionType, Measure, PartyKind
from evidock import decisions
from evidock.app import open_app
from evidock.cli_common import JsonOption, out, person_of, print_json, settings_of

decision_app = typer.Typer(
    help="A case's decision (行政执法决定): facts, proposal, major flag (法制审核办法 art. 5-7, 14), "
    "final decision.\n\n"
    "Example: evidock case decision propose 武人社罚字[2026]12号 --text-file proposal.txt --fine 6000",
    no_args_is_help=True,
)

CaseArgument = Annotated[str, typer.Argument(metavar="案号", help="Case number (案号).")]


def day_of(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise DecisionError(f"{what} {text!r} is not a date: use YYYY-MM-DD, e.g. 2026-02-13") from exc


def text_of(given: str | None, path: Path | None, what: str, *, required: bool = True) -> str | None:
    """Text from ``--X`` or ``--X-file`` (UTF-8), not both."""
    if given is not None and path is not None:
        raise DecisionError(f"give {what} or {what}-file, not both")
    if path is not None:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DecisionError(f"{what}-file {path}: cannot read it as UTF-8 text ({exc})") from exc
    if given is None and required:
        raise DecisionError(f"give {what} TEXT or {what}-file PATH")
    return given


def print_decision(found: CaseDecision, *, as_json: bool) -> None:
    if as_json:
        print_json(found.as_json())
        return
    party = found.party
    out.print(
        f"case {found.case_number}: {found.action_type.value} ({found.action_type.zh}); party {party.name} "
        f"({party.kind.value}{', minor' if party.minor else ''}); {found.parties_count} party(ies) concerned",
        markup=False,
    )
    if found.proposed_entry is not None:
        measures = ", ".join(m.value for m in found.proposed_measures) or "none"
        out.print(
            f"  proposed (entry {found.proposed_entry}): fine {yuan(found.proposed_fine_fen)} yuan, "
            f"measures {measures}",
            markup=False,
        )
    if found.major:
        grounds = "; ".join(f"{g.value} ({g.article})" for g in found.major_grounds)
        out.print(f"  MAJOR decision (重大行政执法决定): {grounds}", markup=False)
    else:
        out.print("  not a major decision", markup=False)
    if found.final_on is not None:
        out.print(
            f"  final: {found.final_document}, decided {found.final_on}"
            f"{f', on legal review {found.final_review}' if found.final_review else ''}; "
            f"publish by {found.publish_due_on} (公示办法 art. 9)",
            markup=False,
        )


@decision_app.command("facts")
def decision_facts(
    ctx: typer.Context,
    case_number: CaseArgument,
    action: Annotated[
        str, typer.Option(help="permit (行政许可), penalty (行政处罚), inspection, confirmation, levy or other.")
    ],
    party: Annotated[str, typer.Option(help="The party's name (当事人): a person or an organisation.")],
    party_kind: Annotated[str, typer.Option(help="individual (个人) or organisation (单位).")] = "individual",
    minor: Annotated[bool, typer.Option("--minor", help="The party is a minor (未成年人).")] = False,
    id_number: Annotated[str | None, typer.Option(help="ID number (身份证号) or credit code.")] = None,
    phone: Annotated[str | None, typer.Option(help="The party's phone number.")] = None,
    address: Annotated[str | None, typer.Option(help="The party's address (住址).")] = None,
    parties: Annotated[int, typer.Option(help="Parties and interested persons concerned (人数).")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Record (or correct) a case's kind of action and its party: a DECISION entry (party data committed).

    The party's name, ID number, phone and address never reach a publication (公示办法 art. 9).

    Example: evidock case decision facts 武人社罚字[2026]12号 --action penalty --party 张三
    --id-number 420102199001011234 --phone 13812345678 --address "武汉市江岸区解放大道100号"
    """
    settings = settings_of(ctx)
    details = Party(PartyKind.parse(party_kind), party, minor, id_number, phone, address)
    with open_app(settings, ensure_bucket=False) as evi:
        found = decisions.set_facts(
            evi, person_of(ctx), case_number, action_type=ActionType.parse(action), party=details, parties_count=parties
        )
    print_decision(found, as_json=as_json)


@decision_app.command("propose")
def decision_propose(
    ctx: typer.Context,
    case_number: CaseArgument,
    text: Annotated[str | None, typer.Option(help="The proposed decision (拟作出的决定).")] = None,
    text_file: Annotated[Path | None, typer.Option(help="... or read it from this UTF-8 file.")] = None,
    fine: Annotated[str | None, typer.Option(help="The proposed fine in yuan (罚款, e.g. 6000 or 6000.50).")] = None,
    measures: Annotated[
        list[str] | None,
        typer.Option(
            "--measure",
            help="Repeat for each: hearing, permit_withdrawn, licence_suspended, licence_revoked, stop_production, "
            "collective_discussion, transfer_police, transfer_supervision.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record the proposed decision; evidock flags it major by 法制审核办法 art. 5-7 and 14 (a DECISION entry).

    Major: a permit after a hearing or withdrawn; a licence suspended or revoked; an order to stop production;
    a fine of 5,000 yuan or more for a person, 50,000 for an organisation; 10 or more parties (penalties);
    a transfer to the police or the supervision commission; or marked major by a person.

    Example: evidock case decision propose 武人社罚字[2026]12号 --text "拟罚款6000元" --fine 6000
    """
    wording = text_of(text, text_file, "--text")
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = decisions.propose(
            evi,
            person_of(ctx),
            case_number,
            text=wording or "",
            fine_fen=parse_yuan(fine) if fine is not None else None,
            measures=[Measure.parse(m) for m in measures or []],
        )
    print_decision(found, as_json=as_json)


@decision_app.command("mark-major")
def decision_mark_major(
    ctx: typer.Context,
    case_number: CaseArgument,
    reason: Annotated[str, typer.Option(help="Why the bureau judges it major (本局认为属于重大).")],
    as_json: JsonOption = False,
) -> None:
    """Mark a case major by a person's judgement (art. 5(3), 6(5)); it then needs a legal review.

    Example: evidock case decision mark-major 武人社罚字[2026]12号 --reason "社会影响较大"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = decisions.mark_major(evi, person_of(ctx), case_number, reason=reason)
    print_decision(found, as_json=as_json)


@decision_app.command("final")
def decision_final(
    ctx: typer.Context,
    case_number: CaseArgument,
    document: Annotated[str, typer.Option(help="The decision document's number (决定书文号).")],
    decided_on: Annotated[str, typer.Option("--date", help="Decision date (决定日期), YYYY-MM-DD, local.")],
    text: Annotated[str | None, typer.Option(help="The decision as made (执法决定).")] = None,
    text_file: Annotated[Path | None, typer.Option(help="... or read it from this UTF-8 file.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record the final decision; refused for a major case until the legal review of its proposal is completed.

    The publication deadline follows: 7 working days for permits and penalties, 20 for others (公示办法 art. 9).

    Example: evidock case decision final 武人社罚字[2026]12号 --document 武人社罚决字[2026]12号
    --date 2026-02-13 --text-file decision.txt
    """
    wording = text_of(text, text_file, "--text")
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = decisions.record_final(
            evi,
            person_of(ctx),
            case_number,
            text=wording or "",
            document=document,
            decided_on=day_of(decided_on, "--date"),
        )
    print_decision(found, as_json=as_json)


def case_show(
    ctx: typer.Context,
    case_number: CaseArgument,
    as_json: JsonOption = False,
) -> None:
    """A case's decision and every step the log holds of it (registered as a query: it names the party).

    Example: evidock case show 武人社罚字[2026]12号 --json
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        view = decisions.show(evi, person_of(ctx), case_number, command="case show")
    data: dict[str, Any] = view.as_json()
    if as_json:
        print_json(data)
        return
    print_decision(view.decision, as_json=False)
    for step in view.steps:
        out.print(f"  entry {step.entry} {step.time} {step.type.value} {step.action} by {step.by}", markup=False)
    out.print(f"(this read: entry {view.entry})", markup=False)
