"""The decision pages: the legal role checks and gives its opinion, the unit publishes and withdraws, in both languages.

The pages call the same functions as the CLI; each read of a case is an ACCESS
entry before the page, each form a REVIEW or PUBLICATION entry naming the
logged-in person, and the dashboard shows what is due.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest

from access.people import Person, Role, add_user, hash_password
from cases.terms import ActionType
from chain.entries import EntryType
from evidock import decisions, legal_review
from evidock.app import App
from evidock.keys import init_key
from evidock.settings import PublicationSettings
from tests.cases.helpers import CASE, NAME, PARTY, UNIT, beijing
from tests.web.helpers import client, csrf_of, entries_after, last_index, log_in

pytestmark = pytest.mark.s3

PASSWORD = "correct horse battery"  # noqa: S105 - a test user's password
UNTRANSLATED = re.compile("⟦[^⟧]*⟧")


@pytest.fixture
def station(evi: App, tmp_path: Path) -> App:
    init_key(evi.settings)
    admin = Person("(test)", Role.ADMIN)
    with evi.catalog.begin() as conn:
        for name, role in ((UNIT.name, Role.CUSTODIAN), ("fa.zhi", Role.LEGAL), ("zhao.liu", Role.CUSTODIAN)):
            add_user(
                conn, journal=evi.journal, actor=admin, name=name, role=role,
                password_hash=hash_password(PASSWORD), time=evi.now(),
            )  # fmt: skip
    return replace(evi, settings=replace(evi.settings, publication=PublicationSettings("市人社局", tmp_path / "feed")))


def test_review_and_publication_on_the_pages(station: App) -> None:
    decisions.set_facts(station, UNIT, CASE, action_type=ActionType.PENALTY, party=PARTY, parties_count=1)
    decisions.propose(station, UNIT, CASE, text=f"拟对{NAME}罚款6000元", fine_fen=6_000_00, measures=[])
    review = legal_review.submit(
        station, UNIT, CASE, proposal="建议罚款", legal_basis="条例", documents=[], other_evidence=None,
        now=beijing("2026-11-20 09:00"),
    ).id  # fmt: skip
    page_of_case = f"/decisions/case?case={quote(CASE, safe='')}"

    legal = client(station)
    log_in(legal, "fa.zhi", PASSWORD)
    for lang in ("en", "zh"):
        legal.get(f"/lang/{lang}")
        listing = legal.get("/decisions")
        assert listing.status_code == 200
        assert CASE in listing.text
        assert NAME not in listing.text  # the list names no party
        assert UNTRANSLATED.findall(listing.text) == []
        before = last_index(station)
        case_page = legal.get(page_of_case)
        assert case_page.status_code == 200
        assert UNTRANSLATED.findall(case_page.text) == []
        assert NAME in case_page.text  # the case page does, after its read is logged:
        (read,) = [e for _, e in entries_after(station, before) if e.type is EntryType.ACCESS]
        assert (read.body["actor"], read.body["command"]) == ("fa.zhi", "web decisions/case")
    assert "材料完备" in case_page.text
    token = csrf_of(case_page.text)
    checked = legal.post(f"/decisions/review/{review}/check", data={"complete": "1", "csrf": token})
    assert checked.status_code == 303
    form = legal.get(checked.headers["location"]).text
    assert "审查结果已记录" in form
    assert "出具审核意见" in form
    points = {f"point_{p}": "ok" for p in ("complete", "competence", "jurisdiction", "facts", "procedure", "law")}
    points |= {"point_documents": "ok", "point_crime": "ok", "point_other": "na"}
    given = legal.post(
        f"/decisions/review/{review}/opinion",
        data={**points, "opinion": "agree", "reasons": "事实清楚", "csrf": csrf_of(form)},
    )
    assert given.status_code == 303
    opinion_page = legal.get(given.headers["location"]).text
    (pdf_link,) = re.findall(r'href="(/decisions/opinion/[0-9]+\.pdf)"', opinion_page)
    printed = legal.get(pdf_link)
    assert printed.status_code == 200
    assert printed.content.startswith(b"%PDF-")

    decisions.record_final(
        station, UNIT, CASE, text=f"对{NAME}罚款6000元", document="决1", decided_on=date(2026, 11, 20)
    )
    unit = client(station)
    log_in(unit, UNIT.name, PASSWORD)
    dashboard = unit.get("/").text
    assert "审核与公示期限" in dashboard
    page = unit.get(page_of_case).text
    published = unit.post(
        "/decisions/publish",
        data={"case": CASE, "mode": "summary", "summary": f"{NAME}罚款6000元", "csrf": csrf_of(page)},
    )
    assert published.status_code == 303, published.text[:500]
    page = unit.get(published.headers["location"]).text
    assert "已公示" in page
    assert "张某罚款6000元" in page
    (publication,) = re.findall(r'action="/decisions/publication/([0-9]+)/withdraw"', page)
    withdrawn = unit.post(
        f"/decisions/publication/{publication}/withdraw",
        data={"document": "(2026)鄂0102行初12号", "reason": "判决撤销", "csrf": csrf_of(page)},
    )
    assert withdrawn.status_code == 303
    assert "已撤下" in unit.get(withdrawn.headers["location"]).text
    forged = {"document": "x", "reason": "y", "csrf": csrf_of(opinion_page)}
    refused = legal.post(f"/decisions/publication/{publication}/withdraw", data=forged)
    assert refused.status_code == 403
