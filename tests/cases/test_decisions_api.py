"""The decision, review and publication routes of /api/v1: the same steps as the CLI, as the caller named by a token."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidock.api.factory import create_app
from evidock.app import App
from evidock.keys import init_key
from evidock.settings import PublicationSettings, Settings
from tests.cases.helpers import CASE, ID_NUMBER, NAME, PHONE
from tests.conftest import add_person

pytestmark = pytest.mark.s3

POINTS = dict.fromkeys(
    ("complete", "competence", "jurisdiction", "facts", "procedure", "law", "documents", "crime"), "ok"
)


class Caller:
    def __init__(self, client: TestClient, name: str, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}", "X-Evidock-User": name}

    def get(self, url: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{url}", headers=self.headers, params=params)

    def post(self, url: str, body: Any = None) -> Any:
        return self.client.post(f"/api/v1{url}", headers=self.headers, json=body)


def test_a_major_penalty_through_the_api(evi: App, settings: Settings, tmp_path: Path) -> None:
    init_key(settings)
    app = replace(evi, settings=replace(settings, publication=PublicationSettings("市人社局", tmp_path / "feed")))
    client = TestClient(create_app(app), raise_server_exceptions=False)
    unit = Caller(client, "cheng.ban", add_person(settings, "cheng.ban", "custodian"))
    legal = Caller(client, "fa.zhi", add_person(settings, "fa.zhi", "legal"))
    facts = {"case_number": CASE, "action_type": "penalty", "party_name": NAME, "party_id_number": ID_NUMBER}
    assert unit.post("/decisions/facts", facts | {"party_phone": PHONE}).status_code == 200
    proposed = unit.post("/decisions/proposal", {"case_number": CASE, "text": "拟罚款", "fine_fen": 600_000})
    assert proposed.json()["major_grounds"][0]["ground"] == "art6_fine"
    refused = unit.post(
        "/decisions/final", {"case_number": CASE, "text": "罚款", "document": "决1", "decided_on": "2026-11-20"}
    )
    assert refused.status_code == 400
    assert "重大行政执法决定" in refused.json()["detail"]
    submitted = unit.post(
        "/reviews",
        {
            "case_number": CASE,
            "proposal": "建议罚款6000元",
            "legal_basis": "条例第二十六条",
            "documents": [{"title": "询问笔录", "sha256": "e" * 64, "size": 9}],
        },
    )
    assert submitted.status_code == 200, submitted.text
    review = submitted.json()["id"]
    assert unit.post(f"/reviews/{review}/check", {"complete": True}).status_code == 403  # the unit does not review
    checked = legal.post(f"/reviews/{review}/check", {"complete": True})
    assert checked.json()["state"] == "in_review"
    shown = legal.get(f"/reviews/{review}", reason="法制审核")
    assert shown.status_code == 200
    assert shown.json()["access_entry"] > 0
    bad = legal.post(f"/reviews/{review}/opinion", {"points": POINTS, "opinion": "agree", "reasons": "事实清楚"})
    assert bad.status_code == 400
    assert "other" in bad.json()["detail"]
    given = legal.post(
        f"/reviews/{review}/opinion", {"points": POINTS | {"other": "na"}, "opinion": "agree", "reasons": "事实清楚"}
    )
    assert given.status_code == 200, given.text
    pdf = legal.get(f"/review-opinions/{given.json()['entry']}/pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF-")
    final = unit.post(
        "/decisions/final",
        {"case_number": CASE, "text": f"对{NAME}罚款", "document": "决1", "decided_on": "2026-11-20"},
    )
    assert final.json()["final"]["review"] == review
    published = unit.post("/publications", {"case_number": CASE, "mode": "summary", "summary": f"{NAME}罚款6000元"})
    assert published.json()["content"]["party"] == "张某"
    assert unit.get("/decisions/due").json()["due"] == []
    withdrawn = unit.post(
        f"/publications/{published.json()['id']}/withdrawal", {"document": "判决书", "reason": "撤销"}
    )
    assert withdrawn.json()["withdrawal_document"] == "判决书"
    steps = unit.get("/decisions", case=CASE).json()["steps"]
    assert [s["action"] for s in steps] == [
        "facts",
        "propose",
        "submit",
        "check",
        "opinion",
        "final",
        "publish",
        "withdraw",
    ]
