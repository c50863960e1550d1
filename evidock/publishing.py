"""Publication of decisions (公示) acted on by an authenticated person, and the feed written after each change.

``Permission.PUBLISH`` (the handling unit's custodians) publishes, records an
exclusion (art. 10, approved by a second person) and withdraws (撤下). The CLI,
the API and the web pages call these; ``cases.publication`` holds the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from access import people
from access.people import Permission, Person
from cases import publication as publication_db
from cases.errors import DecisionError
from cases.publication import ExclusionRecord, Publication
from cases.terms import Exclusion, PublicationMode
from evidock.app import App
from evidock.feed import write_feed


def _authority(evi: App) -> str:
    named = evi.settings.publication.authority
    if not named:
        raise DecisionError(
            "config.toml: publication.authority is not set: a publication names its authority (执法主体); "
            'set [publication] authority = "市人社局" (your bureau\'s name)'
        )
    return named


def publish(
    evi: App,
    person: Person,
    case_number: str,
    *,
    mode: PublicationMode,
    summary: str | None = None,
    remove: Sequence[str] = (),
    now: datetime | None = None,
) -> Publication:
    """Publish a final decision (its document redacted, or a summary) and rewrite the feed."""
    person.require(Permission.PUBLISH)
    authority = _authority(evi)
    with evi.catalog.begin() as conn:
        made = publication_db.publish(
            conn,
            evi.journal,
            case_number=case_number,
            mode=mode,
            authority=authority,
            summary=summary,
            remove=remove,
            by=person.name,
            time=now or evi.now(),
        )
    write_feed(evi, now=now)
    return made


def exclude(
    evi: App,
    person: Person,
    case_number: str,
    *,
    ground: Exclusion,
    reason: str,
    approved_by: str,
    now: datetime | None = None,
) -> ExclusionRecord:
    """Record an art. 10 exclusion with a second person's approval (an active user who may approve, not you)."""
    person.require(Permission.PUBLISH)
    with evi.catalog.begin() as conn:
        second = people.approver(conn, approved_by, actor=person)
        return publication_db.exclude(
            conn,
            evi.journal,
            case_number=case_number,
            ground=ground,
            reason=reason,
            approved_by=second,
            by=person.name,
            time=now or evi.now(),
        )


def withdraw(
    evi: App, person: Person, publication_id: int, *, document: str, reason: str, now: datetime | None = None
) -> Publication:
    """Withdraw a publication (撤下) naming the judgment or review decision, and rewrite the feed."""
    person.require(Permission.PUBLISH)
    with evi.catalog.begin() as conn:
        done = publication_db.withdraw(
            conn,
            evi.journal,
            publication_id=publication_id,
            document=document,
            reason=reason,
            by=person.name,
            time=now or evi.now(),
        )
    write_feed(evi, now=now)
    return done


def rewrite_feed(evi: App, person: Person) -> Path:
    person.require(Permission.PUBLISH)
    return write_feed(evi)


def publications(evi: App, person: Person) -> list[Publication]:
    """Every publication (public content, case numbers and dates; nothing personal)."""
    person.require(Permission.READ_METADATA)
    with evi.catalog.read() as conn:
        return publication_db.all_publications(conn)
