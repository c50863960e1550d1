"""What must still hold when an approved disclosure is delivered, not only when it was asked for and approved.

A request is checked when it is made (a party request holds only that
party's recordings) and approved by a second person; delivery can come days
later. Meanwhile a recording can be relabelled to another party, or the
approver can lose the right to approve. The gate asks :func:`refusal` in the
transaction that writes the ACCESS entry, so the answer is true when the
bytes leave (art. 29, 第二十九条).

Pure: values in, a reason or None out.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


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
