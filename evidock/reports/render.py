# ruff: noqa: RUF001 - the Chinese report text uses full-width punctuation on purpose
"""The reports' pages: Jinja2 templates filled in Chinese (default) or English, times in the station's zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from access.audit import AccessRow
from evidock.reports.anchor import ReportAnchor
from retention.compliance import ComplianceReport

LANGS = ("zh", "en")
_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)

_TEXT: dict[str, dict[str, Any]] = {
    "zh": {
        "audit_title": "执法音像记录调阅登记表",
        "compliance_title": "音像记录存储与标注合规报告（第二十六条）",
        "generated": "生成时间",
        "by": "生成人",
        "query_entry": "本次查询的日志条目",
        "filters": "筛选条件",
        "all": "全部",
        "month": "月份",
        "anchor": "依据的检查点",
        "anchor_value": "{origin}，大小 {size}，根 {root}，公钥指纹 {fp}",
        "columns": ["条目", "时间", "人员 / 角色", "动作", "录像编号（SHA-256）", "事由", "审批人", "对方类别", "文号"],
        "closing": "共 {n} 条，均早于本次查询的日志条目 {own}（第二十七条：登记调阅人、复制人、审批人、时间、事由）。"
        "任一条目可用 `evidock log proof --entry N` 证明其在已签名的日志中。",
        "no_rows": "无记录。",
        "filter_names": {"recording": "录像", "user": "人员", "case": "案号", "since": "起", "until": "止"},
        "groups": ["按设备", "按警号", "按案号"],
        "compliance_columns": [
            "对象",
            "录像数",
            "按期存储",
            "按期标注",
            "逾期",
            "逾期工作日合计",
            "尚未标注且已逾期",
            "未说明的发现问题",
        ],
        "unknown": "（未知或未标注）",
        "cases_due": "立卷（结案后30日）与归档（次年3月31日前）",
        "due_columns": ["案号", "事项", "期限", "完成日期", "状态"],
        "due_what": {"case_file": "立卷", "archive": "归档"},
        "due_status": {"on time": "按期", "late": "逾期完成", "overdue": "已逾期", "due": "待办"},
        "decisions_due": "法制审核（第十二条：5个工作日）与执法结果公示（公示办法第九条：7或20个工作日）",
        "decision_columns": ["案号", "事项", "期限", "完成日期", "状态"],
        "decision_what": {"review": "法制审核", "publication": "结果公示"},
        "decision_status": {
            "on time": "按期",
            "late": "逾期完成",
            "overdue": "已逾期",
            "due soon": "即将到期",
            "due": "待办",
        },
    },
    "en": {
        "audit_title": "Access audit trail",
        "compliance_title": "Art. 26 compliance report: storage and labels",
        "generated": "Generated",
        "by": "By",
        "query_entry": "This query's log entry",
        "filters": "Filters",
        "all": "all",
        "month": "Month",
        "anchor": "Checkpoint",
        "anchor_value": "{origin}, size {size}, root {root}, key fingerprint {fp}",
        "columns": [
            "entry",
            "time",
            "user / role",
            "action",
            "recording (SHA-256)",
            "reason",
            "approver",
            "category",
            "document",
        ],
        "closing": "{n} access(es), all before this query's log entry {own} (art. 27). "
        "Prove any entry with `evidock log proof --entry N`.",
        "no_rows": "None.",
        "filter_names": {"recording": "recording", "user": "user", "case": "case", "since": "since", "until": "until"},
        "groups": ["By device", "By officer", "By case number"],
        "compliance_columns": [
            "",
            "recordings",
            "stored on time",
            "labelled on time",
            "late",
            "working days late",
            "overdue",
            "open findings",
        ],
        "unknown": "(unknown or unlabelled)",
        "cases_due": "Case files (30 days after closing) and archive handovers (by 31 March)",
        "due_columns": ["case number", "what", "due", "done on", "status"],
        "due_what": {"case_file": "case file", "archive": "archive"},
        "due_status": {"on time": "on time", "late": "late", "overdue": "overdue", "due": "due"},
        "decisions_due": "Legal reviews (5 working days, art. 12) and publications (7 or 20 working days)",
        "decision_columns": ["case number", "what", "due", "done on", "status"],
        "decision_what": {"review": "legal review", "publication": "publication"},
        "decision_status": {
            "on time": "on time",
            "late": "late",
            "overdue": "overdue",
            "due soon": "due soon",
            "due": "due",
        },
    },
}


def report_text(lang: str) -> dict[str, Any]:
    """The reports' headings and column names in ``lang`` (the web's compliance page shows the same)."""
    return _TEXT[lang]


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _header(
    text: dict[str, Any], anchor: ReportAnchor, generated: datetime, zone: ZoneInfo, by: str
) -> list[tuple[str, str]]:
    return [
        (text["generated"], f"{_local(generated, zone)} ({zone.key})"),
        (text["by"], by),
        (
            text["anchor"],
            text["anchor_value"].format(
                origin=anchor.origin, size=anchor.size, root=anchor.root_hex, fp=anchor.fingerprint
            ),
        ),
    ]


def audit_access_html(
    rows: Sequence[AccessRow],
    *,
    own: int,
    filters: dict[str, str],
    anchor: ReportAnchor,
    generated: datetime,
    zone: ZoneInfo,
    by: str,
    lang: str,
) -> str:
    """The access trail as one page of HTML; ``own`` is the query's own ACCESS entry."""
    text = _TEXT[lang]
    shown = "; ".join(f"{text['filter_names'][k]} {v}" for k, v in filters.items()) or text["all"]
    meta = [*_header(text, anchor, generated, zone, by), (text["query_entry"], str(own)), (text["filters"], shown)]
    table = [
        {
            "entry": r.entry,
            "time": _local(r.time, zone),
            "actor": r.actor,
            "role": r.role,
            "action": r.action + (f" ({r.listed})" if r.listed else ""),
            "recording": r.recording or "—",
            "reason": r.reason,
            "approver": r.approver or "—",
            "category": r.category or "—",
            "document": r.document_ref or "—",
        }
        for r in rows
    ]
    closing = text["closing"].format(n=len(rows), own=own)
    t = {"columns": text["columns"], "no_rows": text["no_rows"], "closing": closing}
    return _env.get_template("audit_access.html").render(
        lang=lang, title=text["audit_title"], meta=meta, rows=table, t=t
    )


def compliance_html(result: ComplianceReport, *, anchor: ReportAnchor, zone: ZoneInfo, by: str, lang: str) -> str:
    """The art. 26 report (per device, officer and case, and the case dates due) as one page of HTML."""
    text = _TEXT[lang]
    meta = [*_header(text, anchor, result.generated_at, zone, by), (text["month"], result.month or text["all"])]
    groups = list(zip(text["groups"], (result.by_device, result.by_officer, result.by_case), strict=True))
    dues = [
        {
            "case_number": d.case_number,
            "what": text["due_what"].get(d.what, d.what),
            "due": d.due.isoformat(),
            "done_on": d.done_on.isoformat() if d.done_on else "—",
            "status": text["due_status"].get(d.status, d.status),
        }
        for d in result.cases_due
    ]
    decided = [
        {
            "case_number": d.case_number,
            "what": text["decision_what"].get(d.what, d.what),
            "due": d.due.isoformat(),
            "done_on": d.done_on.isoformat() if d.done_on else "—",
            "status": text["decision_status"].get(d.status, d.status),
        }
        for d in result.decisions_due
    ]
    t = {
        "decisions_due": text["decisions_due"],
        "decision_columns": text["decision_columns"],
        "columns": text["compliance_columns"],
        "due_columns": text["due_columns"],
        "cases_due": text["cases_due"],
        "unknown": text["unknown"],
        "no_rows": text["no_rows"],
    }
    return _env.get_template("compliance.html").render(
        lang=lang, title=text["compliance_title"], meta=meta, groups=groups, dues=dues, decided=decided, t=t
    )
