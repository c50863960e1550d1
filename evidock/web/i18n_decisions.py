# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""The words of the decision pages (案件决定, 法制审核, 结果公示), Chinese and English; part of ``i18n.CATALOGUE``.

The terms of the rules (kinds of action, opinions, review states, grounds) are
not here: the page shows their Chinese name (``cases.terms``) in Chinese and
their code in English, as the command line does.
"""

from __future__ import annotations

from typing import Final

DECISION_WORDS: Final[dict[str, tuple[str, str]]] = {
    "nav.decisions": ("案件决定", "Decisions"),
    "dec.title": ("案件决定、法制审核与结果公示", "Decisions, legal review and publication"),
    "dec.intro": (
        "重大行政执法决定须经法制审核（法制审核办法第五至七条、第十四条）；执法结果在决定作出后 7 个工作日"
        "（许可、处罚）或 20 个工作日内公示（公示办法第九条）。",
        "A major decision needs a legal review (法制审核办法 art. 5-7, 14); results are published within 7 working "
        "days (permits, penalties) or 20 of the decision (公示办法 art. 9).",
    ),
    "dec.none": ("尚无案件决定。", "No decisions yet."),
    "dec.action": ("执法类别", "Kind of action"),
    "dec.party": ("当事人", "Party (当事人)"),
    "dec.party_kind": ("当事人类型", "Party kind"),
    "dec.minor": ("未成年人", "minor"),
    "dec.parties_count": ("涉及人数", "Parties concerned"),
    "dec.major": ("重大决定", "Major"),
    "dec.grounds": ("重大决定情形", "Why major"),
    "dec.not_major": ("否", "no"),
    "dec.proposed": ("拟作出的决定", "Proposed decision"),
    "dec.fine": ("罚款（元）", "Fine (yuan)"),
    "dec.final": ("执法决定", "Decision"),
    "dec.document": ("决定书文号", "Document number (决定书文号)"),
    "dec.decided_on": ("决定日期", "Decided on"),
    "dec.publish_due": ("公示期限", "Publish by"),
    "dec.review": ("法制审核", "Legal review"),
    "dec.reviews": ("法制审核记录", "Legal reviews"),
    "dec.state": ("审核状态", "State"),
    "dec.review_due": ("审核期限", "Review due"),
    "dec.extended_by": ("延期批准人", "Extension approved by"),
    "dec.missing": ("缺少的材料", "Missing"),
    "dec.case_file": ("送审材料", "Case file"),
    "dec.opinions": ("审核意见", "Opinions"),
    "dec.round": ("轮次", "Round"),
    "dec.reviewer": ("审核人", "Reviewer"),
    "dec.opinion": ("意见", "Opinion"),
    "dec.reasons": ("理由", "Reasons"),
    "dec.print": ("打印意见书（PDF）", "Print the opinion (PDF)"),
    "dec.publication": ("结果公示", "Publication"),
    "dec.published": ("已公示", "published"),
    "dec.withdrawn": ("已撤下", "withdrawn"),
    "dec.excluded": ("不予公示", "not published"),
    "dec.unpublished": ("未公示", "not published yet"),
    "dec.steps": ("日志中的各步骤", "Steps in the log"),
    "dec.deadlines": ("法制审核与结果公示期限", "Legal review and publication deadlines"),
    "dec.deadlines_help": (
        "法制审核：收到完备送审材料后 5 个工作日（经批准可延长 5 个工作日）；公示：决定后 7 或 20 个工作日。",
        "Legal review: 5 working days after the complete submission (+5 once approved); publication: 7 or 20 "
        "working days after the decision.",
    ),
    "dec.nothing_due": ("没有即将到期或逾期的审核或公示。", "No review or publication due soon or overdue."),
    "dec.what_review": ("法制审核", "legal review"),
    "dec.what_publication": ("结果公示", "publication"),
    "dec.days": ("{n} 个工作日", "{n} working day(s)"),
    "dec.check": ("审查送审材料", "Check the submission"),
    "dec.complete": ("材料完备（开始计算审核期限）", "Complete (the review period starts)"),
    "dec.incomplete": ("材料不完备", "Incomplete"),
    "dec.give_opinion": ("出具审核意见（第九条、第十条）", "Give the opinion (art. 9, 10)"),
    "dec.publish": ("公示执法结果", "Publish the decision"),
    "dec.mode": ("公示方式", "How"),
    "dec.mode_summary": ("摘要（个人隐去真实姓名）", "Summary (an individual's real name hidden)"),
    "dec.mode_document": ("决定文书（隐去身份及财产信息）", "Document (identity and property data removed)"),
    "dec.summary": ("执法决定（摘要）", "Decision (summary)"),
    "dec.remove": ("另需隐去的文字（每行一项）", "Other text to hide (one per line)"),
    "dec.withdraw": ("撤下公示", "Withdraw"),
    "dec.withdraw_document": ("生效的裁判文书或复议决定书", "Judgment or review decision"),
    "dec.withdraw_reason": ("撤下原因", "Why"),
    "dec.ok": ("符合", "sound"),
    "dec.problem": ("存在问题", "problem"),
    "dec.na": ("不适用", "not applicable"),
    "done.check": ("审查结果已记录。", "Check recorded."),
    "done.opinion": ("审核意见已记录。", "Opinion recorded."),
    "done.publish": ("已公示，公示页面已更新。", "Published; the feed is updated."),
    "done.withdraw": ("已撤下，公示页面已更新。", "Withdrawn; the feed is updated."),
    "dash.decisions_due": ("审核与公示期限", "Reviews and publications due"),
    "dash.decisions_rule": ("法制审核、结果公示", "Legal review, publication"),
}
