# ruff: noqa: RUF002 - the examples use Chinese text with full-width punctuation
"""`evidock case review ...`: the legal review of a major decision (法制审核, 法制审核办法 art. 8-13).

The handling unit submits, supplements, asks for the re-review, follows the
opinion or puts it to the head; the legal role checks completeness, extends
once and gives the opinions. Thin: each command calls ``evidock.legal_review``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from cases.errors import DecisionError
from cases.review_rows import Review
from cases.terms import Opinion, PointFinding, ReviewPoint
from evidock import legal_review
from evidock.app import open_app, retention_context
from evidock.auth import acting_person
from evidock.cli_cases import text_of
from evidock.cli_common import JsonOption, err, out, person_of, print_json, settings_of
from evidock.reports import documents as reports
from evidock.reports.options import LangOption
from retention.decision_dues import decision_dues

review_app = typer.Typer(
    help="Legal review of major decisions (法制审核): submit, check, opinion (art. 9, 10), re-review, escalate.\n\n"
    "Example: evidock case review opinion 42 --point complete=ok ... --opinion agree --reasons 事实清楚",
    no_args_is_help=True,
)

ReviewArgument = Annotated[int, typer.Argument(metavar="REVIEW", help="The review's number (its submit entry).")]
DocumentsOption = Annotated[
    list[Path] | None,
    typer.Option("--document", help="A document of the case file (its SHA-256 is logged); repeat for each."),
]


def print_review(found: Review, *, as_json: bool) -> None:
    if as_json:
        print_json(found.as_json())
        return
    due = f", due {found.due_on}" if found.due_on else ""
    extended = f" (extended, approved by {found.extended_by})" if found.extended_by else ""
    out.print(
        f"review {found.id} of case {found.case_number}: {found.state.value} ({found.state.zh}){due}{extended}",
        markup=False,
    )
    if found.missing:
        out.print(f"  missing (缺少): {found.missing}", markup=False)
    out.print(
        f"  case file: {len(found.recordings)} recording(s), {len(found.documents)} document(s)",
        markup=False,
    )


def _points(given: list[str]) -> dict[ReviewPoint, PointFinding]:
    """``--point complete=ok`` (repeatable; commas allowed) into the nine points of art. 9."""
    found: dict[ReviewPoint, PointFinding] = {}
    for item in (part for text in given for part in text.split(",") if part.strip()):
        name, sep, finding = item.partition("=")
        if not sep:
            raise DecisionError(f"--point {item!r}: write POINT=ok|problem|na, e.g. facts=ok")
        point = ReviewPoint.parse(name)
        if point in found:
            raise DecisionError(f"--point {point.value} is given twice")
        found[point] = PointFinding.parse(finding)
    return found


@review_app.command("submit")
def review_submit(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="案号", help="Case number (案号).")],
    legal_basis: Annotated[str, typer.Option("--basis", help="The legal basis (依据).")],
    proposal: Annotated[str | None, typer.Option(help="The proposal with its reasons (办理建议及理由).")] = None,
    proposal_file: Annotated[Path | None, typer.Option(help="... or read it from this UTF-8 file.")] = None,
    documents: DocumentsOption = None,
    other_evidence: Annotated[str | None, typer.Option(help="Other evidence (其他证据), described.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Submit the current proposal of a major case for legal review (art. 8); the case's recordings go with it.

    The reviewer checks completeness; only a complete submission starts the 5 working days (art. 12).

    Example: evidock case review submit 武人社罚字[2026]12号 --proposal-file proposal.txt
    --basis "《劳动保障监察条例》第二十六条" --document 询问笔录.pdf --document 现场检查笔录.pdf
    """
    wording = text_of(proposal, proposal_file, "--proposal")
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.submit(
            evi,
            person_of(ctx),
            case_number,
            proposal=wording or "",
            legal_basis=legal_basis,
            documents=[legal_review.document_of(p) for p in documents or []],
            other_evidence=other_evidence,
        )
    print_review(found, as_json=as_json)


@review_app.command("check")
def review_check(
    ctx: typer.Context,
    review: ReviewArgument,
    complete: Annotated[
        bool, typer.Option("--complete/--incomplete", help="Complete (starts the clock) or not.")
    ] = True,
    missing: Annotated[str | None, typer.Option(help="What is missing (with --incomplete).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The reviewer's completeness check (art. 9(1)): complete starts the 5 working days, incomplete does not.

    Example: evidock case review check 42 --incomplete --missing "缺少听证笔录"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.check(evi, person_of(ctx), review, complete=complete, missing=missing)
    print_review(found, as_json=as_json)


@review_app.command("supplement")
def review_supplement(
    ctx: typer.Context,
    review: ReviewArgument,
    documents: DocumentsOption = None,
    other_evidence: Annotated[str | None, typer.Option(help="Other evidence (其他证据), described.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add to a submission found incomplete (补正); recordings labelled with the case since are added too.

    Example: evidock case review supplement 42 --document 听证笔录.pdf
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.supplement(
            evi,
            person_of(ctx),
            review,
            documents=[legal_review.document_of(p) for p in documents or []],
            other_evidence=other_evidence,
        )
    print_review(found, as_json=as_json)


@review_app.command("extend")
def review_extend(
    ctx: typer.Context,
    review: ReviewArgument,
    approved_by: Annotated[str, typer.Option("--approved-by", help="The head (负责人) who approved: an active user.")],
    reason: Annotated[str, typer.Option(help="Why the case is complex (案件复杂).")],
    as_json: JsonOption = False,
) -> None:
    """Extend the review by 5 working days, once, with the head's approval (art. 12); logged with both names.

    Example: evidock case review extend 42 --approved-by zhao.liu --reason "案情复杂，需组织座谈论证"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.extend(evi, person_of(ctx), review, approved_by=approved_by, reason=reason)
    print_review(found, as_json=as_json)


@review_app.command("opinion")
def review_opinion(
    ctx: typer.Context,
    review: ReviewArgument,
    opinion: Annotated[str, typer.Option(help="agree, investigate, change, correct or transfer (art. 10).")],
    points: Annotated[
        list[str],
        typer.Option(
            "--point",
            help="Each of the nine points of art. 9 as POINT=ok|problem|na: complete, competence, jurisdiction, "
            "facts, procedure, law, documents, crime, other (repeat, or separate with commas).",
        ),
    ],
    reasons: Annotated[str | None, typer.Option(help="The reasons (理由).")] = None,
    reasons_file: Annotated[Path | None, typer.Option(help="... or read them from this UTF-8 file.")] = None,
    pdf: Annotated[Path | None, typer.Option("--pdf", metavar="FILE", help="Also print the opinion (A4 PDF).")] = None,
    lang: LangOption = "zh",
    as_json: JsonOption = False,
) -> None:
    """Give the written opinion (art. 10, 13): the nine points, one opinion and its reasons; a REVIEW entry.

    Agreeing completes the review; another opinion waits for the unit (follow it, ask the one re-review,
    then the head). With --pdf the 法制审核意见书 (two copies) is printed too.

    Example: evidock case review opinion 42 --point complete=ok,competence=ok,jurisdiction=ok,facts=ok
    --point procedure=ok,law=ok,documents=ok,crime=ok,other=na --opinion agree --reasons "事实清楚，证据确凿"
    """
    why = text_of(reasons, reasons_file, "--reasons")
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        given = legal_review.give_opinion(
            evi, person_of(ctx), review, points=_points(points), opinion=Opinion.parse(opinion), reasons=why or ""
        )
        if pdf is not None:
            size = reports.review_opinion_pdf(evi, given.entry, target=pdf, lang=lang)
            err.print(f"wrote {pdf} ({size} bytes, A4 PDF, two copies)", markup=False)
    if as_json:
        print_json(given.as_json())
        return
    out.print(
        f"review {given.review}, round {given.round}: {given.opinion.value} ({given.opinion.zh}) — "
        f"REVIEW entry {given.entry}",
        markup=False,
    )


@review_app.command("pdf")
def review_pdf(
    ctx: typer.Context,
    entry: Annotated[int, typer.Argument(metavar="ENTRY", help="The opinion's log entry.")],
    target: Annotated[Path, typer.Option("--out", metavar="FILE", help="The PDF file to write.")],
    lang: LangOption = "zh",
) -> None:
    """Print a legal review opinion (法制审核意见书, two copies) to an A4 PDF; the read is logged first.

    Example: evidock case review pdf 57 --out 法制审核意见书.pdf
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        person = person_of(ctx)
        legal_review.record_print(evi, person, entry)
        size = reports.review_opinion_pdf(evi, entry, target=target, lang=lang)
    err.print(f"wrote {target} ({size} bytes, A4 PDF, two copies)", markup=False)


@review_app.command("rereview")
def review_rereview(
    ctx: typer.Context,
    review: ReviewArgument,
    reason: Annotated[str, typer.Option(help="The unit's written request (复审申请): why it disagrees.")],
    as_json: JsonOption = False,
) -> None:
    """Ask for the one re-review (复审, art. 11); the reviewer has 5 working days again.

    Example: evidock case review rereview 42 --reason "当事人已主动改正，裁量适当"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.request_rereview(evi, person_of(ctx), review, reason=reason)
    print_review(found, as_json=as_json)


@review_app.command("accept")
def review_accept(ctx: typer.Context, review: ReviewArgument, as_json: JsonOption = False) -> None:
    """Follow the opinion (with a corrected proposal if it asked for a change); the review is then completed.

    Example: evidock case review accept 42
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.accept(evi, person_of(ctx), review)
    print_review(found, as_json=as_json)


@review_app.command("escalate")
def review_escalate(ctx: typer.Context, review: ReviewArgument, as_json: JsonOption = False) -> None:
    """Still disagreeing after the re-review: put it to the head (提请行政负责人决定, art. 11).

    Example: evidock case review escalate 42
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.escalate(evi, person_of(ctx), review)
    print_review(found, as_json=as_json)


@review_app.command("decide")
def review_decide(
    ctx: typer.Context,
    review: ReviewArgument,
    head: Annotated[str, typer.Option(help="The head (行政负责人) who decided: an active user, not you.")],
    decision: Annotated[str, typer.Option(help="What the head decided.")],
    as_json: JsonOption = False,
) -> None:
    """Record the head's decision on an escalated review (art. 11); the review is then completed.

    Example: evidock case review decide 42 --head zhao.liu --decision "同意承办处室意见，罚款6000元"
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.head_decides(evi, person_of(ctx), review, head=head, decision=decision)
    print_review(found, as_json=as_json)


@review_app.command("show")
def review_show(ctx: typer.Context, review: ReviewArgument, as_json: JsonOption = False) -> None:
    """A submission as the reviewer reads it: proposal, case file (recordings with their INGEST entries), opinions.

    The read is one LIST entry naming the case file's recordings; view one with `evidock recordings get`.

    Example: evidock case review show 42 --json
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.package(evi, person_of(ctx), review, command="case review show")
    if as_json:
        print_json(found.as_json())
        return
    print_review(found.review, as_json=False)
    out.print(f"  proposal (办理建议及理由): {found.review.proposal}", markup=False)
    out.print(f"  legal basis (依据): {found.review.legal_basis}", markup=False)
    for document in found.review.documents:
        out.print(f"  document {document.title}: SHA-256 {document.sha256} ({document.size} bytes)", markup=False)
    for recording in found.recordings:
        out.print(
            f"  recording {recording.id}: INGEST entry {recording.ingest_entry}"
            f"{' (purged)' if recording.purged else ''}",
            markup=False,
        )
    for opinion in found.opinions:
        out.print(
            f"  opinion round {opinion.round} by {opinion.reviewer}: {opinion.opinion.value} ({opinion.opinion.zh}) "
            f"— entry {opinion.entry}",
            markup=False,
        )
    out.print(f"(this read: entry {found.entry})", markup=False)


def review_list(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only reviews not completed.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Legal reviews with their state and deadline (5 working days, art. 12): due, due soon, overdue.

    Example: evidock case review list --open
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        found = legal_review.reviews(evi, acting_person(evi), open_only=open_only)  # its query entry is written
        rctx = retention_context(evi)
        now = evi.now()
        with evi.catalog.read() as conn:
            dues = decision_dues(
                conn,
                rctx.calendar,
                tz=rctx.tz,
                today=now.astimezone(rctx.tz).date(),
                due_soon_working_days=rctx.alerts.due_soon_working_days,
            )
    standing = {d.reference: d for d in dues if d.what == "review"}
    rows: list[dict[str, Any]] = [
        {
            "id": r.id,
            "case_number": r.case_number,
            "state": r.state.value,
            "due_on": r.due_on.isoformat() if r.due_on else None,
            "deadline": standing[r.id].status if r.id in standing else None,
            "extended_by": r.extended_by,
        }
        for r in found
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("review", "case (案号)", "state", "due", "deadline")
    for row in rows:
        table.add_row(str(row["id"]), row["case_number"], row["state"], row["due_on"] or "—", row["deadline"] or "—")
    out.print(table)
