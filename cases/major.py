# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""Which proposed decisions are major (重大行政执法决定): 法制审核办法 art. 5-7 with the figures of art. 14.

Pure: the facts of the case and the proposal in, the reasons out (empty: not
major). Each reason is a code with the article it comes from; ``marked`` is a
person's own judgement ("本局认为属于重大的其他决定", art. 5(3), 6(5)).

* art. 5 (permits): decided after a hearing; a permit withdrawn or revoked.
* art. 6 (penalties): a licence suspended or revoked; an order to stop
  production or business; a decision put to the heads' collective discussion
  because the case is complex or the fine large, where art. 14 fixes "large"
  at 5,000 yuan or more for a person and 50,000 or more for an organisation
  ("以上" includes the figure itself); a case with many parties or interested
  persons, which art. 14 fixes at 10 or more.
* art. 7 (any decision): a transfer to the police (suspected crime) or to the
  supervision commission (suspected official misconduct).

Art. 6 speaks of penalties only, so its grounds (the fine and the number of
parties among them) make a penalty major and nothing else; a permit with ten
applicants is major only when a person marks it so. Amounts are whole fen
(分): log entries hold integers only.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

from cases.errors import DecisionError
from cases.terms import ActionType, Measure, PartyKind

FEN_PER_YUAN: Final = 100
LARGE_FINE_PERSON: Final = 5_000 * FEN_PER_YUAN  # art. 14: 对个人处5000元以上罚款
LARGE_FINE_ORGANISATION: Final = 50_000 * FEN_PER_YUAN  # art. 14: 对单位处5万元以上罚款
MANY_PARTIES: Final = 10  # art. 14: 10人以上群体性案件


class Ground(StrEnum):
    """Why a decision is major; the value is logged, ``article`` and ``zh`` are shown."""

    HEARING = "art5_hearing"
    PERMIT_WITHDRAWN = "art5_withdrawn"
    LICENCE = "art6_licence"
    STOP_PRODUCTION = "art6_stop"
    COLLECTIVE = "art6_collective"
    LARGE_FINE = "art6_fine"
    MANY_PARTIES = "art6_parties"
    TRANSFER = "art7_transfer"
    MARKED = "marked"

    @property
    def article(self) -> str:
        return _ARTICLE[self]

    @property
    def zh(self) -> str:
        return _ZH[self]


_ARTICLE = {
    Ground.HEARING: "art. 5(1)",
    Ground.PERMIT_WITHDRAWN: "art. 5(2)",
    Ground.LICENCE: "art. 6(1)",
    Ground.STOP_PRODUCTION: "art. 6(2)",
    Ground.COLLECTIVE: "art. 6(3)",
    Ground.LARGE_FINE: "art. 6(3), 14",
    Ground.MANY_PARTIES: "art. 6(4), 14",
    Ground.TRANSFER: "art. 7",
    Ground.MARKED: "art. 5(3), 6(5)",
}
_ZH = {
    Ground.HEARING: "经过听证作出的许可决定（第五条第一项）",
    Ground.PERMIT_WITHDRAWN: "撤回或者撤销行政许可的决定（第五条第二项）",
    Ground.LICENCE: "暂扣、吊销许可证件的决定（第六条第一项）",
    Ground.STOP_PRODUCTION: "责令停产停业的决定（第六条第二项）",
    Ground.COLLECTIVE: "案情复杂需提请局领导集体讨论（第六条第三项）",
    Ground.LARGE_FINE: "罚款数额较大（第六条第三项、第十四条）",
    Ground.MANY_PARTIES: "相对人、利害关系人人数较多（第六条第四项、第十四条）",
    Ground.TRANSFER: "移送公安机关或监察机关（第七条）",
    Ground.MARKED: "本局认为属于重大（第五条第三项、第六条第五项）",
}

_PERMIT_ONLY = frozenset({Measure.HEARING, Measure.PERMIT_WITHDRAWN})
_PENALTY_ONLY = frozenset(
    {Measure.LICENCE_SUSPENDED, Measure.LICENCE_REVOKED, Measure.STOP_PRODUCTION, Measure.COLLECTIVE_DISCUSSION}
)


@dataclass(frozen=True)
class Proposal:
    """What the rules look at: the case's kind and parties, and the proposed decision's fine and measures."""

    action: ActionType
    party_kind: PartyKind
    parties_count: int  # 行政行为相对人、利害关系人 concerned
    fine_fen: int | None  # the proposed fine in fen (分), None without one
    measures: frozenset[Measure]


def measures_allowed(action: ActionType, measures: Collection[Measure]) -> list[str]:
    """What is wrong with ``measures`` for a case of kind ``action`` (empty: nothing)."""
    problems = []
    for measure in sorted(measures):
        if measure in _PERMIT_ONLY and action is not ActionType.PERMIT:
            problems.append(f"{measure.value} ({measure.zh}) belongs to a permit (行政许可), not a {action.value}")
        if measure in _PENALTY_ONLY and action is not ActionType.PENALTY:
            problems.append(f"{measure.value} ({measure.zh}) belongs to a penalty (行政处罚), not a {action.value}")
    return problems


def large_fine(party_kind: PartyKind) -> int:
    """The fine (fen) from which a penalty on this kind of party is major (art. 14)."""
    return LARGE_FINE_PERSON if party_kind is PartyKind.INDIVIDUAL else LARGE_FINE_ORGANISATION


def grounds(proposal: Proposal, *, marked: bool = False) -> tuple[Ground, ...]:
    """Every ground that makes ``proposal`` major, in article order; empty when it is not major."""
    found: list[Ground] = []
    measures = proposal.measures
    if proposal.action is ActionType.PERMIT:
        if Measure.HEARING in measures:
            found.append(Ground.HEARING)
        if Measure.PERMIT_WITHDRAWN in measures:
            found.append(Ground.PERMIT_WITHDRAWN)
    if proposal.action is ActionType.PENALTY:
        if measures & {Measure.LICENCE_SUSPENDED, Measure.LICENCE_REVOKED}:
            found.append(Ground.LICENCE)
        if Measure.STOP_PRODUCTION in measures:
            found.append(Ground.STOP_PRODUCTION)
        if Measure.COLLECTIVE_DISCUSSION in measures:
            found.append(Ground.COLLECTIVE)
        if proposal.fine_fen is not None and proposal.fine_fen >= large_fine(proposal.party_kind):
            found.append(Ground.LARGE_FINE)
        if proposal.parties_count >= MANY_PARTIES:
            found.append(Ground.MANY_PARTIES)
    if measures & {Measure.TRANSFER_POLICE, Measure.TRANSFER_SUPERVISION}:
        found.append(Ground.TRANSFER)
    if marked:
        found.append(Ground.MARKED)
    return tuple(found)


def yuan(fen: int | None) -> str:
    """A fen amount as yuan for people: ``500000`` → ``5,000.00``; None → ``—``."""
    if fen is None:
        return "—"
    return f"{fen // FEN_PER_YUAN:,}.{fen % FEN_PER_YUAN:02d}"


def parse_yuan(text: str) -> int:
    """Yuan as typed (``5000``, ``5000.5``, ``5,000.00``) → whole fen; refuses negatives and fractions of a fen."""
    cleaned = text.strip().replace(",", "").removesuffix("元")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise DecisionError(f"fine {text[:40]!r} is not an amount in yuan: write e.g. 6000 or 6000.50") from None
    fen = amount * FEN_PER_YUAN
    if amount < 0 or fen != fen.to_integral_value():
        raise DecisionError(f"fine {text[:40]!r} must be zero or more, to the fen (两位小数)")
    return int(fen)
