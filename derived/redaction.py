"""Redaction for the party concerned (art. 29, 第二十九条): drafted by one custodian, approved by another, rendered.

The steps, each one transaction with its REDACTION entry (the DERIVED entry
for the render), so the audit trail shows every step by person::

    draft ──submit──► submitted ──approve (another custodian)──► approved ──render──► rendered
                                 └─reject─► rejected

* **draft** (``new``): what to mute or bleep and what to blur (``derived.spec``),
  checked against the recording's picture size and length; optionally for one
  party's access request;
* **preview**: one frame with the blurs applied, as a PNG; the original is read
  through the access gate (an ACCESS ``view`` entry) like any viewing;
* **submit**, then **approve** or **reject** by a custodian who neither drafted
  nor submitted it; the approval names the spec's SHA-256, so what was
  approved is exactly what is rendered;
* **render**: ffmpeg makes the redacted copy (``derived.making``); its DERIVED
  entry names the redaction, the spec's SHA-256, who asked and who approved.

Where no third party is in a recording, the custodian who approved the
party's request says so instead (``no_third_parties``): a REDACTION entry of
its own, after which the party may have the original (``access.party_copies``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from access.errors import ApprovalError, InvalidAccessInput
from access.gate import Gate
from access.people import REASON_LENGTH, Permission, Person, checked_text
from access.requests import AccessRequest, live_recording, load_request
from chain.entries import EntryType
from derived.ffmpeg import run
from derived.making import Maker, Recipe
from derived.recipes import EncodeOptions, preview, redacted
from derived.spec import Frame, Spec, SpecError, parse
from storage.access_terms import Action, Category, RequestStatus
from storage.derived import (
    DerivedFile,
    DerivedKind,
    Redaction,
    RedactionState,
    add_redaction,
    change_redaction,
    get_redaction,
    redactions_of,
)
from storage.recordings import Recording

log = logging.getLogger(__name__)


def frame_of(recording: Recording) -> Frame:
    """What a spec is checked against: the recording's picture size, length and whether it has sound."""
    media: Mapping[str, Any] = recording.media or {}
    width, height = media.get("width"), media.get("height")
    video = media.get("video_codec") is not None and isinstance(width, int) and isinstance(height, int)
    return Frame(
        width=width if video else None,
        height=height if video else None,
        duration_ms=recording.duration_ms,
        has_audio=media.get("audio_codec") is not None,
    )


@dataclass(frozen=True)
class Preview:
    path: Path
    access_entry: int  # the ACCESS entry of the read of the original


@dataclass
class RedactionDesk:
    """The redaction steps, each by an authenticated person (see the module docstring)."""

    gate: Gate
    maker: Maker
    encode: EncodeOptions

    @property
    def _clock(self) -> Callable[[], datetime]:
        return self.maker.clock

    def _append(self, conn: Connection, redaction: Redaction | int, recording: str, body: dict[str, object]) -> int:
        number = redaction if isinstance(redaction, int) else redaction.id
        return self.maker.journal.append(
            conn, EntryType.REDACTION, recording=recording, body={"redaction": number, **body}, time=self._clock()
        )

    # -- drafting -------------------------------------------------------------------------

    def new(
        self, person: Person, recording: str, raw_spec: Mapping[str, Any], *, reason: str, request: int | None = None
    ) -> Redaction:
        """A draft: ``raw_spec`` (see ``derived.spec``) checked against the recording; one REDACTION entry."""
        person.require(Permission.CUSTODY)
        reason = checked_text("reason (事由)", reason, limit=REASON_LENGTH)
        now = self._clock()
        with self.maker.catalog.begin() as conn:
            found = live_recording(conn, recording)
            spec = _checked(raw_spec, found)
            if request is not None:
                _for_party(conn, request, found.id)
            number = add_redaction(
                conn,
                recording=found.id,
                request=request,
                spec=spec.as_json(),
                spec_sha256=spec.sha256,
                state=RedactionState.DRAFT.value,
                reason=reason,
                created_by=person.name,
                created_at=now,
            )
            self._append(
                conn,
                number,
                found.id,
                {
                    "action": "draft",
                    "by": person.name,
                    "spec": spec.as_json(),
                    "spec_sha256": spec.sha256,
                    "request": request,
                    "reason": reason,
                },
            )
            return get_redaction(conn, number)

    def preview(self, person: Person, number: int, *, at_ms: int, out: Path) -> Preview:
        """One frame at ``at_ms`` with the blurs applied, as a PNG at ``out`` (never overwritten).

        The original is read through the gate: an ACCESS ``view`` entry first.
        """
        if out.exists():
            raise InvalidAccessInput(f"{out} exists; evidock never overwrites a file: choose a new --out")
        redaction = self.get(person, number)
        with self.maker.catalog.read() as conn:
            found = live_recording(conn, redaction.recording)
        frame = frame_of(found)
        if frame.width is None:
            raise SpecError(f"recording {found.id[:12]} has no picture to preview")
        if at_ms < 0 or (found.duration_ms is not None and at_ms >= found.duration_ms):
            length = (found.duration_ms or 0) / 1000
            raise SpecError(f"--at {at_ms / 1000:g} s is outside the recording (0 to {length:g} s)")
        spec = parse(redaction.spec or {}, frame)
        content = self.gate.open_content(
            person, found.id, action=Action.VIEW, reason=f"redaction {number} preview at {at_ms / 1000:g} s"
        )
        with tempfile.TemporaryDirectory(prefix="evidock-preview-", dir=self.maker.work_dir) as folder:
            source = Path(folder) / "original"
            with source.open("wb") as sink:
                for chunk in content.chunks():
                    sink.write(chunk)
            target = Path(folder) / "frame.png"
            run(preview(spec, at_ms, frame), source=source, target=target, options=self.maker.run_options)
            out.write_bytes(target.read_bytes())
        return Preview(out, content.entry)

    # -- the two-person decision ----------------------------------------------------------

    def submit(self, person: Person, number: int) -> Redaction:
        person.require(Permission.CUSTODY)
        return self._move(person, number, RedactionState.DRAFT, RedactionState.SUBMITTED, "submit", reason=None)

    def decide(self, person: Person, number: int, *, approve: bool, reason: str) -> Redaction:
        """Approve or reject a submitted redaction; never by who drafted or submitted it (two-person rule)."""
        person.require(Permission.APPROVE)
        reason = checked_text("reason (事由)", reason, limit=REASON_LENGTH)
        with self.maker.catalog.read() as conn:
            current = get_redaction(conn, number)
        if person.name in (current.created_by, current.submitted_by):
            raise ApprovalError(
                f"{person.name} drafted or submitted redaction {number} and cannot decide it: the two-person rule "
                "needs another custodian (art. 29, 第二十九条)"
            )
        target = RedactionState.APPROVED if approve else RedactionState.REJECTED
        return self._move(person, number, RedactionState.SUBMITTED, target, "approve" if approve else "reject",
                          reason=reason)  # fmt: skip

    def _move(
        self,
        person: Person,
        number: int,
        expected: RedactionState,
        to: RedactionState,
        action: str,
        *,
        reason: str | None,
    ) -> Redaction:
        now = self._clock()
        step = "submitted" if to is RedactionState.SUBMITTED else "decided"
        values: dict[str, object] = {"state": to.value, f"{step}_by": person.name, f"{step}_at": now}
        if step == "decided":
            values["decision_reason"] = reason
        with self.maker.catalog.begin() as conn:
            current = get_redaction(conn, number)
            if not change_redaction(conn, number, expected=expected, **values):
                raise ApprovalError(
                    f"redaction {number} is {current.state.value}; only a {expected.value} one can be {to.value}"
                )
            body: dict[str, object] = {"action": action, "by": person.name, "spec_sha256": current.spec_sha256}
            if reason is not None:
                body["reason"] = reason
            self._append(conn, current, current.recording, body)
            return get_redaction(conn, number)

    # -- the redacted copy ----------------------------------------------------------------

    def render(self, person: Person, number: int, *, progress: Callable[[int], None] | None = None) -> DerivedFile:
        """Render an approved redaction with ffmpeg; its DERIVED entry and the state ``rendered`` commit together."""
        person.require(Permission.CUSTODY)
        with self.maker.catalog.read() as conn:
            redaction = get_redaction(conn, number)
            found = live_recording(conn, redaction.recording)
        if redaction.state is not RedactionState.APPROVED:
            raise ApprovalError(
                f"redaction {number} is {redaction.state.value}; only an approved one is rendered "
                "(submit it, then another custodian approves)"
            )
        frame = frame_of(found)
        spec = parse(redaction.spec or {}, frame)
        if spec.sha256 != redaction.spec_sha256:
            raise ApprovalError(f"redaction {number}'s spec is not the one approved (SHA-256 differs); draft it anew")
        recipe = Recipe(
            DerivedKind.REDACTED,
            tuple(redacted(spec, self.encode, frame)),
            requested_by=redaction.submitted_by or redaction.created_by,
            approved_by=redaction.decided_by,
            redaction=number,
            spec_sha256=redaction.spec_sha256,
            made_by=person.name,
        )

        def rendered(conn: Connection, entry: int) -> None:
            if not change_redaction(
                conn, number, expected=RedactionState.APPROVED, state=RedactionState.RENDERED.value, derived_entry=entry
            ):
                raise ApprovalError(f"redaction {number} was rendered by someone else meanwhile")

        return self.maker.make(found, recipe, progress=progress, also=rendered)

    def no_third_parties(self, person: Person, request: int, recording: str, *, statement: str) -> Redaction:
        """The approver of a party's request states no third party is in ``recording``: the party may have it whole."""
        person.require(Permission.APPROVE)
        statement = checked_text("statement", statement, limit=REASON_LENGTH)
        now = self._clock()
        with self.maker.catalog.begin() as conn:
            found = live_recording(conn, recording)
            asked = _for_party(conn, request, found.id)
            if asked.status is not RequestStatus.APPROVED or asked.decided_by != person.name:
                raise ApprovalError(
                    f"only the custodian who approved request {request} ({asked.decided_by or 'nobody yet'}) states "
                    "that no third parties are present; approve it first"
                )
            number = add_redaction(
                conn,
                recording=found.id,
                request=request,
                spec=None,
                spec_sha256=None,
                state=RedactionState.NO_THIRD_PARTIES.value,
                reason=statement,
                created_by=person.name,
                created_at=now,
                decided_by=person.name,
                decided_at=now,
            )
            self._append(
                conn,
                number,
                found.id,
                {
                    "action": RedactionState.NO_THIRD_PARTIES.value,
                    "by": person.name,
                    "spec_sha256": None,
                    "request": request,
                    "reason": statement,
                },
            )
            return get_redaction(conn, number)

    def approve_stating(self, person: Person, request: int, *, reason: str, statement: str) -> AccessRequest:
        """Approve a party's request and state that no third party is in any of its recordings (art. 29)."""
        if self.gate.get_request(person, request).category is not Category.PARTY:
            raise InvalidAccessInput("the no-third-parties statement is for a party's request (art. 29) only")
        decided = self.gate.decide(person, request, approve=True, reason=reason)
        for grant in decided.grants:
            self.no_third_parties(person, request, grant.recording, statement=statement)
        return decided

    # -- reading ----------------------------------------------------------------------------

    def get(self, person: Person, number: int) -> Redaction:
        person.require(Permission.READ_METADATA)
        with self.maker.catalog.read() as conn:
            return get_redaction(conn, number)

    def listing(self, person: Person, recording: str | None = None) -> list[Redaction]:
        person.require(Permission.READ_METADATA)
        with self.maker.catalog.read() as conn:
            rid = live_recording(conn, recording).id if recording else None
            return redactions_of(conn, rid)


def _checked(raw: Mapping[str, Any], recording: Recording) -> Spec:
    spec = parse(raw, frame_of(recording))
    if spec.empty:
        raise SpecError("the redaction mutes and blurs nothing: give --mute, --bleep or --blur (or a --spec file)")
    return spec


def _for_party(conn: Connection, request: int, recording: str) -> AccessRequest:
    """The party's access request ``request``, which must hold ``recording``."""
    asked = load_request(conn, request)
    if asked.category is not Category.PARTY:
        raise InvalidAccessInput(f"request {request} is for {asked.category.value}, not the party concerned (当事人)")
    if all(g.recording != recording for g in asked.grants):
        raise InvalidAccessInput(f"recording {recording[:12]} is not in request {request}")
    return asked
