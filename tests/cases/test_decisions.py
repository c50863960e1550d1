"""A case's decision against a real catalog: facts, proposal, the major flag, the final decision and its refusal.

Every step is a DECISION entry naming the person; the party's data and the
decision texts are in the log only as commitments; the catalog rows are the
replay of the entries (the projection ``evidock verify`` checks).
"""

from __future__ import annotations

from datetime import date

import pytest

from access.errors import NotPermitted
from cases.decisions import Party, get_decision
from cases.errors import DecisionError, ReviewRequired
from cases.history import case_steps
from cases.major import Ground
from cases.terms import ActionType, Measure, PartyKind
from chain.entries import EntryType
from evidock import decisions
from evidock.app import App
from storage import journal
from tests.cases.helpers import CASE, PARTY, PERSONAL, REVIEWER, UNIT, beijing, log_bytes, projection_problems

pytestmark = pytest.mark.s3


def _penalty(evi: App, *, fine_fen: int, party: Party = PARTY, parties: int = 1) -> None:
    decisions.set_facts(
        evi,
        UNIT,
        CASE,
        action_type=ActionType.PENALTY,
        party=party,
        parties_count=parties,
        now=beijing("2026-02-02 09:00"),
    )
    decisions.propose(
        evi, UNIT, CASE, text=f"拟对{party.name}罚款", fine_fen=fine_fen, measures=[], now=beijing("2026-02-03 09:00")
    )


def test_an_ordinary_penalty_is_decided_and_due_for_publication_in_7_working_days(evi: App) -> None:
    """Decided on Friday 2026-02-13: 14 Feb is a make-up day, 15-23 Feb the Spring Festival; due 2 March."""
    _penalty(evi, fine_fen=2_000_00)
    final = decisions.record_final(
        evi,
        UNIT,
        CASE,
        text="对张三丰罚款2000元",
        document="武人社罚决字[2026]12号",
        decided_on=date(2026, 2, 13),
        now=beijing("2026-02-13 16:00"),
    )
    assert not final.major
    assert final.final_review is None
    assert final.publish_due_on == date(2026, 3, 2)
    with evi.catalog.read() as conn:
        steps = case_steps(conn, CASE)
        entry = journal.entry_at(conn, steps[-1].entry)
    assert [(s.type, s.action, s.by) for s in steps] == [
        (EntryType.DECISION, "facts", UNIT.name),
        (EntryType.DECISION, "propose", UNIT.name),
        (EntryType.DECISION, "final", UNIT.name),
    ]
    assert entry.body["publish_due_on"] == "2026-03-02"
    assert str(entry.body["text"]).startswith("sha256:")  # the decision names the party: committed
    raw = log_bytes(evi)
    for value in PERSONAL:
        assert value.encode() not in raw
    assert projection_problems(evi) == []


def test_a_large_fine_is_flagged_major_and_its_final_decision_refused_without_a_review(evi: App) -> None:
    _penalty(evi, fine_fen=5_000_00)
    with evi.catalog.read() as conn:
        found = get_decision(conn, CASE)
    assert found is not None
    assert found.major
    assert found.major_grounds == (Ground.LARGE_FINE,)
    with pytest.raises(ReviewRequired, match=r"major decision .*art6_fine \(art. 6\(3\), 14\).*art. 4, 11"):
        decisions.record_final(
            evi,
            UNIT,
            CASE,
            text="罚款5000元",
            document="X",
            decided_on=date(2026, 2, 13),
            now=beijing("2026-02-13 16:00"),
        )
    with evi.catalog.read() as conn:
        assert [s.action for s in case_steps(conn, CASE)] == ["facts", "propose"]  # nothing written
    assert projection_problems(evi) == []


def test_correcting_the_party_re_runs_the_rules_on_the_proposal(evi: App) -> None:
    """6,000 yuan is major for a person, not for an organisation; 10 parties make it major again."""
    _penalty(evi, fine_fen=6_000_00)
    company = Party(PartyKind.ORGANISATION, "武汉某某劳务有限公司", id_number="91420100MA4K000000")
    after = decisions.set_facts(evi, UNIT, CASE, action_type=ActionType.PENALTY, party=company, parties_count=1)
    assert (after.major, after.major_grounds) == (False, ())
    after = decisions.set_facts(evi, UNIT, CASE, action_type=ActionType.PENALTY, party=company, parties_count=10)
    assert after.major_grounds == (Ground.MANY_PARTIES,)
    marked = decisions.mark_major(evi, UNIT, CASE, reason="社会影响较大")
    assert marked.major_grounds == (Ground.MANY_PARTIES, Ground.MARKED)
    after = decisions.set_facts(evi, UNIT, CASE, action_type=ActionType.PENALTY, party=company, parties_count=1)
    assert after.major_grounds == (Ground.MARKED,)  # a person's mark stays
    with pytest.raises(DecisionError, match="marked major already"):
        decisions.mark_major(evi, UNIT, CASE, reason="again")
    assert projection_problems(evi) == []


def test_a_measure_of_another_kind_and_a_future_date_are_refused(evi: App) -> None:
    _penalty(evi, fine_fen=100_00)
    with pytest.raises(DecisionError, match="belongs to a permit"):
        decisions.propose(evi, UNIT, CASE, text="听证后许可", fine_fen=None, measures=[Measure.HEARING])
    with pytest.raises(DecisionError, match="in the future"):
        decisions.record_final(evi, UNIT, CASE, text="x", document="y", decided_on=date(2099, 1, 1))
    with pytest.raises(DecisionError, match="no decision record"):
        decisions.propose(evi, UNIT, "no-such-case", text="x", fine_fen=None, measures=[])


def test_the_unit_may_decide_and_the_reviewer_may_not(evi: App) -> None:
    with pytest.raises(NotPermitted, match="may not record a case's decision"):
        decisions.set_facts(evi, REVIEWER, CASE, action_type=ActionType.PENALTY, party=PARTY, parties_count=1)
