"""A case's decision acted on by an authenticated person: facts, proposal, major flag, final decision.

`evidock case decision ...`, the API and the web pages call these, so all of
them check the same permission (``Permission.DECIDE``: the handling unit,
承办) and write the same DECISION entries naming that person. Reading a
decision (it names the party) is a query on the record like any other.
``now`` defaults to the clock; tests pass it to work through dates.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from access.people import Permission, Person
from cases import decisions as decisions_db
from cases.deadlines import WorkingDays
from cases.decisions import CaseDecision, Party
from cases.errors import DecisionError
from cases.history import Step, case_steps
from cases.terms import ActionType, Measure
from evidock.app import App, working_calendar
from evidock.recording_reads import NO_REASON


def working_days(evi: App) -> WorkingDays:
    """The working-day calendar (调休 included, config overrides) as the ``cases`` rules take it."""
    calendar = working_calendar(evi.settings)
    return lambda start, count: calendar.add_working_days(start, count).day


def local_today(evi: App, now: datetime) -> date:
    return now.astimezone(evi.settings.timezone).date()


def set_facts(
    evi: App,
    person: Person,
    case_number: str,
    *,
    action_type: ActionType,
    party: Party,
    parties_count: int,
    now: datetime | None = None,
) -> CaseDecision:
    person.require(Permission.DECIDE)
    name = decisions_db.one_line("the party's name (当事人)", party.name)
    checked = Party(
        party.kind,
        name or "",
        party.minor,
        decisions_db.one_line("the ID number (身份证号/统一社会信用代码)", party.id_number, limit=64, required=False),
        decisions_db.one_line("the phone number", party.phone, limit=64, required=False),
        decisions_db.one_line("the address", party.address, limit=500, required=False),
    )
    with evi.catalog.begin() as conn:
        return decisions_db.set_facts(
            conn,
            evi.journal,
            case_number=case_number,
            action_type=action_type,
            party=checked,
            parties_count=parties_count,
            by=person.name,
            time=now or evi.now(),
        )


def propose(
    evi: App,
    person: Person,
    case_number: str,
    *,
    text: str,
    fine_fen: int | None,
    measures: Collection[Measure],
    now: datetime | None = None,
) -> CaseDecision:
    person.require(Permission.DECIDE)
    with evi.catalog.begin() as conn:
        return decisions_db.propose(
            conn,
            evi.journal,
            case_number=case_number,
            text_=text,
            fine_fen=fine_fen,
            measures=measures,
            by=person.name,
            time=now or evi.now(),
        )


def mark_major(evi: App, person: Person, case_number: str, *, reason: str, now: datetime | None = None) -> CaseDecision:
    person.require(Permission.DECIDE)
    with evi.catalog.begin() as conn:
        return decisions_db.mark_major(
            conn, evi.journal, case_number=case_number, reason=reason, by=person.name, time=now or evi.now()
        )


def record_final(
    evi: App,
    person: Person,
    case_number: str,
    *,
    text: str,
    document: str,
    decided_on: date,
    now: datetime | None = None,
) -> CaseDecision:
    """The decision as made; refused for a major case without a completed review of its current proposal."""
    person.require(Permission.DECIDE)
    moment = now or evi.now()
    today = local_today(evi, moment)
    if decided_on > today:
        raise DecisionError(f"--date {decided_on} is in the future (today is {today} in {evi.settings.timezone})")
    with evi.catalog.begin() as conn:
        return decisions_db.record_final(
            conn,
            evi.journal,
            case_number=case_number,
            text_=text,
            document=document,
            decided_on=decided_on,
            working_days=working_days(evi),
            by=person.name,
            time=moment,
        )


@dataclass(frozen=True)
class CaseView:
    """What `case show` shows: the decision row and every step the log holds, and the read's own entry."""

    decision: CaseDecision
    steps: list[Step]
    entry: int  # the QUERY entry that registered this read

    def as_json(self) -> dict[str, Any]:
        return {
            "access_entry": self.entry,
            **self.decision.as_json(),
            "steps": [s.as_json() for s in self.steps],
        }


def show(evi: App, person: Person, case_number: str, *, reason: str = NO_REASON, command: str) -> CaseView:
    """A case's decision, review and publication (they name the party): registered as a query first."""
    case_number = decisions_db.case_number_of(case_number)
    entry = evi.gate().record_query(person, command=command, query={"case": case_number}, reason=reason)
    with evi.catalog.read() as conn:
        found = decisions_db.require_decision(conn, case_number)
        steps = case_steps(conn, case_number)
    return CaseView(found, steps, entry)
