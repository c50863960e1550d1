# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""The vocabulary of decisions: kinds of action, parties, measures, review points and opinions, exclusions.

Each term is stored and logged by its English code; the Chinese name is what
the regulation says and what pages and printed documents show. Input may be
given by code or by the Chinese name (``ActionType.parse("行政处罚")``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from cases.errors import DecisionError


class _Term(StrEnum):
    """A code with its Chinese name (``zh``) and the article it comes from (``basis``), parsed from either."""

    @property
    def zh(self) -> str:
        return _CHINESE[self]

    @classmethod
    def parse(cls, text: str) -> Self:
        given = text.strip()
        for term in cls:
            if given in (term.value, term.zh):
                return term
        known = ", ".join(f"{t.value} ({t.zh})" for t in cls)
        raise DecisionError(f"{given[:40]!r} is not one of: {known}")


class ActionType(_Term):
    """The kind of enforcement action (执法类别) a case is."""

    PERMIT = "permit"
    PENALTY = "penalty"
    INSPECTION = "inspection"
    CONFIRMATION = "confirmation"
    LEVY = "levy"
    OTHER = "other"


class PartyKind(_Term):
    INDIVIDUAL = "individual"
    ORGANISATION = "organisation"


class Measure(_Term):
    """What a proposed decision does that the major-decision rules (art. 5-7) look at."""

    HEARING = "hearing"  # a permit decided after a hearing (art. 5(1))
    PERMIT_WITHDRAWN = "permit_withdrawn"  # a permit withdrawn or revoked (art. 5(2))
    LICENCE_SUSPENDED = "licence_suspended"  # art. 6(1)
    LICENCE_REVOKED = "licence_revoked"  # art. 6(1)
    STOP_PRODUCTION = "stop_production"  # art. 6(2)
    COLLECTIVE_DISCUSSION = "collective_discussion"  # complex: put to the heads' collective discussion (art. 6(3))
    TRANSFER_POLICE = "transfer_police"  # suspected crime (art. 7)
    TRANSFER_SUPERVISION = "transfer_supervision"  # suspected official misconduct or crime (art. 7)


class ReviewPoint(_Term):
    """The nine points a legal review works through (法制审核办法 art. 9)."""

    COMPLETE = "complete"
    COMPETENCE = "competence"
    JURISDICTION = "jurisdiction"
    FACTS = "facts"
    PROCEDURE = "procedure"
    LAW = "law"
    DOCUMENTS = "documents"
    CRIME = "crime"
    OTHER = "other"


class PointFinding(_Term):
    OK = "ok"
    PROBLEM = "problem"
    NOT_APPLICABLE = "na"


class Opinion(_Term):
    """The written opinions of art. 10."""

    AGREE = "agree"  # (一) 同意
    INVESTIGATE = "investigate"  # (二) 继续调查、补正或不应作出决定
    CHANGE = "change"  # (三) 变更
    CORRECT = "correct"  # (四) 纠正
    TRANSFER = "transfer"  # (五) 移送


class ReviewState(_Term):
    """Where a legal review stands (``cases.review``)."""

    SUBMITTED = "submitted"  # waiting for the completeness check
    INCOMPLETE = "incomplete"  # found incomplete: the clock has not started; the unit supplements
    IN_REVIEW = "in_review"  # complete: 5 working days run (art. 12)
    OPINION = "opinion"  # an opinion other than agree: the unit corrects, asks a re-review, or goes to the head
    REREVIEW = "rereview"  # the unit's written request for the one re-review (art. 11)
    ESCALATED = "escalated"  # put to the head after the re-review (art. 11)
    DONE = "done"  # agreed, the opinion followed, or the head decided: the decision may be made


class Exclusion(_Term):
    """Why a decision is not published (公示办法 art. 10)."""

    MINOR = "minor"  # (一)
    SECRET_OR_PRIVACY = "secret_or_privacy"  # noqa: S105 - (二), a ground, not a password
    SAFETY = "safety"  # (三)
    INVESTIGATION = "investigation"  # (四)
    POLICE = "police"  # (五)
    OTHER_LAW = "other_law"  # (六)


class PublicationMode(_Term):
    """How a decision is published (公示办法 art. 9, para. 2)."""

    DOCUMENT = "document"  # the decision document, property and identity data removed
    SUMMARY = "summary"  # actor, kind, party (a person's real name hidden), decision, number, date


_CHINESE: dict[StrEnum, str] = {
    ActionType.PERMIT: "行政许可",
    ActionType.PENALTY: "行政处罚",
    ActionType.INSPECTION: "行政检查",
    ActionType.CONFIRMATION: "行政确认",
    ActionType.LEVY: "行政征收",
    ActionType.OTHER: "其他行政执法行为",
    PartyKind.INDIVIDUAL: "个人",
    PartyKind.ORGANISATION: "单位",
    Measure.HEARING: "经过听证作出的许可决定",
    Measure.PERMIT_WITHDRAWN: "撤回或者撤销行政许可",
    Measure.LICENCE_SUSPENDED: "暂扣许可证件",
    Measure.LICENCE_REVOKED: "吊销许可证件",
    Measure.STOP_PRODUCTION: "责令停产停业",
    Measure.COLLECTIVE_DISCUSSION: "案情复杂，提请局领导集体讨论",
    Measure.TRANSFER_POLICE: "移送公安机关（涉嫌犯罪）",
    Measure.TRANSFER_SUPERVISION: "移送监察机关（涉嫌职务违法、职务犯罪）",
    ReviewPoint.COMPLETE: "提交审核材料是否完整",
    ReviewPoint.COMPETENCE: "是否具备执法主体资格，行政执法人员是否具备执法资格",
    ReviewPoint.JURISDICTION: "是否属于本局职权范围",
    ReviewPoint.FACTS: "执法对象是否认定准确，事实是否清楚，证据是否确凿",
    ReviewPoint.PROCEDURE: "执法程序是否合法",
    ReviewPoint.LAW: "适用法律、法规或规章是否准确，执行裁量基准是否适当",
    ReviewPoint.DOCUMENTS: "行政执法文书是否完备、制作是否规范",
    ReviewPoint.CRIME: "违法行为是否涉嫌犯罪、需要移送司法机关",
    ReviewPoint.OTHER: "其他应当审查的内容",
    PointFinding.OK: "符合",
    PointFinding.PROBLEM: "存在问题",
    PointFinding.NOT_APPLICABLE: "不适用",
    Opinion.AGREE: "同意",
    Opinion.INVESTIGATE: "继续调查、补正或不应作出行政执法决定",
    Opinion.CHANGE: "变更",
    Opinion.CORRECT: "纠正",
    Opinion.TRANSFER: "移送",
    Exclusion.MINOR: "行政相对人属于未成年人",
    Exclusion.SECRET_OR_PRIVACY: "涉及国家秘密、商业秘密、个人隐私",
    Exclusion.SAFETY: "公示后可能危及国家安全、公共安全、经济安全或者社会稳定",
    Exclusion.INVESTIGATION: "公示后可能会影响案件调查处理",
    Exclusion.POLICE: "涉嫌犯罪需移送公安机关调查处理或者公安机关正在调查处理中",
    Exclusion.OTHER_LAW: "法律法规规章规定不予公示的其他情形",
    ReviewState.SUBMITTED: "已送审，待审查材料",
    ReviewState.INCOMPLETE: "材料不完备，待补正",
    ReviewState.IN_REVIEW: "审核中",
    ReviewState.OPINION: "已出具审核意见",
    ReviewState.REREVIEW: "复审中",
    ReviewState.ESCALATED: "已提请行政负责人决定",
    ReviewState.DONE: "审核完成",
    PublicationMode.DOCUMENT: "公示执法决定文书",
    PublicationMode.SUMMARY: "公示执法决定摘要",
}
