# ruff: noqa: RUF001 - Chinese text uses full-width punctuation
"""Publication (公示办法 art. 9-10) on a real catalog: deadlines, redaction, exclusions, withdrawal, the static feed.

The last test reads every file the feed holds and looks for each name, ID
number, phone number and address the tests gave the cases: none may be there.
"""

from __future__ import annotations

import html
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from access.people import Role
from cases.decisions import Party
from cases.errors import DecisionError
from cases.redaction import leaks, redact
from cases.terms import ActionType, Exclusion, Measure, PartyKind, PublicationMode
from evidock import decisions, publishing
from evidock.app import App, retention_context
from evidock.settings import PublicationSettings
from retention import alerts, compliance
from retention.decision_dues import decision_dues
from tests.cases.helpers import ADDRESS, CASE, ID_NUMBER, NAME, PARTY, PERSONAL, PHONE, UNIT, beijing
from tests.conftest import add_person

pytestmark = pytest.mark.s3

SECOND = "zhao.liu"  # the second person who approves an exclusion
# A second individual and an organisation, with their own personal data, and another person named in a document.
OTHER_NAME, OTHER_ID, OTHER_PHONE, OTHER_ADDRESS = "李四海", "42010519850615002X", "027-85551234", "武昌区中北路88号"
WITNESS = "王五福"
COMPANY = Party(
    PartyKind.ORGANISATION, "武汉某某劳务有限公司", False, "91420100MA4K3XXXXX", "13900001111", "汉阳区某路9号"
)
EVERYTHING_PERSONAL = (
    *PERSONAL,
    OTHER_NAME,
    OTHER_ID,
    OTHER_PHONE,
    OTHER_ADDRESS,
    WITNESS,
    "13900001111",
    "汉阳区某路9号",
)


@pytest.fixture
def station(evi: App, tmp_path: Path) -> App:
    """The app with [publication] set (authority, a feed folder of the test's own) and a second person."""
    add_person(evi.settings, SECOND, Role.CUSTODIAN)
    settings = replace(evi.settings, publication=PublicationSettings("市人社局", tmp_path / "feed"))
    return replace(evi, settings=settings)


def _decided(
    evi: App, case: str, party: Party, *, on: date, action: ActionType = ActionType.PENALTY, text: str | None = None
) -> None:
    decisions.set_facts(
        evi, UNIT, case, action_type=action, party=party, parties_count=1, now=beijing("2026-02-02 09:00")
    )
    decisions.propose(evi, UNIT, case, text="拟处理", fine_fen=1_000_00, measures=[], now=beijing("2026-02-03 09:00"))
    decisions.record_final(
        evi, UNIT, case, text=text or f"对{party.name}罚款1000元", document=f"决字{case}", decided_on=on,
        now=beijing(f"{on.isoformat()} 17:00"),
    )  # fmt: skip


def test_a_summary_hides_the_name_and_is_due_7_working_days_after_the_decision(station: App) -> None:
    _decided(station, CASE, PARTY, on=date(2026, 2, 13))
    rctx = retention_context(station)
    with station.catalog.read() as conn:
        (due,) = decision_dues(conn, rctx.calendar, tz=rctx.tz, today=date(2026, 2, 27), due_soon_working_days=1)
        (soon,) = decision_dues(conn, rctx.calendar, tz=rctx.tz, today=date(2026, 2, 28), due_soon_working_days=1)
    # Friday 27 February: Saturday 28 (a make-up working day) and Monday 2 March are left
    assert (due.what, due.due, due.status, due.working_days) == ("publication", date(2026, 3, 2), "due", 2)
    assert (soon.status, soon.working_days) == ("due soon", 1)
    made = publishing.publish(
        station,
        UNIT,
        CASE,
        mode=PublicationMode.SUMMARY,
        summary=f"对{NAME}罚款人民币1000元",
        now=beijing("2026-03-02 10:00"),
    )
    assert made.content == {
        "authority": "市人社局",
        "action_type": "行政处罚",
        "party": "张某",
        "decision": "对张某罚款人民币1000元",
        "document": f"决字{CASE}",
        "decided_on": "2026-02-13",
        "mode": "summary",
    }
    with station.catalog.read() as conn:
        (done,) = decision_dues(
            conn, rctx.calendar, tz=rctx.tz, today=date(2026, 3, 9), due_soon_working_days=1, open_only=False
        )
    assert (done.status, done.done_on) == ("on time", date(2026, 3, 2))


def test_a_document_is_published_with_identity_and_property_data_removed(station: App) -> None:
    text = (
        f"当事人：{OTHER_NAME}，身份证号：{OTHER_ID}，联系电话：{OTHER_PHONE}，住址：{OTHER_ADDRESS}。"
        f"证人{WITNESS}证实其拖欠工资。银行账号：6222021001122334455。本机关决定罚款人民币1000元。"
    )
    other = Party(PartyKind.INDIVIDUAL, OTHER_NAME, False, OTHER_ID, OTHER_PHONE, OTHER_ADDRESS)
    _decided(station, "武人社罚字[2026]20号", other, on=date(2026, 2, 13), text=text)
    made = publishing.publish(station, UNIT, "武人社罚字[2026]20号", mode=PublicationMode.DOCUMENT, remove=[WITNESS])
    shown = made.content["text"]
    assert shown == (
        "当事人：李某，身份证号：［身份证号已隐去］，联系电话：［联系方式已隐去］，住址：［住址已隐去］。"
        "证人［已隐去］证实其拖欠工资。银行账号：［已隐去］。本机关决定罚款人民币1000元。"
    )


def test_an_organisation_is_published_by_its_name_but_a_document_number_naming_a_person_is_refused(
    station: App,
) -> None:
    _decided(station, "武人社罚字[2026]21号", COMPANY, on=date(2026, 2, 13), text="对武汉某某劳务有限公司罚款1000元")
    made = publishing.publish(station, UNIT, "武人社罚字[2026]21号", mode=PublicationMode.SUMMARY, summary="罚款1000元")
    assert made.content["party"] == COMPANY.name
    decisions.set_facts(station, UNIT, "x-1", action_type=ActionType.PENALTY, party=PARTY, parties_count=1)
    decisions.propose(station, UNIT, "x-1", text="拟处理", fine_fen=None, measures=[])
    decisions.record_final(station, UNIT, "x-1", text="处理", document=f"{NAME}罚字1号", decided_on=date(2026, 2, 13))
    with pytest.raises(DecisionError, match=r"would show known personal value #1 .*identity and property data"):
        publishing.publish(station, UNIT, "x-1", mode=PublicationMode.SUMMARY, summary="罚款")


def test_a_minor_or_a_transfer_to_the_police_is_never_published_and_an_exclusion_needs_a_second_person(
    station: App,
) -> None:
    minor = replace(PARTY, minor=True)
    _decided(station, CASE, minor, on=date(2026, 2, 13))
    with pytest.raises(DecisionError, match=r"minor: 公示办法 art\. 10\(1\)"):
        publishing.publish(station, UNIT, CASE, mode=PublicationMode.SUMMARY, summary="罚款")
    with pytest.raises(Exception, match=r"cannot approve their own action|not an active user"):
        publishing.exclude(station, UNIT, CASE, ground=Exclusion.MINOR, reason="未成年", approved_by=UNIT.name)
    excluded = publishing.exclude(
        station, UNIT, CASE, ground=Exclusion.MINOR, reason="当事人未满十八周岁", approved_by=SECOND
    )
    assert (excluded.ground, excluded.approved_by, excluded.excluded_by) == (Exclusion.MINOR, SECOND, UNIT.name)
    rctx = retention_context(station)
    with station.catalog.read() as conn:
        assert decision_dues(conn, rctx.calendar, tz=rctx.tz, today=date(2026, 3, 9), due_soon_working_days=1) == []
    decisions.set_facts(station, UNIT, "x-2", action_type=ActionType.PENALTY, party=PARTY, parties_count=1)
    decisions.propose(station, UNIT, "x-2", text="移送", fine_fen=None, measures=[Measure.TRANSFER_POLICE])
    assert decisions.show(station, UNIT, "x-2", command="test").decision.major  # art. 7: a transfer is major


def test_publishing_needs_the_authority_named_in_the_configuration(evi: App) -> None:
    _decided(evi, CASE, PARTY, on=date(2026, 2, 13))
    with pytest.raises(DecisionError, match=r"publication\.authority is not set"):
        publishing.publish(evi, UNIT, CASE, mode=PublicationMode.SUMMARY, summary="罚款")


def test_redaction_and_the_leak_check_by_themselves() -> None:
    known = {"party_name": NAME, "party_id_number": ID_NUMBER, "party_phone": PHONE, "party_address": ADDRESS}
    raw = f"{NAME}（{ID_NUMBER}，{PHONE}）住{ADDRESS}，另一号码15900001234、身份证110101199003077777"
    cleaned = redact(raw, known)
    assert leaks(cleaned, known.values()) == []
    assert leaks(raw, known.values()) == [
        "known personal value #1",
        "known personal value #2",
        "known personal value #3",
        "known personal value #4",
        "ID number",
        "account number",  # 18 digits are also the shape of an account number
        "mobile number",
    ]


def test_the_feed_shows_what_is_published_drops_what_is_withdrawn_and_holds_nothing_personal(station: App) -> None:
    other = Party(PartyKind.INDIVIDUAL, OTHER_NAME, False, OTHER_ID, OTHER_PHONE, OTHER_ADDRESS)
    _decided(station, CASE, PARTY, on=date(2026, 2, 13), text=f"对{NAME}（{ID_NUMBER}，{PHONE}，{ADDRESS}）罚款")
    _decided(station, "武人社罚字[2026]20号", other, on=date(2026, 2, 12), text=f"对{OTHER_NAME}罚款，证人{WITNESS}")
    _decided(station, "武人社罚字[2026]21号", COMPANY, on=date(2026, 2, 11), text="对武汉某某劳务有限公司罚款")
    first = publishing.publish(station, UNIT, CASE, mode=PublicationMode.SUMMARY, summary=f"{NAME}罚款1000元")
    publishing.publish(station, UNIT, "武人社罚字[2026]20号", mode=PublicationMode.DOCUMENT, remove=[WITNESS])
    publishing.publish(station, UNIT, "武人社罚字[2026]21号", mode=PublicationMode.DOCUMENT)
    feed = station.settings.publication.feed_dir
    assert sorted(p.name for p in (feed / "items").iterdir()) == sorted(
        f"{first.id + n}.{kind}" for n in (0, 1, 2) for kind in ("html", "json")
    )
    withdrawn = publishing.withdraw(
        station, UNIT, first.id, document="(2026)鄂0102行初12号行政判决书", reason="判决撤销原行政处罚决定"
    )
    assert withdrawn.withdrawal_document == "(2026)鄂0102行初12号行政判决书"
    assert not (feed / "items" / f"{first.id}.html").exists()
    index = json.loads((feed / "index.json").read_text(encoding="utf-8"))
    assert [i["document"] for i in index["published"]] == ["决字武人社罚字[2026]20号", "决字武人社罚字[2026]21号"]
    assert index["withdrawn"][0]["basis"] == "(2026)鄂0102行初12号行政判决书"
    page = (feed / "index.html").read_text(encoding="utf-8")
    assert "市人社局行政执法结果公示" in page
    assert "已撤下的公示信息" in page
    assert "(2026)鄂0102行初12号行政判决书" in page
    with pytest.raises(DecisionError, match="withdrawn already"):
        publishing.withdraw(station, UNIT, first.id, document="x", reason="y")

    files = [p for p in feed.rglob("*") if p.is_file()]
    assert len(files) == 6  # index.html, index.json and two published decisions' pages
    for path in files:
        text = path.read_text(encoding="utf-8")
        readable = [text, html.unescape(text)]
        if path.suffix == ".json":
            readable.append(json.dumps(json.loads(text), ensure_ascii=False))
        for value in EVERYTHING_PERSONAL:
            assert not any(value in form for form in readable), f"{value!r} is in {path.relative_to(feed)}"


def test_the_deadlines_join_the_alerts_and_the_compliance_report(station: App) -> None:
    """Unpublished past 2 March: overdue in the alert check and in March's report; published late, it stays late."""
    _decided(station, CASE, PARTY, on=date(2026, 2, 13))
    rctx = retention_context(station)
    report = alerts.check(rctx, now=beijing("2026-03-04 10:00"))
    assert [(d.case_number, d.what, d.status, d.working_days) for d in report.decisions_due] == [
        (CASE, "publication", "overdue", 2)
    ]
    assert "1 legal review/publication deadline(s) due (1 overdue)" in report.summary(rctx)
    assert report.as_json(rctx)["counts"]["decisions_due"] == 1
    publishing.publish(
        station, UNIT, CASE, mode=PublicationMode.SUMMARY, summary="罚款", now=beijing("2026-03-04 11:00")
    )
    assert alerts.check(rctx, now=beijing("2026-03-05 10:00")).decisions_due == []
    march = compliance.report(rctx, now=beijing("2026-04-01 10:00"), month=(2026, 3))
    assert [(d.what, d.due, d.done_on, d.status) for d in march.decisions_due] == [
        ("publication", date(2026, 3, 2), date(2026, 3, 4), "late")
    ]
    assert march.as_json(rctx)["decisions_due"][0]["status"] == "late"
