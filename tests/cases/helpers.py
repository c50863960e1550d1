"""What the decision tests share: the two sides, a penalty case's party, Beijing times, the projection check."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from access.people import Person, Role
from cases.decisions import Party
from cases.terms import PartyKind
from evidock.app import App
from retention.deadlines import SHANGHAI
from storage.projection import differences, replay_log
from storage.schema import log_entries

CASE = "武人社罚字[2026]12号"
UNIT = Person("cheng.ban", Role.CUSTODIAN)  # the handling unit (承办)
REVIEWER = Person("fa.zhi", Role.LEGAL)  # the legal review body (法制审核机构)

# The personal data a test case holds; none of it may reach a publication or the log in clear.
NAME = "张三丰"
ID_NUMBER = "420102199001011234"
PHONE = "13812345678"
ADDRESS = "武汉市江岸区解放大道1000号"
PERSONAL = (NAME, ID_NUMBER, PHONE, ADDRESS)
PARTY = Party(PartyKind.INDIVIDUAL, NAME, False, ID_NUMBER, PHONE, ADDRESS)


def beijing(text: str) -> datetime:
    """An aware UTC time from a Beijing wall-clock time such as ``2026-09-30 10:00``."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def log_bytes(evi: App) -> bytes:
    with evi.catalog.read() as conn:
        return b"".join(bytes(d) for d in conn.execute(select(log_entries.c.data)).scalars())


def projection_problems(evi: App) -> list[str]:
    """What ``evidock verify`` would say of the catalog against the log (the projection part)."""
    with evi.catalog.read() as conn:
        return [d.message for d in differences(conn, replay_log(conn))]
