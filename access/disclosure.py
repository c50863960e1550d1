"""Art. 29 (第二十九条): who may be given what, and what a disclosure says about a recording.

Recordings are internal; a disclosure needs approval. Courts, supervision and
audit bodies ask by official letter (公函), lawyers with a court investigation
order (律师调查令), and the party concerned (当事人) sees their own recordings
without third-party information (:func:`checked_grounds`,
:func:`require_party_owns`, :func:`disclosed`).

A request is checked when it is made and approved by a second person;
delivery can come days later. Meanwhile a recording can be relabelled to
another party, or the approver can lose the right to approve. The gate asks
:func:`refusal` in the transaction that writes the ACCESS entry, so the answer
is true when the bytes leave.

Pure: values in, a view, a reason or a refusal out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from access.errors import ApprovalError, InvalidAccessInput
from cases.labels import Label
from storage.access_terms import EXTERNAL_CATEGORIES, Category
from storage.recordings import Recording


def same_name(a: str, b: str) -> bool:
    """Two people's names are the same name (Unicode-normalised, outer spaces ignored)."""
    return unicodedata.normalize("NFC", a.strip()) == unicodedata.normalize("NFC", b.strip())


def refusal(*, party: str | None, labelled_parties: Sequence[str] | None, approver_may_approve: bool) -> str | None:
    """Why an approved disclosure may not be delivered now, or None when it may.

    ``party``: the party concerned (当事人) a party request was made for, or None;
    ``labelled_parties``: the parties on the recording's current label (None: no label);
    ``approver_may_approve``: the approver is still an active user whose role approves.
    """
    if party is not None and not any(same_name(party, p) for p in labelled_parties or ()):
        # Never say whose recording it is now: that would disclose a third party.
        return (
            "the recording is no longer labelled with the party named in the request; a party sees only their "
            "own recordings (art. 29, 第二十九条): check the label and ask again"
        )
    if not approver_may_approve:
        return "the approver is disabled or may no longer approve; ask another custodian to approve a new request"
    return None


def checked_grounds(category: Category, *, document_ref: str | None, party: str | None) -> None:
    """An outside request names its document (文号); a party (当事人) goes with category ``party`` only."""
    if category in EXTERNAL_CATEGORIES and document_ref is None:
        lawyer = category is Category.LAWYER
        what = "the court investigation order (律师调查令)" if lawyer else "the official letter (公函)"
        raise InvalidAccessInput(
            f"a {category.value} request needs a document reference (文号): give --document with the number of "
            f"{what} (art. 29, 第二十九条)"
        )
    if (category is Category.PARTY) != (party is not None):
        raise InvalidAccessInput(
            "--party names the party concerned (当事人) and goes with --category party only (art. 29)"
        )


def require_party_owns(party: str, recordings: Iterable[str], labels: Mapping[str, Label]) -> None:
    """Each recording is labelled with ``party``: a party request may hold only the party's own recordings."""
    for rid in recordings:
        label = labels.get(rid)
        if label is None or not any(same_name(party, p) for p in label.parties):
            # Never say whose recording it is instead: that would disclose a third party.
            raise ApprovalError(
                f"recording {rid[:12]} is not labelled with the party named; a party request may only "
                "hold the party's own recordings (art. 29, 第二十九条)"
            )


def disclosed(recording: Recording, label: Label | None, *, party: str | None) -> dict[str, Any]:
    """What a disclosure says about one recording: a fixed list of fields, never more.

    For the party concerned (``party`` given) the parties are only that party:
    other parties' names and any complainant or reporter data never leave.
    """
    view: dict[str, Any] = {
        "id": recording.id,
        "sha256": recording.id,
        "size": recording.size,
        "kind": recording.kind,
        "device": recording.device,
        "officer": recording.officer,
        "start_raw": recording.start_raw.isoformat() if recording.start_raw else None,
        "end_raw": recording.end_raw.isoformat() if recording.end_raw else None,
        "duration_ms": recording.duration_ms,
        "case_number": label.case_number if label else None,
        "handler": label.handler if label else None,
    }
    if party is not None:
        view["parties"] = [party]
    else:
        view["parties"] = list(label.parties) if label else []
    return view
