"""A case's decision (行政执法决定): its kind and party, the proposed decision, the major flag, the final decision.

One ``case_decisions`` row per case number (案号), written in the transaction
of the DECISION entry that changes it. The steps, each an entry whose
``action`` names it:

* ``facts``: the kind of action (执法类别), the party (当事人: kind, minor or
  not, name, ID number, phone, address) and the number of parties concerned;
* ``propose``: the proposed decision (拟作出的决定) with its fine and measures;
  the major-decision rules (``cases.major``) run on it and the entry says
  whether it is major and on which grounds;
* ``mark-major``: a person judges the case major (本局认为属于重大), with why;
* ``final``: the decision as made (text, 决定书文号, decision date), refused for
  a major case until the legal review of the current proposal is completed
  (法制审核办法 art. 4, 11; ``cases.review``).

Every entry carries the major flag and its grounds as they stand after the
step, so the row is a replay of the entries. The party's personal data and
the decision texts are committed in the entries (``Journal.append(personal=)``);
the catalog keeps them in clear for the people who handle the case.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from cases.deadlines import WorkingDays, publish_due
from cases.errors import DecisionError, ReviewRequired
from cases.major import Ground, Proposal, grounds, measures_allowed
from cases.terms import ActionType, Measure, PartyKind, ReviewState
from chain.entries import EntryType, JsonValue
from storage.journal import Journal
from storage.rows import from_row
from storage.schema import CASE_NUMBER_LENGTH, DOCUMENT_LENGTH, PERSON_LENGTH, case_decisions, legal_reviews

TEXT_LENGTH = 20_000  # characters of a decision text, a proposal or an opinion's reasons
MAX_PARTIES = 1_000_000  # parties concerned; more is a typing mistake
MAX_FINE_FEN = 10**15  # fen (ten trillion yuan); more is a typing mistake, and entries hold integers below 2^53


@dataclass(frozen=True)
class Party:
    """The party a decision is addressed to (当事人)."""

    kind: PartyKind
    name: str
    minor: bool = False
    id_number: str | None = None  # 身份证号, or an organisation's 统一社会信用代码
    phone: str | None = None
    address: str | None = None

    def personal(self) -> dict[str, str]:
        """The values a publication must never show (公示办法 art. 9: identity data)."""
        found = {"party_name": self.name}
        for key, value in (("party_id_number", self.id_number), ("party_phone", self.phone)):
            if value:
                found[key] = value
        if self.address:
            found["party_address"] = self.address
        return found


@dataclass(frozen=True)
class CaseDecision:
    case_number: str  # 案号
    action_type: ActionType
    party: Party
    parties_count: int
    proposed_text: str | None
    proposed_fine_fen: int | None
    proposed_measures: tuple[Measure, ...]
    proposed_at: datetime | None
    proposed_by: str | None
    proposed_entry: int | None
    major: bool
    major_grounds: tuple[Ground, ...]
    marked_major_by: str | None
    marked_major_reason: str | None
    final_text: str | None
    final_document: str | None  # 决定书文号
    final_on: date | None
    final_at: datetime | None
    final_by: str | None
    final_review: int | None
    publish_due_on: date | None
    opened_at: datetime
    updated_at: datetime
    updated_by: str

    @property
    def final(self) -> bool:
        return self.final_on is not None

    def proposal(self, *, fine_fen: int | None, measures: Collection[Measure]) -> Proposal:
        return Proposal(self.action_type, self.party.kind, self.parties_count, fine_fen, frozenset(measures))

    def as_json(self, *, personal: bool = True) -> dict[str, Any]:
        """The row for `case show --json` and the API; ``personal=False`` leaves the party's data and texts out."""

        def day(value: date | None) -> str | None:
            return value.isoformat() if value else None

        def moment(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        party: dict[str, Any] = {"kind": self.party.kind.value, "minor": self.party.minor}
        if personal:
            party |= {
                "name": self.party.name,
                "id_number": self.party.id_number,
                "phone": self.party.phone,
                "address": self.party.address,
            }
        return {
            "case_number": self.case_number,
            "action_type": self.action_type.value,
            "action_type_zh": self.action_type.zh,
            "party": party,
            "parties_count": self.parties_count,
            "proposed": None
            if self.proposed_entry is None
            else {
                "text": self.proposed_text if personal else None,
                "fine_fen": self.proposed_fine_fen,
                "measures": [m.value for m in self.proposed_measures],
                "at": moment(self.proposed_at),
                "by": self.proposed_by,
                "entry": self.proposed_entry,
            },
            "major": self.major,
            "major_grounds": [{"ground": g.value, "article": g.article, "zh": g.zh} for g in self.major_grounds],
            "marked_major_by": self.marked_major_by,
            "marked_major_reason": self.marked_major_reason,
            "final": None
            if self.final_on is None
            else {
                "text": self.final_text if personal else None,
                "document": self.final_document,
                "decided_on": day(self.final_on),
                "at": moment(self.final_at),
                "by": self.final_by,
                "review": self.final_review,
                "publish_due_on": day(self.publish_due_on),
            },
            "opened_at": moment(self.opened_at),
            "updated_at": moment(self.updated_at),
            "updated_by": self.updated_by,
        }


def _decision(row: Any) -> CaseDecision:
    party = Party(
        PartyKind(row.party_kind),
        row.party_name,
        bool(row.party_minor),
        row.party_id_number,
        row.party_phone,
        row.party_address,
    )
    return from_row(
        CaseDecision,
        row,
        action_type=ActionType(row.action_type),
        party=party,
        proposed_measures=tuple(Measure(m) for m in row.proposed_measures or ()),
        major=bool(row.major),
        major_grounds=tuple(Ground(g) for g in row.major_grounds),
    )


def get_decision(conn: Connection, case_number: str) -> CaseDecision | None:
    row = conn.execute(select(case_decisions).where(case_decisions.c.case_number == case_number)).first()
    return _decision(row) if row else None


def require_decision(conn: Connection, case_number: str) -> CaseDecision:
    found = get_decision(conn, case_number)
    if found is None:
        raise DecisionError(
            f"case {case_number} (案号) has no decision record: run `evidock case decision facts` first"
        )
    return found


def all_decisions(conn: Connection) -> list[CaseDecision]:
    return [_decision(r) for r in conn.execute(select(case_decisions).order_by(case_decisions.c.case_number))]


def completed_review(conn: Connection, case_number: str, proposal_entry: int) -> int | None:
    """The completed legal review of this proposal of the case, if any: what a major final decision rests on."""
    found = conn.execute(
        select(legal_reviews.c.id)
        .where(
            legal_reviews.c.case_number == case_number,
            legal_reviews.c.proposal_entry == proposal_entry,
            legal_reviews.c.state == ReviewState.DONE.value,
        )
        .order_by(legal_reviews.c.id.desc())
    ).first()
    return int(found[0]) if found else None


# -- input --------------------------------------------------------------------------------------------


def text(what: str, value: str | None, *, limit: int, required: bool = True) -> str | None:
    """Trimmed text; refused when empty (if required), too long, or holding control characters other than newlines."""
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise DecisionError(f"{what} is empty; give it in words")
        return None
    if len(cleaned) > limit:
        raise DecisionError(f"{what} is {len(cleaned)} characters long; at most {limit} are kept")
    bad = next((c for c in cleaned if (ord(c) < 32 and c not in "\n\t") or ord(c) == 127), None)
    if bad is not None:
        raise DecisionError(f"{what} contains the control character U+{ord(bad):04X}; remove it")
    return cleaned


def one_line(what: str, value: str | None, *, limit: int = PERSON_LENGTH, required: bool = True) -> str | None:
    found = text(what, value, limit=limit, required=required)
    if found is not None and ("\n" in found or "\t" in found):
        raise DecisionError(f"{what} must be one line")
    return found


def case_number_of(value: str) -> str:
    found = one_line("case number (案号)", value, limit=CASE_NUMBER_LENGTH)
    assert found is not None  # noqa: S101 - required=True never returns None
    return found


# -- the steps ----------------------------------------------------------------------------------------


def _append(
    conn: Connection,
    journal: Journal,
    case_number: str,
    action: str,
    *,
    by: str,
    time: datetime,
    body: dict[str, JsonValue],
    personal: dict[str, str] | None = None,
) -> int:
    full: dict[str, JsonValue] = {"case_number": case_number, "action": action, "by": by, **body}
    return journal.append(conn, EntryType.DECISION, recording=None, body=full, time=time, personal=personal)


def _major_body(major: tuple[Ground, ...]) -> dict[str, JsonValue]:
    return {"major": bool(major), "major_grounds": [g.value for g in major]}


def set_facts(
    conn: Connection,
    journal: Journal,
    *,
    case_number: str,
    action_type: ActionType,
    party: Party,
    parties_count: int,
    by: str,
    time: datetime,
) -> CaseDecision:
    """Record (or correct) the case's kind and party; a DECISION ``facts`` entry.

    A correction after the proposal re-runs the major rules on it (the party's
    kind changes the fine threshold, the number of parties may cross 10).
    Refused once the final decision is recorded: the facts it rests on stay.
    """
    case_number = case_number_of(case_number)
    if not 1 <= parties_count <= MAX_PARTIES:
        raise DecisionError(f"--parties {parties_count}: give the number of parties concerned, 1 or more")
    before = get_decision(conn, case_number)
    if before is not None and before.final:
        raise DecisionError(f"case {case_number} has its final decision ({before.final_document}); its facts stay")
    major: tuple[Ground, ...] = ()
    if before is not None and before.proposed_entry is not None:
        problems = measures_allowed(action_type, before.proposed_measures)
        if problems:
            raise DecisionError(f"the proposal of case {case_number} does not fit a {action_type.value}: {problems[0]}")
        proposal = Proposal(
            action_type, party.kind, parties_count, before.proposed_fine_fen, frozenset(before.proposed_measures)
        )
        major = grounds(proposal, marked=before.marked_major_by is not None)
    elif before is not None and before.marked_major_by is not None:
        major = (Ground.MARKED,)
    body: dict[str, JsonValue] = {
        "action_type": action_type.value,
        "party_kind": party.kind.value,
        "party_minor": party.minor,
        "parties_count": parties_count,
        **_major_body(major),
    }
    _append(conn, journal, case_number, "facts", by=by, time=time, body=body, personal=party.personal())
    stamped = time.replace(microsecond=0)
    values = {
        "action_type": action_type.value,
        "party_kind": party.kind.value,
        "party_minor": party.minor,
        "party_name": party.name,
        "party_id_number": party.id_number,
        "party_phone": party.phone,
        "party_address": party.address,
        "parties_count": parties_count,
        "major": bool(major),
        "major_grounds": [g.value for g in major],
        "updated_at": stamped,
        "updated_by": by,
    }
    if before is None:
        conn.execute(insert(case_decisions).values(case_number=case_number, opened_at=stamped, **values))
    else:
        conn.execute(update(case_decisions).where(case_decisions.c.case_number == case_number).values(**values))
    return require_decision(conn, case_number)


def propose(
    conn: Connection,
    journal: Journal,
    *,
    case_number: str,
    text_: str,
    fine_fen: int | None,
    measures: Collection[Measure],
    by: str,
    time: datetime,
) -> CaseDecision:
    """Record the proposed decision (拟作出的决定) and flag it major by art. 5-7 and 14; a ``propose`` entry.

    A new proposal replaces the earlier one: a review of the earlier one no
    longer counts for the final decision (``cases.review``).
    """
    case_number = case_number_of(case_number)
    before = require_decision(conn, case_number)
    if before.final:
        raise DecisionError(f"case {case_number} has its final decision ({before.final_document}); propose no more")
    wording = text("the proposed decision (拟作出的决定)", text_, limit=TEXT_LENGTH)
    assert wording is not None  # noqa: S101 - required
    if fine_fen is not None and not 0 <= fine_fen <= MAX_FINE_FEN:
        raise DecisionError(f"a fine of {fine_fen} fen is not possible: give 0 to {MAX_FINE_FEN // 100:,} yuan")
    chosen = frozenset(measures)
    problems = measures_allowed(before.action_type, chosen)
    if problems:
        raise DecisionError("; ".join(problems))
    major = grounds(before.proposal(fine_fen=fine_fen, measures=chosen), marked=before.marked_major_by is not None)
    ordered = sorted(m.value for m in chosen)
    body: dict[str, JsonValue] = {"fine_fen": fine_fen, "measures": list(ordered), **_major_body(major)}
    index = _append(conn, journal, case_number, "propose", by=by, time=time, body=body, personal={"text": wording})
    stamped = time.replace(microsecond=0)
    conn.execute(
        update(case_decisions)
        .where(case_decisions.c.case_number == case_number)
        .values(
            proposed_text=wording,
            proposed_fine_fen=fine_fen,
            proposed_measures=ordered,
            proposed_at=stamped,
            proposed_by=by,
            proposed_entry=index,
            major=bool(major),
            major_grounds=[g.value for g in major],
            updated_at=stamped,
            updated_by=by,
        )
    )
    return require_decision(conn, case_number)


def mark_major(
    conn: Connection, journal: Journal, *, case_number: str, reason: str, by: str, time: datetime
) -> CaseDecision:
    """A person judges the case major (本局认为属于重大, art. 5(3), 6(5)); a ``mark-major`` entry. Never unmarked."""
    case_number = case_number_of(case_number)
    before = require_decision(conn, case_number)
    if before.final:
        raise DecisionError(f"case {case_number} has its final decision ({before.final_document})")
    if before.marked_major_by is not None:
        raise DecisionError(f"case {case_number} was marked major already by {before.marked_major_by}")
    why = one_line("the reason (理由)", reason, limit=2000)
    assert why is not None  # noqa: S101 - required
    major = (*[g for g in before.major_grounds if g is not Ground.MARKED], Ground.MARKED)
    _append(conn, journal, case_number, "mark-major", by=by, time=time, body={"reason": why, **_major_body(major)})
    stamped = time.replace(microsecond=0)
    conn.execute(
        update(case_decisions)
        .where(case_decisions.c.case_number == case_number)
        .values(
            major=True,
            major_grounds=[g.value for g in major],
            marked_major_by=by,
            marked_major_reason=why,
            updated_at=stamped,
            updated_by=by,
        )
    )
    return require_decision(conn, case_number)


def record_final(
    conn: Connection,
    journal: Journal,
    *,
    case_number: str,
    text_: str,
    document: str,
    decided_on: date,
    working_days: WorkingDays,
    by: str,
    time: datetime,
) -> CaseDecision:
    """Record the decision as made; a ``final`` entry. Once only.

    A major case must have a completed legal review of its current proposal
    (``cases.review``); the entry names it. The entry and the row carry the
    last day to publish the decision (公示办法 art. 9).
    """
    case_number = case_number_of(case_number)
    before = require_decision(conn, case_number)
    if before.final:
        raise DecisionError(
            f"case {case_number} has its final decision already ({before.final_document}, {before.final_on}); "
            "a decision revoked or changed later is withdrawn from publication (`evidock case publish withdraw`)"
        )
    if before.proposed_entry is None:
        raise DecisionError(f"case {case_number} has no proposed decision: `evidock case decision propose` first")
    review = completed_review(conn, case_number, before.proposed_entry)
    if before.major and review is None:
        grounds_text = ", ".join(f"{g.value} ({g.article})" for g in before.major_grounds)
        raise ReviewRequired(
            f"case {case_number} is a major decision (重大行政执法决定: {grounds_text}); it may not be made before "
            "the legal review (法制审核) of the current proposal is completed (法制审核办法 art. 4, 11): "
            "`evidock case review submit` and wait for the opinion"
        )
    wording = text("the decision (执法决定)", text_, limit=TEXT_LENGTH)
    number = one_line("the decision document number (决定书文号)", document, limit=DOCUMENT_LENGTH)
    assert wording is not None  # noqa: S101 - required
    assert number is not None  # noqa: S101 - required
    publish_due_on = publish_due(before.action_type, decided_on, working_days)
    body: dict[str, JsonValue] = {
        "document": number,
        "decided_on": decided_on.isoformat(),
        "review": review,
        "publish_due_on": publish_due_on.isoformat(),
        **_major_body(before.major_grounds),
    }
    _append(conn, journal, case_number, "final", by=by, time=time, body=body, personal={"text": wording})
    stamped = time.replace(microsecond=0)
    conn.execute(
        update(case_decisions)
        .where(case_decisions.c.case_number == case_number)
        .values(
            final_text=wording,
            final_document=number,
            final_on=decided_on,
            final_at=stamped,
            final_by=by,
            final_review=review,
            publish_due_on=publish_due_on,
            updated_at=stamped,
            updated_by=by,
        )
    )
    return require_decision(conn, case_number)
