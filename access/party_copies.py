"""What the party concerned may be given (art. 29, 第二十九条): a redacted copy, or the original on the approver's word.

The party sees their own recordings "but not information on informants,
complainants or other third parties". Stripping third-party *metadata*
(``access.disclosure``) is not enough when bystanders' faces and voices are in
the picture and the sound. So a party's approved request is fulfilled with:

* an approved, rendered **redacted copy** of the recording (``derived``: a
  second custodian approved its spec, ffmpeg rendered it, a DERIVED entry
  binds it to the original), made for this request or for none; or
* the **original**, when the person who approved the request stated, in a
  logged REDACTION entry, that no third parties are present in it.

Neither: the delivery is refused, saying how to make one. A disc export for a
party needs the statement (a party's disc of redacted copies is not made yet).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from access.errors import ApprovalError
from storage.access_terms import Action, Category
from storage.derived import DerivedFile, Redaction, RedactionState, for_party_request, get_derived


@dataclass(frozen=True)
class PartyDelivery:
    """What serves one recording of a party's request: exactly one of the two is set."""

    statement: Redaction | None  # the approver's "no third parties present"
    redacted: DerivedFile | None  # the approved redacted copy


@dataclass(frozen=True)
class Asked:
    """The request's facts this needs (``access.requests.AccessRequest`` has them)."""

    id: int
    category: Category
    action: Action
    decided_by: str | None


def party_delivery(conn: Connection, recording: str, asked: Asked) -> PartyDelivery | None:
    """For a party's request, what may be delivered of ``recording``; None for other categories.

    Raises ``ApprovalError`` saying what is missing.
    """
    if asked.category is not Category.PARTY:
        return None
    found = for_party_request(conn, recording, asked.id)
    for item in found:
        if item.state is RedactionState.NO_THIRD_PARTIES and asked.decided_by and item.decided_by == asked.decided_by:
            return PartyDelivery(statement=item, redacted=None)
    if asked.action is Action.EXPORT:
        raise ApprovalError(
            f"a party's disc (art. 29, 第二十九条) carries recording {recording[:12]} only with the approver's "
            f"statement that no third parties are present: {asked.decided_by or 'the approver'} runs "
            f"`evidock redact no-third-parties {asked.id} --recording {recording[:12]} --statement ...`; "
            "otherwise deliver a redacted copy with `evidock recordings get`"
        )
    for item in found:
        if item.state is RedactionState.RENDERED and item.derived_entry is not None:
            return PartyDelivery(statement=None, redacted=get_derived(conn, item.derived_entry))
    raise ApprovalError(
        f"request {asked.id} is the party's (art. 29, 第二十九条): recording {recording[:12]} goes to them as an "
        "approved redacted copy (`evidock redact new`, then submit, approve by a second custodian, render) or, if "
        f"no third parties are present, with the statement of the approver ({asked.decided_by or 'not decided yet'}): "
        f"`evidock redact no-third-parties {asked.id} --recording {recording[:12]} --statement ...`"
    )
