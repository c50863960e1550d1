"""A catalog with a row in every decision, review and publication table: every step of each, on real entries.

``tests/test_projection.py`` builds it into its world, then tampers every
column of these tables as of any other and expects ``evidock verify`` to name it.
The calendar is not under test here: a day is a working day.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

from cases import decisions as decisions_db
from cases import publication, review
from cases.decisions import Party
from cases.review_rows import Document
from cases.terms import ActionType, Exclusion, Opinion, PartyKind, PointFinding, PublicationMode, ReviewPoint
from evidock.app import App


def _every_day(start: date, count: int) -> date:
    return start + timedelta(days=count)


def decisions_through_every_step(evi: App, case: str, recording: str) -> None:
    """A major penalty through every step of its review and publication, and a second case excluded (art. 10)."""
    j, now = evi.journal, evi.now()
    party = Party(PartyKind.INDIVIDUAL, "张三", False, "420102199001011234", "13812345678", "武汉市江岸区某路1号")
    with evi.catalog.begin() as conn:
        decisions_db.set_facts(
            conn, j, case_number=case, action_type=ActionType.PENALTY, party=party, parties_count=1, by="c", time=now
        )
        decisions_db.propose(
            conn, j, case_number=case, text_="拟罚款张三6000元", fine_fen=600_000, measures=[], by="c", time=now
        )
        decisions_db.mark_major(conn, j, case_number=case, reason="社会影响", by="c", time=now)
        done = review.submit(
            conn,
            j,
            case_number=case,
            proposal="建议罚款",
            legal_basis="《劳动保障监察条例》第二十六条",
            documents=[Document("询问笔录", "a" * 64, 10)],
            recordings=[recording],
            other_evidence="证人证言",
            by="c",
            time=now,
        )
        review.check(
            conn,
            j,
            review_id=done.id,
            complete=False,
            missing="缺听证笔录",
            by="l",
            time=now,
            tz=UTC,
            working_days=_every_day,
        )
        review.supplement(
            conn,
            j,
            review_id=done.id,
            documents=[Document("听证笔录", "b" * 64, 5)],
            recordings=[],
            other_evidence="补充说明",
            by="c",
            time=now,
        )
        review.check(
            conn, j, review_id=done.id, complete=True, missing=None, by="l", time=now, tz=UTC, working_days=_every_day
        )
        review.extend(
            conn, j, review_id=done.id, approved_by="d", reason="案情复杂", by="l", time=now, working_days=_every_day
        )
        points = dict.fromkeys(ReviewPoint, PointFinding.OK) | {ReviewPoint.LAW: PointFinding.PROBLEM}
        review.give_opinion(
            conn, j, review_id=done.id, points=points, opinion=Opinion.CHANGE, reasons="裁量过重", by="l", time=now
        )
        review.request_rereview(
            conn, j, review_id=done.id, reason="不同意", by="c", time=now, tz=UTC, working_days=_every_day
        )
        review.give_opinion(
            conn, j, review_id=done.id, points=points, opinion=Opinion.CHANGE, reasons="维持", by="l", time=now
        )
        review.escalate(conn, j, review_id=done.id, by="c", time=now)
        review.head_decides(conn, j, review_id=done.id, head="d", decision="同意承办意见", by="c", time=now)
        decisions_db.record_final(
            conn,
            j,
            case_number=case,
            text_="对张三罚款6000元",
            document="决字1号",
            decided_on=date(2025, 3, 1),
            working_days=_every_day,
            by="c",
            time=now,
        )
        published = publication.publish(
            conn,
            j,
            case_number=case,
            mode=PublicationMode.SUMMARY,
            authority="市人社局",
            summary="罚款6000元",
            remove=[],
            by="c",
            time=now,
        )
        publication.withdraw(
            conn, j, publication_id=published.id, document="(2025)鄂0102行初1号", reason="撤销", by="c", time=now
        )
        other = "武人社罚字[2025]2号"
        minor = Party(PartyKind.INDIVIDUAL, "李小", True)
        decisions_db.set_facts(
            conn, j, case_number=other, action_type=ActionType.PENALTY, party=minor, parties_count=1, by="c", time=now
        )
        publication.exclude(
            conn, j, case_number=other, ground=Exclusion.MINOR, reason="未成年人", approved_by="d", by="c", time=now
        )
