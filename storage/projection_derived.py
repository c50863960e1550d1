"""Derived files and redactions as a projection of the log: DERIVED and REDACTION entries.

* ``derived_files``: one row per DERIVED entry, every column from its body
  (the entry's ``recording`` is the original; ``made_at`` its time).
* ``redactions``: the REDACTION entry with action ``draft`` (or
  ``no-third-parties``) makes the row; ``submit``, ``approve`` and ``reject``
  move it on; the DERIVED entry that renders it marks it ``rendered``.
* ``proxy_jobs`` is not projected: it is the background work's progress; the
  proxy it made is proven by its DERIVED entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chain.entries import Entry, EntryType
from storage.derived import RedactionState
from storage.projected import Projected, Rebuilt, Second, logged_time
from storage.schema import derived_files, proxy_jobs, redactions

TABLES: tuple[Projected, ...] = (
    Projected(derived_files, ("entry",)),
    Projected(redactions, ("id",)),
)

NOT_PROJECTED: Mapping[str, str] = {
    proxy_jobs.name: "progress of the background playback-proxy work; the proxy it made is proven by its DERIVED entry",
}

_MOVES = {
    "submit": (RedactionState.SUBMITTED, "submitted"),
    "approve": (RedactionState.APPROVED, "decided"),
    "reject": (RedactionState.REJECTED, "decided"),
}


class DerivedReplay(Rebuilt):
    """The replay of DERIVED and REDACTION entries (part of ``storage.projection.Replay``)."""

    def _derived_handlers(self) -> Mapping[EntryType, Callable[[int, Entry], None]]:
        return {EntryType.DERIVED: self._derived, EntryType.REDACTION: self._redaction}

    def _derived(self, index: int, entry: Entry) -> None:
        body = entry.body
        arguments = body.get("arguments")
        self._put(
            derived_files,
            (index,),
            index,
            {
                "entry": index,
                "recording": entry.recording,
                "kind": body.get("kind"),
                "sha256": body.get("sha256"),
                "size": body.get("size"),
                "object_key": body.get("object_key"),
                "version_id": body.get("version_id"),
                "retain_until": logged_time(body.get("retain_until")),
                "ffmpeg": body.get("ffmpeg"),
                "arguments": list(arguments) if isinstance(arguments, list) else arguments,
                "redaction": body.get("redaction"),
                "spec_sha256": body.get("spec_sha256"),
                "requested_by": body.get("requested_by"),
                "approved_by": body.get("approved_by"),
                "made_at": Second(entry.timestamp),
            },
        )
        number = body.get("redaction")
        if number is not None:
            self._change(redactions, (number,), index, state=RedactionState.RENDERED.value, derived_entry=index)

    def _redaction(self, index: int, entry: Entry) -> None:
        body = entry.body
        number, action, by = body.get("redaction"), body.get("action"), body.get("by")
        moment = Second(entry.timestamp)
        if action in ("draft", RedactionState.NO_THIRD_PARTIES.value):
            statement = action != "draft"
            self._put(
                redactions,
                (number,),
                index,
                {
                    "id": number,
                    "recording": entry.recording,
                    "request": body.get("request"),
                    "spec": body.get("spec"),
                    "spec_sha256": body.get("spec_sha256"),
                    "state": RedactionState.NO_THIRD_PARTIES.value if statement else RedactionState.DRAFT.value,
                    "reason": body.get("reason"),
                    "created_by": by,
                    "created_at": moment,
                    "submitted_by": None,
                    "submitted_at": None,
                    "decided_by": by if statement else None,
                    "decided_at": moment if statement else None,
                    "decision_reason": None,
                    "derived_entry": None,
                },
            )
            return
        move = _MOVES.get(str(action))
        if move is None:
            return
        state, step = move
        values: dict[str, object] = {"state": state.value, f"{step}_by": by, f"{step}_at": moment}
        if step == "decided":
            values["decision_reason"] = body.get("reason")
        self._change(redactions, (number,), index, **values)
