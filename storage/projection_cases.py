"""Decisions, legal reviews and publications as a projection of the log: DECISION, REVIEW and PUBLICATION entries.

Each of these tables is written in the same transaction as the entry that
records it (the ``cases`` package: ``decisions``, ``review``, ``publication``):

* ``case_decisions``: one row per case number; every DECISION entry (``facts``,
  ``propose``, ``mark-major``, ``final``) carries the major flag and grounds as
  they stand after it. The party's name, ID number, phone and address and the
  decision texts are in the entries only as commitments (salt fields
  ``party_name``, ``party_id_number``, ``party_phone``, ``party_address``,
  ``text``).
* ``legal_reviews``, ``review_opinions``: a REVIEW entry per step of a review
  (``submit``, ``check``, ``supplement``, ``extend``, ``opinion``,
  ``rereview``, ``accept``, ``escalate``, ``decide``); a review's id is the
  index of its submit entry, which the later entries name (``review``). The
  proposal, other evidence, an opinion's reasons, a re-review request and the
  head's decision are committed (fields ``proposal``, ``other_evidence``,
  ``reasons``, ``reason``, ``decision``).
* ``publications``, ``publication_exclusions``: a PUBLICATION entry per step
  (``publish`` holds the published content itself: it is public;
  ``exclude`` commits its reason; ``withdraw`` names the publication and the
  judgment or review decision).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from chain.entries import Entry, EntryType
from storage.projected import Committed, Projected, Rebuilt, Second
from storage.schema import case_decisions, legal_reviews, publication_exclusions, publications, review_opinions

_PARTY = ("party_name", "party_id_number", "party_phone", "party_address")

TABLES: tuple[Projected, ...] = (
    Projected(case_decisions, ("case_number",), personal=frozenset({*_PARTY, "proposed_text", "final_text"})),
    Projected(
        legal_reviews,
        ("id",),
        personal=frozenset({"proposal", "other_evidence", "rereview_reason", "head_decision"}),
    ),
    Projected(review_opinions, ("entry",), personal=frozenset({"reasons"})),
    Projected(publications, ("id",)),
    Projected(publication_exclusions, ("entry",), personal=frozenset({"reason"})),
)
_REVIEW_LATER = (
    "missing",
    "checked_by",
    "checked_at",
    "started_on",
    "due_on",
    "extended_by",
    "extension_reason",
    "rereview_reason",
    "rereview_at",
    "escalated_at",
    "head",
    "head_decision",
    "done_at",
)

_PROPOSED = ("proposed_text", "proposed_fine_fen", "proposed_measures", "proposed_at", "proposed_by", "proposed_entry")
_MARKED = ("marked_major_by", "marked_major_reason")
_FINAL = ("final_text", "final_document", "final_on", "final_at", "final_by", "final_review", "publish_due_on")


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


class DecisionReplay(Rebuilt):
    """The replay of DECISION, REVIEW and PUBLICATION entries (part of ``storage.projection.Replay``)."""

    def _decision_handlers(self) -> Mapping[EntryType, Callable[[int, Entry], None]]:
        return {
            EntryType.DECISION: self._decision,
            EntryType.REVIEW: self._review,
            EntryType.PUBLICATION: self._publication,
        }

    def _decision(self, index: int, entry: Entry) -> None:
        body = entry.body
        key = (body.get("case_number"),)
        moment = Second(entry.timestamp)
        changed: dict[str, Any] = {
            "major": body.get("major"),
            "major_grounds": body.get("major_grounds"),
            "updated_at": moment,
            "updated_by": body.get("by"),
        }
        action = body.get("action")
        if action == "facts":
            changed |= {
                "action_type": body.get("action_type"),
                "party_kind": body.get("party_kind"),
                "party_minor": body.get("party_minor"),
                "parties_count": body.get("parties_count"),
            } | {name: Committed.one(index, name, body.get(name)) for name in _PARTY}
            if not self._change(case_decisions, key, index, **changed):
                self._put(
                    case_decisions,
                    key,
                    index,
                    {"case_number": key[0], "opened_at": moment}
                    | changed
                    | dict.fromkeys((*_PROPOSED, *_MARKED, *_FINAL)),
                )
            return
        if action == "propose":
            changed |= {
                "proposed_text": Committed.one(index, "text", body.get("text")),
                "proposed_fine_fen": body.get("fine_fen"),
                "proposed_measures": body.get("measures"),
                "proposed_at": moment,
                "proposed_by": body.get("by"),
                "proposed_entry": index,
            }
        elif action == "mark-major":
            changed |= {"marked_major_by": body.get("by"), "marked_major_reason": body.get("reason")}
        elif action == "final":
            changed |= {
                "final_text": Committed.one(index, "text", body.get("text")),
                "final_document": body.get("document"),
                "final_on": _day(body.get("decided_on")),
                "final_at": moment,
                "final_by": body.get("by"),
                "final_review": body.get("review"),
                "publish_due_on": _day(body.get("publish_due_on")),
            }
        else:
            return
        self._change(case_decisions, key, index, **changed)

    def _review(self, index: int, entry: Entry) -> None:  # noqa: PLR0912 - one branch per step
        body = entry.body
        moment = Second(entry.timestamp)
        action = body.get("action")
        by = body.get("by")
        if action == "submit":
            self._put(
                legal_reviews,
                (index,),
                index,
                {
                    "id": index,
                    "case_number": body.get("case_number"),
                    "proposal_entry": body.get("proposal_entry"),
                    "submitted_at": moment,
                    "submitted_by": by,
                    "proposal": Committed.one(index, "proposal", body.get("proposal")),
                    "legal_basis": body.get("legal_basis"),
                    "documents": body.get("documents"),
                    "recordings": body.get("recordings"),
                    "other_evidence": Committed.one(index, "other_evidence", body.get("other_evidence")),
                    "received_at": moment,
                    "state": "submitted",
                    "updated_at": moment,
                    "updated_by": by,
                }
                | dict.fromkeys(_REVIEW_LATER),
            )
            return
        changed: dict[str, Any] = {"updated_at": moment, "updated_by": by}
        if action == "check":
            changed |= {"checked_by": by, "checked_at": moment, "missing": body.get("missing")}
            if body.get("complete") is True:
                changed |= {
                    "state": "in_review",
                    "started_on": _day(body.get("started_on")),
                    "due_on": _day(body.get("due_on")),
                }
            else:
                changed["state"] = "incomplete"
        elif action == "supplement":
            changed |= {
                "documents": body.get("documents"),
                "recordings": body.get("recordings"),
                "received_at": moment,
                "state": "submitted",
            }
            if "other_evidence" in body:
                changed["other_evidence"] = Committed.one(index, "other_evidence", body.get("other_evidence"))
        elif action == "extend":
            changed |= {
                "extended_by": body.get("approved_by"),
                "extension_reason": body.get("reason"),
                "due_on": _day(body.get("due_on")),
            }
        elif action == "opinion":
            self._put(
                review_opinions,
                (index,),
                index,
                {
                    "entry": index,
                    "review": body.get("review"),
                    "case_number": body.get("case_number"),
                    "round": body.get("round"),
                    "reviewer": by,
                    "points": body.get("points"),
                    "opinion": body.get("opinion"),
                    "reasons": Committed.one(index, "reasons", body.get("reasons")),
                    "given_at": moment,
                    "due_on": _day(body.get("due_on")),
                },
            )
            done = body.get("opinion") == "agree"
            changed |= {"state": "done" if done else "opinion", "done_at": moment if done else None}
        elif action == "rereview":
            changed |= {
                "state": "rereview",
                "rereview_reason": Committed.one(index, "reason", body.get("reason")),
                "rereview_at": moment,
                "due_on": _day(body.get("due_on")),
            }
        elif action == "accept":
            changed |= {"state": "done", "proposal_entry": body.get("proposal_entry"), "done_at": moment}
        elif action == "escalate":
            changed |= {"state": "escalated", "escalated_at": moment}
        elif action == "decide":
            changed |= {
                "state": "done",
                "head": body.get("head"),
                "head_decision": Committed.one(index, "decision", body.get("decision")),
                "proposal_entry": body.get("proposal_entry"),
                "done_at": moment,
            }
        else:
            return
        self._change(legal_reviews, (body.get("review"),), index, **changed)

    def _publication(self, index: int, entry: Entry) -> None:
        body = entry.body
        moment = Second(entry.timestamp)
        action = body.get("action")
        if action == "publish":
            self._put(
                publications,
                (index,),
                index,
                {
                    "id": index,
                    "case_number": body.get("case_number"),
                    "mode": body.get("mode"),
                    "document": body.get("document"),
                    "decided_on": _day(body.get("decided_on")),
                    "due_on": _day(body.get("due_on")),
                    "published_at": moment,
                    "published_by": body.get("by"),
                    "content": body.get("content"),
                }
                | dict.fromkeys(("withdrawn_at", "withdrawn_by", "withdrawal_document", "withdrawal_reason")),
            )
        elif action == "exclude":
            self._put(
                publication_exclusions,
                (index,),
                index,
                {
                    "entry": index,
                    "case_number": body.get("case_number"),
                    "ground": body.get("ground"),
                    "reason": Committed.one(index, "reason", body.get("reason")),
                    "excluded_by": body.get("by"),
                    "approved_by": body.get("approved_by"),
                    "excluded_at": moment,
                },
            )
        elif action == "withdraw":
            self._change(
                publications,
                (body.get("publication"),),
                index,
                withdrawn_at=moment,
                withdrawn_by=body.get("by"),
                withdrawal_document=body.get("document"),
                withdrawal_reason=body.get("reason"),
            )
