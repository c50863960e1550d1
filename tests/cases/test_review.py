# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""The legal review of a major decision (法制审核办法 art. 8-13) on a real catalog, with dates across the holidays.

The deadline counts working days on the real calendar (2026: 1-7 October off,
10 October a make-up working day); the day the complete submission arrived
does not count. Every step is a REVIEW entry naming the person acting.
"""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import pytest

from access.errors import ApprovalError, NotPermitted
from access.people import Role
from cases.errors import DecisionError, ReviewRequired
from cases.history import case_steps
from cases.review_rows import Document
from cases.terms import ActionType, Opinion, PointFinding, ReviewPoint, ReviewState
from chain.entries import EntryType
from evidock import decisions, legal_review
from evidock.app import App, retention_context
from evidock.keys import init_key
from evidock.reports import documents as reports
from evidock.settings import Settings
from retention import labelling
from retention.decision_dues import decision_dues
from storage import journal
from storage.access_terms import Action
from tests import media
from tests.cases.helpers import CASE, PARTY, REVIEWER, UNIT, beijing, projection_problems
from tests.conftest import add_person, dock

pytestmark = pytest.mark.s3

HEAD = "zhao.liu"  # the head (负责人) who approves: an active user who may approve
ALL_OK = dict.fromkeys(ReviewPoint, PointFinding.OK)
BASIS = "《劳动保障监察条例》第二十六条"


def _major_case(evi: App, settings: Settings, *, proposed: str = "2026-09-28 10:00") -> None:
    add_person(settings, HEAD, Role.CUSTODIAN)
    add_person(settings, REVIEWER.name, Role.LEGAL)
    decisions.set_facts(
        evi, UNIT, CASE, action_type=ActionType.PENALTY, party=PARTY, parties_count=1, now=beijing("2026-09-25 09:00")
    )
    decisions.propose(evi, UNIT, CASE, text="拟罚款6000元", fine_fen=6_000_00, measures=[], now=beijing(proposed))


def _submit(evi: App, at: str) -> int:
    found = legal_review.submit(
        evi,
        UNIT,
        CASE,
        proposal="建议对当事人罚款6000元，理由：拖欠工资",
        legal_basis=BASIS,
        documents=[Document("询问笔录", "a" * 64, 1024)],
        other_evidence=None,
        now=beijing(at),
    )
    return found.id


def test_a_review_submitted_complete_on_30_september_is_due_13_october_and_extended_to_20(
    evi: App, settings: Settings
) -> None:
    _major_case(evi, settings)
    review = _submit(evi, "2026-09-30 11:00")
    found = legal_review.check(evi, REVIEWER, review, complete=True, missing=None, now=beijing("2026-10-08 09:00"))
    assert (found.state, found.started_on) == (ReviewState.IN_REVIEW, date(2026, 9, 30))
    assert found.due_on == date(2026, 10, 13)
    with pytest.raises(NotPermitted, match=r"fa.zhi \(legal\) may not approve"):
        legal_review.extend(evi, REVIEWER, review, approved_by=REVIEWER.name, reason="复杂")
    with pytest.raises(ApprovalError, match="not an active user"):
        legal_review.extend(evi, REVIEWER, review, approved_by="nobody", reason="复杂")
    extended = legal_review.extend(
        evi, REVIEWER, review, approved_by=HEAD, reason="案情复杂", now=beijing("2026-10-12 09:00")
    )
    assert (extended.due_on, extended.extended_by) == (date(2026, 10, 20), HEAD)
    with pytest.raises(DecisionError, match=r"art\. 12 allows one"):
        legal_review.extend(evi, REVIEWER, review, approved_by=HEAD, reason="again")
    with evi.catalog.read() as conn:
        steps = case_steps(conn, CASE)
        extension = journal.entry_at(conn, steps[-1].entry)
    assert (extension.type, extension.body["action"]) == (EntryType.REVIEW, "extend")
    assert extension.body["by"] == REVIEWER.name
    assert (extension.body["approved_by"], extension.body["due_on"]) == (HEAD, "2026-10-20")
    assert projection_problems(evi) == []


def test_an_incomplete_submission_starts_no_clock_until_it_is_supplemented(evi: App, settings: Settings) -> None:
    _major_case(evi, settings)
    review = _submit(evi, "2026-09-29 11:00")
    found = legal_review.check(
        evi, REVIEWER, review, complete=False, missing="缺少听证告知书", now=beijing("2026-09-29 15:00")
    )
    assert (found.state, found.started_on, found.due_on) == (ReviewState.INCOMPLETE, None, None)
    with pytest.raises(DecisionError, match="an opinion needs it in_review"):
        legal_review.give_opinion(evi, REVIEWER, review, points=ALL_OK, opinion=Opinion.AGREE, reasons="x")
    with pytest.raises(DecisionError, match="adds nothing"):
        legal_review.supplement(evi, UNIT, review, documents=[], other_evidence=None)
    legal_review.supplement(
        evi, UNIT, review, documents=[Document("听证告知书", "b" * 64, 10)], other_evidence=None,
        now=beijing("2026-10-09 10:00"),
    )  # fmt: skip
    found = legal_review.check(evi, REVIEWER, review, complete=True, missing=None, now=beijing("2026-10-09 16:00"))
    # from Friday 9 October: Sat 10 (make-up), Mon 12, 13, 14, 15
    assert (found.started_on, found.due_on) == (date(2026, 10, 9), date(2026, 10, 15))
    assert [d.title for d in found.documents] == ["询问笔录", "听证告知书"]
    assert projection_problems(evi) == []


def test_the_opinion_works_through_the_nine_points(evi: App, settings: Settings) -> None:
    _major_case(evi, settings)
    review = _submit(evi, "2026-09-30 11:00")
    legal_review.check(evi, REVIEWER, review, complete=True, missing=None)
    partial: dict[ReviewPoint, PointFinding] = {p: PointFinding.OK for p in ReviewPoint if p is not ReviewPoint.OTHER}
    with pytest.raises(DecisionError, match="these are not worked through: other"):
        legal_review.give_opinion(evi, REVIEWER, review, points=partial, opinion=Opinion.AGREE, reasons="x")
    problem = ALL_OK | {ReviewPoint.LAW: PointFinding.PROBLEM}
    with pytest.raises(DecisionError, match=r"finds no problem, but law"):
        legal_review.give_opinion(evi, REVIEWER, review, points=problem, opinion=Opinion.AGREE, reasons="x")
    with pytest.raises(DecisionError, match="answers a problem"):
        legal_review.give_opinion(evi, REVIEWER, review, points=ALL_OK, opinion=Opinion.CHANGE, reasons="x")
    with pytest.raises(NotPermitted, match="may not review major decisions"):
        legal_review.give_opinion(evi, UNIT, review, points=ALL_OK, opinion=Opinion.AGREE, reasons="x")


def test_change_opinion_rereview_head_and_a_new_proposal(evi: App, settings: Settings) -> None:
    """Art. 10(3) change → the one re-review (art. 11) → the head decides; only then is the decision made."""
    _major_case(evi, settings)
    review = _submit(evi, "2026-09-30 11:00")
    legal_review.check(evi, REVIEWER, review, complete=True, missing=None, now=beijing("2026-10-08 09:00"))
    change = ALL_OK | {ReviewPoint.LAW: PointFinding.PROBLEM}
    first = legal_review.give_opinion(
        evi, REVIEWER, review, points=change, opinion=Opinion.CHANGE, reasons="裁量过重，建议3000元",
        now=beijing("2026-10-13 17:00"),
    )  # fmt: skip
    assert (first.round, first.due_on) == (1, date(2026, 10, 13))
    with pytest.raises(DecisionError, match="record the corrected proposal"):
        legal_review.accept(evi, UNIT, review)
    with pytest.raises(DecisionError, match="no re-review"):
        legal_review.escalate(evi, UNIT, review)
    with pytest.raises(ReviewRequired):
        decisions.record_final(evi, UNIT, CASE, text="罚款6000元", document="决1", decided_on=date(2026, 10, 20))
    again = legal_review.request_rereview(evi, UNIT, review, reason="当事人拒不改正", now=beijing("2026-10-14 09:00"))
    assert (again.state, again.due_on) == (ReviewState.REREVIEW, date(2026, 10, 21))
    second = legal_review.give_opinion(
        evi, REVIEWER, review, points=change, opinion=Opinion.CHANGE, reasons="维持原意见",
        now=beijing("2026-10-20 10:00"),
    )  # fmt: skip
    assert second.round == 2
    with pytest.raises(DecisionError, match="allows one"):
        legal_review.request_rereview(evi, UNIT, review, reason="再次")
    legal_review.escalate(evi, UNIT, review, now=beijing("2026-10-20 15:00"))
    done = legal_review.head_decides(
        evi, UNIT, review, head=HEAD, decision="同意承办处室意见", now=beijing("2026-10-21 09:00")
    )
    assert done.state is ReviewState.DONE
    final = decisions.record_final(
        evi, UNIT, CASE, text="罚款6000元", document="武人社罚决字[2026]12号", decided_on=date(2026, 10, 21),
        now=beijing("2026-10-21 10:00"),
    )  # fmt: skip
    assert final.final_review == review
    with evi.catalog.read() as conn:
        actions = [(s.type.value, s.action) for s in case_steps(conn, CASE)]
    assert actions[2:] == [
        ("REVIEW", "submit"),
        ("REVIEW", "check"),
        ("REVIEW", "opinion"),
        ("REVIEW", "rereview"),
        ("REVIEW", "opinion"),
        ("REVIEW", "escalate"),
        ("REVIEW", "decide"),
        ("DECISION", "final"),
    ]
    assert projection_problems(evi) == []


def test_a_followed_change_opinion_completes_on_the_corrected_proposal_only(evi: App, settings: Settings) -> None:
    _major_case(evi, settings)
    review = _submit(evi, "2026-09-30 11:00")
    legal_review.check(evi, REVIEWER, review, complete=True, missing=None)
    change = ALL_OK | {ReviewPoint.LAW: PointFinding.PROBLEM}
    legal_review.give_opinion(evi, REVIEWER, review, points=change, opinion=Opinion.CHANGE, reasons="减为3000元")
    decisions.propose(evi, UNIT, CASE, text="拟罚款5500元", fine_fen=5_500_00, measures=[])
    done = legal_review.accept(evi, UNIT, review)
    assert done.state is ReviewState.DONE
    decisions.propose(evi, UNIT, CASE, text="拟罚款9000元", fine_fen=9_000_00, measures=[])  # after the review
    with pytest.raises(ReviewRequired):
        decisions.record_final(evi, UNIT, CASE, text="罚款9000元", document="决2", decided_on=date(2026, 10, 21))


def test_the_reviewer_reads_the_case_file_through_the_gate_and_prints_the_opinion(
    evi: App, settings: Settings, tmp_path: Path
) -> None:
    init_key(settings)
    (tmp_path / "inbox").mkdir(exist_ok=True)
    recording = dock(evi, media.clip(tmp_path / "inbox" / "CAM61_P6101_20260925090000_0001.mp4", seconds=1))
    labelling.label(
        retention_context(evi), [recording], case_number=CASE, parties=[PARTY.name], handler=UNIT.name,
        by=UNIT.name, now=evi.now(),
    )  # fmt: skip
    _major_case(evi, settings)
    review = _submit(evi, "2026-09-30 11:00")
    package = legal_review.package(evi, REVIEWER, review, reason="法制审核", command="test")
    assert [r.id for r in package.recordings] == [recording]
    content = evi.gate().open_content(REVIEWER, recording, action=Action.VIEW, reason="法制审核")
    assert b"".join(content.chunks())[:8]
    with evi.catalog.read() as conn:
        listing = journal.entry_at(conn, package.entry)
        viewing = journal.entry_at(conn, content.entry)
    assert (listing.type, listing.body["role"], listing.body["action"], listing.body["count"]) == (
        EntryType.ACCESS, "legal", "list", 1,
    )  # fmt: skip
    assert (viewing.recording, viewing.body["role"], viewing.body["action"]) == (recording, "legal", "view")
    legal_review.check(evi, REVIEWER, review, complete=True, missing=None, now=beijing("2026-10-08 09:00"))
    opinion = legal_review.give_opinion(
        evi, REVIEWER, review, points=ALL_OK | {ReviewPoint.OTHER: PointFinding.NOT_APPLICABLE},
        opinion=Opinion.AGREE, reasons="事实清楚，证据确凿，程序合法，裁量适当", now=beijing("2026-10-12 16:00"),
    )  # fmt: skip
    target = tmp_path / "法制审核意见书.pdf"
    assert reports.review_opinion_pdf(evi, opinion.entry, target=target, lang="zh") > 1000
    text = subprocess.run(["pdftotext", "-raw", str(target), "-"], check=True, capture_output=True, text=True).stdout
    flat = "".join(text.split())
    assert flat.count("法制审核意见书") >= 2  # two copies
    assert "第一联" in flat
    assert "第二联" in flat
    assert "事实清楚，证据确凿，程序合法，裁量适当" in flat
    assert f"日志条目{opinion.entry}" in flat
    assert "2026-10-13" in flat  # the deadline it was given against
    pages = subprocess.run(["pdfinfo", str(target)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+2$", pages, re.MULTILINE)
    english = tmp_path / "opinion.pdf"
    reports.review_opinion_pdf(evi, opinion.entry, target=english, lang="en")
    assert (
        "Legal review opinion"
        in subprocess.run(["pdftotext", str(english), "-"], check=True, capture_output=True, text=True).stdout
    )


def legal_review_view() -> object:
    from storage.access_terms import Action

    return Action.VIEW


def test_review_deadlines_are_due_soon_then_overdue(evi: App, settings: Settings) -> None:
    _major_case(evi, settings)
    review = _submit(evi, "2026-09-30 11:00")
    legal_review.check(evi, REVIEWER, review, complete=True, missing=None)
    rctx = retention_context(evi)

    def standing(today: date) -> tuple[str, int]:
        with evi.catalog.read() as conn:
            (due,) = decision_dues(conn, rctx.calendar, tz=rctx.tz, today=today, due_soon_working_days=1)
        assert (due.what, due.reference, due.due) == ("review", review, date(2026, 10, 13))
        return due.status, due.working_days

    assert standing(date(2026, 10, 8)) == ("due", 4)  # 9, 10 (make-up), 12, 13
    assert standing(date(2026, 10, 12)) == ("due soon", 1)
    assert standing(date(2026, 10, 14)) == ("overdue", 1)
