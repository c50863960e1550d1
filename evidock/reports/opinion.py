# ruff: noqa: RUF001 - the Chinese document text uses full-width punctuation on purpose
"""The 法制审核意见书 (legal review opinion, 法制审核办法 art. 13) as a page: two copies, one per page.

"法制审核意见书一式两份": one goes back to the handling unit for the case file,
one stays with the legal review body. Each copy shows the case, the proposal
reviewed, the grounds that made it major, the dates the review ran on, the
nine points of art. 9 with what was found, the opinion of art. 10 and its
reasons, and the log entry that holds them (its index, provable with
`evidock log proof --entry N`).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from cases.decisions import CaseDecision
from cases.review_rows import Review, ReviewOpinion
from cases.terms import PointFinding, ReviewPoint
from evidock.reports.anchor import ReportAnchor

_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)

_TEXT: dict[str, dict[str, Any]] = {
    "zh": {
        "title": "法制审核意见书",
        "parts": ["第一联：反馈承办处室（单位）存入执法案卷", "第二联：法制审核机构留存归档"],
        "number": "审核编号 {review}（日志条目 {entry}）",
        "facts": [
            "案号",
            "送审单位经办人",
            "送审时间",
            "拟作出的决定",
            "属于重大执法决定的情形",
            "收到完备送审材料",
            "审核期限",
            "审核轮次",
        ],
        "rounds": {1: "初审", 2: "复审（第十一条）"},
        "extended": "（经 {head} 批准延长5个工作日）",
        "points": "审核内容（第九条）",
        "findings": {"ok": "符合", "problem": "存在问题", "na": "不适用"},
        "opinion": "审核意见（第十条）",
        "opinion_kind": "意见",
        "reasons": "理由",
        "reviewer": "审核人",
        "given": "日期",
        "note": "本意见书的内容（九项审核内容、意见及理由的承诺值）记入日志条目 {entry}，"
        "可用 `evidock log proof --entry {entry}` 证明。依据的检查点：{origin}，大小 {size}，根 {root}。",
    },
    "en": {
        "title": "Legal review opinion (法制审核意见书)",
        "parts": ["Copy 1: to the handling unit, for the case file", "Copy 2: kept by the legal review body"],
        "number": "Review {review} (log entry {entry})",
        "facts": [
            "Case number",
            "Submitted by",
            "Submitted at",
            "Proposed decision",
            "Why it is major",
            "Complete submission received",
            "Due",
            "Round",
        ],
        "rounds": {1: "first review", 2: "re-review (art. 11)"},
        "extended": " (extended by 5 working days, approved by {head})",
        "points": "Points reviewed (art. 9)",
        "findings": {"ok": "sound", "problem": "problem", "na": "not applicable"},
        "opinion": "Opinion (art. 10)",
        "opinion_kind": "Opinion",
        "reasons": "Reasons",
        "reviewer": "Reviewer",
        "given": "Date",
        "note": "This opinion (the nine points, the opinion and the commitment to its reasons) is log entry {entry}; "
        "prove it with `evidock log proof --entry {entry}`. Checkpoint: {origin}, size {size}, root {root}.",
    },
}

_POINTS_EN = {
    ReviewPoint.COMPLETE: "The submission is complete",
    ReviewPoint.COMPETENCE: "The authority and its officers are qualified",
    ReviewPoint.JURISDICTION: "Within the bureau's powers",
    ReviewPoint.FACTS: "The party is identified, the facts clear, the evidence conclusive",
    ReviewPoint.PROCEDURE: "The procedure is lawful",
    ReviewPoint.LAW: "The law is applied correctly, the discretion fits the standard",
    ReviewPoint.DOCUMENTS: "The documents are complete and in due form",
    ReviewPoint.CRIME: "A suspected crime to transfer to the judicial authorities",
    ReviewPoint.OTHER: "Other matters",
}


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def opinion_html(
    opinion: ReviewOpinion,
    review: Review,
    decision: CaseDecision,
    *,
    anchor: ReportAnchor,
    zone: ZoneInfo,
    lang: str,
) -> str:
    """Both copies of the opinion as one HTML document (a page each)."""
    text = _TEXT[lang]
    grounds = "；".join(g.zh if lang == "zh" else f"{g.value} ({g.article})" for g in decision.major_grounds)
    due = _day(opinion.due_on)
    if review.extended_by:
        due += text["extended"].format(head=review.extended_by)
    values = [
        review.case_number,
        review.submitted_by,
        _local(review.submitted_at, zone),
        decision.proposed_text or "—",
        grounds or "—",
        _day(review.started_on),
        due,
        text["rounds"].get(opinion.round, str(opinion.round)),
    ]
    points = [
        (
            point.zh if lang == "zh" else _POINTS_EN[point],
            text["findings"][opinion.points[point].value],
            opinion.points[point] is PointFinding.PROBLEM,
        )
        for point in ReviewPoint
    ]
    t = {
        **text,
        "number": text["number"].format(review=review.id, entry=opinion.entry),
        "note": text["note"].format(entry=opinion.entry, origin=anchor.origin, size=anchor.size, root=anchor.root_hex),
    }
    return _env.get_template("review_opinion.html").render(
        lang=lang,
        t=t,
        facts=list(zip(text["facts"], values, strict=True)),
        points=points,
        opinion=opinion.opinion.zh if lang == "zh" else f"{opinion.opinion.value} ({opinion.opinion.zh})",
        reasons=opinion.reasons,
        reviewer=opinion.reviewer,
        given=_local(opinion.given_at, zone),
    )
