"""The major-decision rules (法制审核办法 art. 5-7, 14) as pure functions: every ground, every threshold's edge."""

from __future__ import annotations

import pytest

from cases.errors import DecisionError
from cases.major import Ground, Proposal, grounds, measures_allowed, parse_yuan, yuan
from cases.terms import ActionType, Measure, PartyKind


def proposal(
    action: ActionType = ActionType.PENALTY,
    *,
    kind: PartyKind = PartyKind.INDIVIDUAL,
    parties: int = 1,
    fine: int | None = None,
    measures: frozenset[Measure] = frozenset(),
) -> Proposal:
    return Proposal(action, kind, parties, fine, measures)


def test_an_ordinary_penalty_is_not_major() -> None:
    assert grounds(proposal(fine=100_00)) == ()


@pytest.mark.parametrize(
    ("kind", "fine_fen", "major"),
    [
        (PartyKind.INDIVIDUAL, 4_999_99, False),
        (PartyKind.INDIVIDUAL, 5_000_00, True),  # art. 14: "以上" includes the figure itself
        (PartyKind.ORGANISATION, 5_000_00, False),
        (PartyKind.ORGANISATION, 49_999_99, False),
        (PartyKind.ORGANISATION, 50_000_00, True),
    ],
)
def test_a_large_fine_is_major_from_5000_for_a_person_and_50000_for_an_organisation(
    kind: PartyKind, fine_fen: int, major: bool
) -> None:
    assert (Ground.LARGE_FINE in grounds(proposal(kind=kind, fine=fine_fen))) is major


def test_ten_parties_make_a_penalty_major_and_nine_do_not() -> None:
    assert grounds(proposal(parties=9)) == ()
    assert grounds(proposal(parties=10)) == (Ground.MANY_PARTIES,)
    # art. 6 is about penalties: a permit with ten applicants is major only when a person marks it.
    assert grounds(proposal(ActionType.PERMIT, parties=10)) == ()


@pytest.mark.parametrize(
    ("action", "measure", "ground"),
    [
        (ActionType.PERMIT, Measure.HEARING, Ground.HEARING),
        (ActionType.PERMIT, Measure.PERMIT_WITHDRAWN, Ground.PERMIT_WITHDRAWN),
        (ActionType.PENALTY, Measure.LICENCE_SUSPENDED, Ground.LICENCE),
        (ActionType.PENALTY, Measure.LICENCE_REVOKED, Ground.LICENCE),
        (ActionType.PENALTY, Measure.STOP_PRODUCTION, Ground.STOP_PRODUCTION),
        (ActionType.PENALTY, Measure.COLLECTIVE_DISCUSSION, Ground.COLLECTIVE),
        (ActionType.PENALTY, Measure.TRANSFER_POLICE, Ground.TRANSFER),
        (ActionType.INSPECTION, Measure.TRANSFER_SUPERVISION, Ground.TRANSFER),
    ],
)
def test_each_measure_of_articles_5_to_7_makes_its_decision_major(
    action: ActionType, measure: Measure, ground: Ground
) -> None:
    assert grounds(proposal(action, measures=frozenset({measure}))) == (ground,)


def test_grounds_come_in_article_order_and_a_persons_mark_is_one_of_them() -> None:
    found = grounds(
        proposal(
            fine=6_000_00,
            parties=12,
            measures=frozenset({Measure.TRANSFER_POLICE, Measure.LICENCE_REVOKED}),
        ),
        marked=True,
    )
    assert found == (Ground.LICENCE, Ground.LARGE_FINE, Ground.MANY_PARTIES, Ground.TRANSFER, Ground.MARKED)
    assert [g.article for g in found] == ["art. 6(1)", "art. 6(3), 14", "art. 6(4), 14", "art. 7", "art. 5(3), 6(5)"]
    assert grounds(proposal(ActionType.OTHER), marked=True) == (Ground.MARKED,)


def test_a_measure_of_another_kind_of_action_is_named() -> None:
    assert measures_allowed(ActionType.PENALTY, [Measure.HEARING]) == [
        "hearing (经过听证作出的许可决定) belongs to a permit (行政许可), not a penalty"
    ]
    assert measures_allowed(ActionType.PERMIT, [Measure.STOP_PRODUCTION])
    assert measures_allowed(ActionType.LEVY, [Measure.TRANSFER_POLICE]) == []


def test_amounts_are_whole_fen() -> None:
    assert parse_yuan("5000") == 500_000
    assert parse_yuan("5,000.5元") == 500_050
    assert yuan(500_050) == "5,000.50"
    for bad in ("-1", "1.001", "five"):
        with pytest.raises(DecisionError):
            parse_yuan(bad)
