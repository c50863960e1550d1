# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""A major penalty from proposal to withdrawal, on the real S3 server and catalog, and `verify` over all of it.

Flagged major by its fine (art. 6(3), 14); submitted incomplete (no clock);
supplemented and found complete (due 13 October across the National Day
holiday); the reviewer reads the case file through the gate and agrees; the
decision is made and published as a summary with the party's name hidden;
a court judgment revokes it and the publication is withdrawn. The log holds
each step, the feed holds nothing personal, and `evidock verify` passes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from access.people import Role
from cases.errors import ReviewRequired
from cases.history import case_steps
from cases.major import Ground
from cases.review_rows import Document
from cases.terms import ActionType, Opinion, PointFinding, PublicationMode, ReviewPoint, ReviewState
from evidock import decisions, legal_review, publishing
from evidock.app import App, checkpointer_for, open_app, retention_context
from evidock.keys import init_key
from evidock.settings import PublicationSettings, Settings
from evidock.verify import verify
from retention import labelling
from retention.decision_dues import decision_dues
from storage.access_terms import Action
from tests import media
from tests.cases.helpers import CASE, NAME, PARTY, PERSONAL, REVIEWER, UNIT, beijing, log_bytes
from tests.conftest import add_person, dock

pytestmark = pytest.mark.s3

COURT = "(2026)鄂0102行初88号行政判决书"


def test_a_major_penalty_from_flag_to_withdrawal(settings: Settings, tmp_path: Path) -> None:
    settings = replace(settings, publication=PublicationSettings("市人社局", tmp_path / "feed"))
    vkey, _ = init_key(settings)
    add_person(settings, "zhao.liu", Role.CUSTODIAN)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        recording = dock(evi, media.clip(tmp_path / "inbox" / "CAM71_P7101_20260922093000_0001.mp4", seconds=1))
        labelling.label(
            retention_context(evi), [recording], case_number=CASE, parties=[NAME], handler=UNIT.name, by=UNIT.name,
            now=beijing("2026-09-22 15:00"),
        )  # fmt: skip
        _decide_review_publish_withdraw(evi, recording)
        checkpointer_for(evi).make(evi.now())
        report = verify(evi, vkey)
        assert report.ok, report.failures
        with evi.catalog.read() as conn:
            steps = [(s.type.value, s.action, s.by) for s in case_steps(conn, CASE)]
        raw = log_bytes(evi)
    assert steps == [
        ("DECISION", "facts", UNIT.name),
        ("DECISION", "propose", UNIT.name),
        ("REVIEW", "submit", UNIT.name),
        ("REVIEW", "check", REVIEWER.name),
        ("REVIEW", "supplement", UNIT.name),
        ("REVIEW", "check", REVIEWER.name),
        ("REVIEW", "opinion", REVIEWER.name),
        ("DECISION", "final", UNIT.name),
        ("PUBLICATION", "publish", UNIT.name),
        ("PUBLICATION", "withdraw", UNIT.name),
    ]
    assert report.checked["catalog_rows"] > 0
    for value in PERSONAL:  # in the log only as commitments
        assert value.encode() not in raw
    feed = settings.publication.feed_dir
    for path in (p for p in feed.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8")
        for value in PERSONAL:
            assert value not in text, f"{value!r} is in {path}"
    index = json.loads((feed / "index.json").read_text(encoding="utf-8"))
    assert index["published"] == []
    assert [(w["document"], w["basis"]) for w in index["withdrawn"]] == [("武人社罚决字[2026]12号", COURT)]


def _decide_review_publish_withdraw(evi: App, recording: str) -> None:
    decisions.set_facts(
        evi, UNIT, CASE, action_type=ActionType.PENALTY, party=PARTY, parties_count=1, now=beijing("2026-09-23 09:00")
    )
    proposed = decisions.propose(
        evi, UNIT, CASE, text=f"拟对{NAME}罚款人民币6000元", fine_fen=6_000_00, measures=[],
        now=beijing("2026-09-25 10:00"),
    )  # fmt: skip
    assert proposed.major_grounds == (Ground.LARGE_FINE,)
    with pytest.raises(ReviewRequired):
        decisions.record_final(evi, UNIT, CASE, text="罚款", document="x", decided_on=date(2026, 9, 25))

    review = legal_review.submit(
        evi, UNIT, CASE, proposal="建议罚款6000元，理由：拖欠劳动者工资", legal_basis="《劳动保障监察条例》第二十六条",
        documents=[Document("询问笔录", "c" * 64, 2048)], other_evidence=None, now=beijing("2026-09-29 10:00"),
    ).id  # fmt: skip
    incomplete = legal_review.check(
        evi, REVIEWER, review, complete=False, missing="缺少责令改正通知书", now=beijing("2026-09-29 16:00")
    )
    assert (incomplete.state, incomplete.due_on) == (ReviewState.INCOMPLETE, None)  # the clock has not started
    legal_review.supplement(
        evi, UNIT, review, documents=[Document("责令改正通知书", "d" * 64, 512)], other_evidence=None,
        now=beijing("2026-09-30 11:00"),
    )  # fmt: skip
    started = legal_review.check(evi, REVIEWER, review, complete=True, missing=None, now=beijing("2026-10-08 09:00"))
    assert (started.started_on, started.due_on) == (date(2026, 9, 30), date(2026, 10, 13))

    package = legal_review.package(evi, REVIEWER, review, reason="法制审核", command="test")
    assert [r.id for r in package.recordings] == [recording]
    assert b"".join(evi.gate().open_content(REVIEWER, recording, action=Action.VIEW, reason="法制审核").chunks())
    points = dict.fromkeys(ReviewPoint, PointFinding.OK) | {ReviewPoint.OTHER: PointFinding.NOT_APPLICABLE}
    legal_review.give_opinion(
        evi, REVIEWER, review, points=points, opinion=Opinion.AGREE, reasons="事实清楚，证据确凿，程序合法，裁量适当",
        now=beijing("2026-10-12 16:00"),
    )  # fmt: skip

    final = decisions.record_final(
        evi, UNIT, CASE, text=f"对{NAME}罚款人民币6000元", document="武人社罚决字[2026]12号",
        decided_on=date(2026, 10, 14), now=beijing("2026-10-14 17:00"),
    )  # fmt: skip
    assert (final.final_review, final.publish_due_on) == (review, date(2026, 10, 23))
    published = publishing.publish(
        evi, UNIT, CASE, mode=PublicationMode.SUMMARY, summary=f"对{NAME}罚款人民币6000元",
        now=beijing("2026-10-16 10:00"),
    )  # fmt: skip
    assert (published.content["party"], published.content["decision"]) == ("张某", "对张某罚款人民币6000元")
    rctx = retention_context(evi)
    with evi.catalog.read() as conn:
        met = decision_dues(conn, rctx.calendar, tz=rctx.tz, today=date(2026, 11, 2), due_soon_working_days=1,
                            open_only=False)  # fmt: skip
    assert [(d.what, d.due, d.status) for d in met] == [
        ("review", date(2026, 10, 13), "on time"),
        ("publication", date(2026, 10, 23), "on time"),
    ]
    publishing.withdraw(evi, UNIT, published.id, document=COURT, reason="判决撤销原行政处罚决定",
                        now=beijing("2026-11-20 10:00"))  # fmt: skip
