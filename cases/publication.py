"""Publication of decisions (公示, 公示办法 art. 9-10), one PUBLICATION entry per step.

* ``publish``: the final decision within 7 working days (permits, penalties)
  or 20 (other results) of its date, as the decision document with property
  and identity data removed, or as a summary (actor, kind of action, party with
  an individual's real name hidden, decision, document number, date). The
  entry holds the published content itself, in clear: it is public, and
  :func:`cases.redaction.leaks` found nothing personal in it, or it was refused.
* ``exclude``: a ground of art. 10 (a minor, secrets or privacy, safety, an
  ongoing investigation, a transfer to the police, another law), with the
  reason (committed) and a second person's approval: the decision is then not
  published and not due.
* ``withdraw`` (撤下, art. 9 para. 3): a published decision revoked, confirmed
  illegal or void, or changed after review or litigation is taken out of the
  feed, naming the judgment or review decision (生效的裁判文书) that did it.

A party who is a minor, or a decision that transfers the case to the police,
is never published: art. 10(1) and (5) apply, and the step says so.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from cases.decisions import CaseDecision, one_line, require_decision, text
from cases.errors import DecisionError
from cases.redaction import hidden_name, leaks, redact
from cases.terms import Exclusion, Measure, PartyKind, PublicationMode
from chain.entries import EntryType, JsonValue
from storage.journal import Journal
from storage.rows import from_row
from storage.schema import DOCUMENT_LENGTH, publication_exclusions, publications

SUMMARY_LENGTH = 2000  # characters of a summary's decision (执法决定)


@dataclass(frozen=True)
class Publication:
    id: int
    case_number: str
    mode: PublicationMode
    document: str
    decided_on: date
    due_on: date
    published_at: datetime
    published_by: str
    content: dict[str, Any]
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdrawal_document: str | None
    withdrawal_reason: str | None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_number": self.case_number,
            "mode": self.mode.value,
            "document": self.document,
            "decided_on": self.decided_on.isoformat(),
            "due_on": self.due_on.isoformat(),
            "published_at": self.published_at.isoformat(),
            "published_by": self.published_by,
            "content": self.content,
            "withdrawn_at": self.withdrawn_at.isoformat() if self.withdrawn_at else None,
            "withdrawn_by": self.withdrawn_by,
            "withdrawal_document": self.withdrawal_document,
            "withdrawal_reason": self.withdrawal_reason,
        }


@dataclass(frozen=True)
class ExclusionRecord:
    entry: int
    case_number: str
    ground: Exclusion
    reason: str
    excluded_by: str
    approved_by: str
    excluded_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "case_number": self.case_number,
            "ground": self.ground.value,
            "ground_zh": self.ground.zh,
            "reason": self.reason,
            "excluded_by": self.excluded_by,
            "approved_by": self.approved_by,
            "excluded_at": self.excluded_at.isoformat(),
        }


def _publication(row: Any) -> Publication:
    return from_row(Publication, row, mode=PublicationMode(row.mode), content=dict(row.content))


def _exclusion(row: Any) -> ExclusionRecord:
    return from_row(ExclusionRecord, row, ground=Exclusion(row.ground))


def all_publications(conn: Connection, *, active_only: bool = False) -> list[Publication]:
    query = select(publications).order_by(publications.c.id)
    if active_only:
        query = query.where(publications.c.withdrawn_at.is_(None))
    return [_publication(r) for r in conn.execute(query)]


def publications_of_case(conn: Connection, case_number: str) -> list[Publication]:
    rows = conn.execute(
        select(publications).where(publications.c.case_number == case_number).order_by(publications.c.id)
    )
    return [_publication(r) for r in rows]


def get_publication(conn: Connection, publication_id: int) -> Publication:
    row = conn.execute(select(publications).where(publications.c.id == publication_id)).first()
    if row is None:
        raise DecisionError(f"no publication {publication_id}: `evidock case show 案号` lists a case's publications")
    return _publication(row)


def exclusions_of_case(conn: Connection, case_number: str) -> list[ExclusionRecord]:
    rows = conn.execute(
        select(publication_exclusions)
        .where(publication_exclusions.c.case_number == case_number)
        .order_by(publication_exclusions.c.entry)
    )
    return [_exclusion(r) for r in rows]


def all_exclusions(conn: Connection) -> list[ExclusionRecord]:
    rows = conn.execute(select(publication_exclusions).order_by(publication_exclusions.c.entry))
    return [_exclusion(r) for r in rows]


# -- what is published ----------------------------------------------------------------------------------


def shown_party(decision: CaseDecision) -> str:
    """The party as published: an individual's real name hidden (张某), an organisation by its name."""
    if decision.party.kind is PartyKind.INDIVIDUAL:
        return hidden_name(decision.party.name)
    return decision.party.name


def _private(decision: CaseDecision) -> dict[str, str]:
    """The party's values no publication may show (an organisation's name is public; its other data is not)."""
    values = decision.party.personal()
    if decision.party.kind is PartyKind.ORGANISATION:
        values.pop("party_name")
    return values


def content_of(
    decision: CaseDecision,
    *,
    mode: PublicationMode,
    authority: str,
    summary: str | None,
    remove: Sequence[str],
) -> dict[str, JsonValue]:
    """What the feed shows of a final decision (公示办法 art. 9, para. 2), before the leak check."""
    assert decision.final_on is not None  # noqa: S101 - callers publish final decisions only
    base: dict[str, JsonValue] = {
        "authority": authority,  # 执法主体
        "action_type": decision.action_type.zh,  # 执法类别
        "party": shown_party(decision),  # 执法对象
        "document": decision.final_document,  # 决定书文号
        "decided_on": decision.final_on.isoformat(),  # 决定日期
        "mode": mode.value,
    }
    if mode is PublicationMode.SUMMARY:
        wording = text("the decision as summarised (执法决定)", summary, limit=SUMMARY_LENGTH)
        return base | {"decision": redact(wording or "", _private(decision), extra=remove)}
    if summary:
        raise DecisionError("--summary belongs to a summary (--mode summary); a document publishes the decision text")
    return base | {"text": redact(decision.final_text or "", _private(decision), extra=remove)}


def publishable(conn: Connection, decision: CaseDecision) -> None:
    """Refuse what art. 10 excludes or what is not final; nothing is written."""
    number = decision.case_number
    if not decision.final:
        raise DecisionError(f"case {number} has no final decision to publish: `evidock case decision final` first")
    if decision.party.minor:
        raise DecisionError(
            f"the party of case {number} is a minor: 公示办法 art. 10(1) excludes the decision from publication; "
            "record it with `evidock case publish exclude --ground minor`"
        )
    if {Measure.TRANSFER_POLICE} & set(decision.proposed_measures):
        raise DecisionError(
            f"case {number} was transferred to the police: 公示办法 art. 10(5) excludes it; "
            "record it with `evidock case publish exclude --ground police`"
        )
    excluded = exclusions_of_case(conn, number)
    if excluded:
        raise DecisionError(
            f"case {number} is excluded from publication ({excluded[0].ground.value}: {excluded[0].ground.zh}, "
            f"art. 10, entry {excluded[0].entry})"
        )
    if any(p.active for p in publications_of_case(conn, number)):
        raise DecisionError(f"case {number} is published already; withdraw it first to publish a corrected one")


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
    return journal.append(conn, EntryType.PUBLICATION, recording=None, body=full, time=time, personal=personal)


def publish(
    conn: Connection,
    journal: Journal,
    *,
    case_number: str,
    mode: PublicationMode,
    authority: str,
    summary: str | None,
    remove: Sequence[str],
    by: str,
    time: datetime,
) -> Publication:
    """Publish the final decision of ``case_number``; refused if anything personal would be shown."""
    decision = require_decision(conn, case_number)
    publishable(conn, decision)
    assert decision.final_on is not None  # noqa: S101 - publishable checked it
    assert decision.publish_due_on is not None  # noqa: S101 - set with the final decision
    extra = [v for v in (one_line("a text to remove", r, limit=500, required=False) for r in remove) if v]
    content = content_of(decision, mode=mode, authority=authority, summary=summary, remove=extra)
    found = leaks(json.dumps(content, ensure_ascii=False), [*_private(decision).values(), *extra])
    if found:
        raise DecisionError(
            f"refused: the publication of case {decision.case_number} would show {', '.join(found)} "
            "(公示办法 art. 9: identity and property data removed); rephrase the text or add --remove for it"
        )
    body: dict[str, JsonValue] = {
        "mode": mode.value,
        "document": decision.final_document,
        "decided_on": decision.final_on.isoformat(),
        "due_on": decision.publish_due_on.isoformat(),
        "content": content,
    }
    index = _append(conn, journal, decision.case_number, "publish", by=by, time=time, body=body)
    conn.execute(
        insert(publications).values(
            id=index,
            case_number=decision.case_number,
            mode=mode.value,
            document=decision.final_document,
            decided_on=decision.final_on,
            due_on=decision.publish_due_on,
            published_at=time.replace(microsecond=0),
            published_by=by,
            content=content,
        )
    )
    return get_publication(conn, index)


def exclude(
    conn: Connection,
    journal: Journal,
    *,
    case_number: str,
    ground: Exclusion,
    reason: str,
    approved_by: str,
    by: str,
    time: datetime,
) -> ExclusionRecord:
    """Record that art. 10 keeps the decision unpublished, approved by a second person."""
    decision = require_decision(conn, case_number)
    if any(p.active for p in publications_of_case(conn, decision.case_number)):
        raise DecisionError(
            f"case {decision.case_number} is published: withdraw it (`evidock case publish withdraw`) with the "
            "document that requires it"
        )
    why = text("the reason (理由)", reason, limit=2000)
    body: dict[str, JsonValue] = {"ground": ground.value, "approved_by": approved_by}
    index = _append(
        conn, journal, decision.case_number, "exclude", by=by, time=time, body=body, personal={"reason": why or ""}
    )
    conn.execute(
        insert(publication_exclusions).values(
            entry=index,
            case_number=decision.case_number,
            ground=ground.value,
            reason=why,
            excluded_by=by,
            approved_by=approved_by,
            excluded_at=time.replace(microsecond=0),
        )
    )
    return exclusions_of_case(conn, decision.case_number)[-1]


def withdraw(
    conn: Connection,
    journal: Journal,
    *,
    publication_id: int,
    document: str,
    reason: str,
    by: str,
    time: datetime,
) -> Publication:
    """Take a published decision out of the feed (撤下), naming the judgment or review decision that requires it."""
    published = get_publication(conn, publication_id)
    if not published.active:
        raise DecisionError(f"publication {published.id} was withdrawn already ({published.withdrawal_document})")
    basis = one_line("the judgment or review decision (生效的裁判文书/复议决定书)", document, limit=DOCUMENT_LENGTH)
    why = one_line("the reason (撤销、确认违法、确认无效或变更)", reason, limit=2000)
    body: dict[str, JsonValue] = {"publication": published.id, "document": basis, "reason": why}
    _append(conn, journal, published.case_number, "withdraw", by=by, time=time, body=body)
    conn.execute(
        update(publications)
        .where(publications.c.id == published.id)
        .values(
            withdrawn_at=time.replace(microsecond=0),
            withdrawn_by=by,
            withdrawal_document=basis,
            withdrawal_reason=why,
        )
    )
    return get_publication(conn, published.id)
