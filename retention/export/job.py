"""The disc export (art. 27 第二十七条): gate, EXPORT entries, checkpoint, images, EXPORT_SEALED.

Order, and why:

1. **Check everything first** — names, the case's recordings, the approved
   export request of the acting person for every one of them (the gate's own
   ``check_grant``), the disc plan, the output folder. A refusal writes nothing:
   no log entry, no approval used, no file.
2. **The gate registers each read** (one ACCESS ``export`` entry per
   recording, committed before a byte is read; the approval is used up).
3. The recordings' metadata (labels, findings, corrected times) goes into each
   disc's ``MANIFEST.json``.
4. **EXPORT entries** — one per recording, naming maker, extractor and the
   SHA-256 of the manifest of the disc it is on — are appended, and a
   **checkpoint** covering them is signed and anchored. So the disc carries the
   proof that its own export was logged before it was finished. Where the
   station has witnesses and TSAs, they are asked about that checkpoint: the
   disc needs the witnesses' quorum (step 1 has refused already if too few of
   them answer), and carries each timestamp token it got.
5. The log evidence (entries, inclusion and consistency proofs), the label
   sheet and ``SHA256SUMS`` are made; each image is written, the originals
   streamed from the object store through the gate (which checks each SHA-256).
6. **EXPORT_SEALED**: each image's SHA-256 and size are logged after it is done.

If something fails after step 2, the reads stay logged (they happened) and the
approval stays used; images already sealed stay valid discs of the export.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from access.gate import Content, Gate
from access.people import Person
from cases.labels import Label, latest_labels, recordings_of_case
from chain.entries import EntryType
from retention.context import checked_case_number, checked_text
from retention.export import evidence, layout, sheets, verify_disc
from retention.export.image import Image, ImageFile, build_image
from retention.export.layout import ExportError, Item
from storage import custody, projection
from storage import findings as findings_db
from storage import recordings as recordings_db
from storage.access_terms import Action
from storage.catalog import Catalog
from storage.checkpoints import Checkpointer, StoredCheckpoint
from storage.journal import Journal
from storage.outside_trust import Gathering, OutsideTrust, Policy


@dataclass(frozen=True)
class CorrectedTimes:
    """A recording's times on the true timeline (device clock offset removed), as the clock model gives them."""

    start: datetime | None
    end: datetime | None
    offset_ms: int | None  # device minus station; None without a start time
    basis: str  # how the offset was found (ingest.clock.ClockBasis)


Corrector = Callable[[recordings_db.Recording], CorrectedTimes]


@dataclass(frozen=True)
class ExportContext:
    """What an export works with; built by the composition root (``evidock.cli_export``)."""

    catalog: Catalog
    journal: Journal
    gate: Gate
    checkpointer: Checkpointer
    vkey: str  # the verifier key put on the disc
    tz: ZoneInfo
    station: str
    correct: Corrector
    clock: Callable[[], datetime]  # for the times of the checkpoint and the EXPORT_SEALED entries
    outside_trust: OutsideTrust | None = None  # the witnesses and TSAs whose answers go on the disc
    sleep: Callable[[float], None] = time.sleep  # between asking the witnesses again (seconds)


@dataclass(frozen=True)
class DiscOrder:
    """What the person asked for (``evidock export disc``)."""

    case_number: str  # 案号
    recordings: tuple[str, ...]  # ids or unique prefixes; empty: every recording labelled with the case
    maker: str  # 制作人
    extractor: str  # 提取人
    request: int  # the approved export request
    out_dir: Path
    media: str = "dvd"
    capacity: int | None = None  # bytes per disc; overrides the medium's size


@dataclass(frozen=True)
class Progress:
    """Callbacks for long work: a message per step, and bytes written to images."""

    say: Callable[[str], None] = lambda _message: None
    start: Callable[[int], None] = lambda _total: None
    advance: Callable[[int], None] = lambda _bytes: None


@dataclass(frozen=True)
class DiscOutcome:
    disc: int
    image: Image
    recordings: tuple[str, ...]
    sealed_entry: int


@dataclass(frozen=True)
class ExportOutcome:
    export_id: str
    media: str
    checkpoint_size: int
    access_entries: dict[str, int]
    export_entries: dict[str, int]
    discs: list[DiscOutcome] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "export_id": self.export_id,
            "media": self.media,
            "checkpoint_size": self.checkpoint_size,
            "access_entries": self.access_entries,
            "export_entries": self.export_entries,
            "discs": [
                {
                    "disc": d.disc,
                    "image": str(d.image.path),
                    "size": d.image.size,
                    "sha256": d.image.sha256,
                    "recordings": list(d.recordings),
                    "sealed_entry": d.sealed_entry,
                }
                for d in self.discs
            ],
        }


@dataclass(frozen=True)
class _Checked:
    order: DiscOrder
    recordings: list[recordings_db.Recording]
    plan: list[list[Item]]
    export_id: str
    images: list[Path]


def export_disc(
    ctx: ExportContext, person: Person, order: DiscOrder, *, now: datetime, progress: Progress
) -> ExportOutcome:
    """Export ``order`` as one or more self-verifying disc images (see the module docstring)."""
    checked = _check(ctx, person, order, now=now)
    progress.say(f"{len(checked.recordings)} recording(s) on {len(checked.plan)} disc(s); registering the export reads")
    contents = {
        rec.id: ctx.gate.open_content(person, rec.id, action=Action.EXPORT, request_id=order.request)
        for rec in checked.recordings
    }
    facts, manifests, placed = _manifests(ctx, checked, contents, now=now)
    exported = _log_export(ctx, checked, facts, manifests, now=now)
    progress.say("signing a checkpoint that covers the EXPORT entries")
    anchor = ctx.checkpointer.make(ctx.clock())
    if anchor.checkpoint.size <= max(exported.values()):
        raise ExportError(f"checkpoint {anchor.checkpoint.size} does not cover the EXPORT entries")
    trust = _outside_trust(ctx, anchor, progress)
    outcome = ExportOutcome(
        checked.export_id,
        order.media,
        anchor.checkpoint.size,
        {rid: c.entry for rid, c in contents.items()},
        exported,
    )
    progress.start(sum(layout.room_needed(disc) for disc in checked.plan))
    for number, disc in enumerate(checked.plan, start=1):
        progress.say(f"writing disc {number}/{len(checked.plan)}: {checked.images[number - 1].name}")
        with ctx.catalog.read() as conn:
            log_files = evidence.log_evidence(
                conn,
                [i.recording for i in disc],
                checkpoint=anchor.checkpoint,
                note=anchor.note,
                vkey=ctx.vkey,
                case_number=checked.order.case_number,
            )
        label = sheets.LabelFacts(
            disc=number,
            files=[sheets.DiscFile(p, size, sha) for p, size, sha in placed[number]],
            checkpoint_size=anchor.checkpoint.size,
            checkpoint_root=anchor.checkpoint.root.hex(),
            vkey=ctx.vkey.strip(),
        )
        if trust is not None and ctx.outside_trust is not None:
            log_files |= evidence.outside_trust_files(anchor.note, trust, ctx.outside_trust.policy)
            label = _with_outside_trust(label, trust, ctx.outside_trust.policy)
        files = _disc_files(
            facts, label, manifests[number], log_files=log_files, contents=contents, placed=placed[number]
        )
        capacity = order.capacity or layout.capacity_of(order.media)
        volume = f"EV{now.astimezone(ctx.tz):%Y%m%d}_{number}_{len(checked.plan)}"  # Joliet: 16 characters at most
        image = build_image(
            files, checked.images[number - 1], volume_id=volume, capacity=capacity, progress=progress.advance
        )
        with ctx.catalog.begin() as conn:
            sealed = ctx.journal.append(
                conn,
                EntryType.EXPORT_SEALED,
                recording=None,
                body={
                    "export_id": checked.export_id,
                    "image_sha256": image.sha256,
                    "image_size": image.size,
                    "image_name": image.path.name,
                    "disc": number,
                    "discs": len(checked.plan),
                },
                time=ctx.clock(),
            )
        outcome.discs.append(DiscOutcome(number, image, tuple(i.recording for i in disc), sealed))
    return outcome


GATHER_PAUSES = (2.0, 5.0)  # seconds before asking the witnesses again for the export's checkpoint


def _witnesses_answer(ctx: ExportContext, *, now: datetime) -> None:
    """Step 1, when the station has witnesses: refuse now, before anything is written, if too few answer."""
    trust = ctx.outside_trust
    if trust is None or not trust.policy.witnesses:
        return
    silent = trust.answering(now=now)
    answering = len(trust.policy.witnesses) - len(silent)
    if answering < trust.policy.quorum:
        said = "; ".join(f"{who}: {why}" for who, why in silent.items())
        raise ExportError(
            f"only {answering} of the {len(trust.policy.witnesses)} witnesses answer ({said}); a disc needs the "
            f"cosignatures of {trust.policy.quorum} (log.witness_quorum) on its checkpoint. Try again when they "
            "answer; nothing was exported"
        )


def _outside_trust(ctx: ExportContext, anchor: StoredCheckpoint, progress: Progress) -> Gathering | None:
    """The witnesses' cosignatures and the TSAs' tokens on the export's checkpoint (asked again a few times).

    The witnesses' quorum is required: a disc without it could not show that
    its history is the one another office saw. A missing token is said and the
    disc is made without it.
    """
    trust = ctx.outside_trust
    if trust is None or not trust.policy.active:
        return None
    progress.say(f"asking the witnesses and the time-stamping authority about checkpoint {anchor.checkpoint.size}")
    gathering = trust.gather(anchor, now=ctx.clock(), pause=False)
    for pause in GATHER_PAUSES:
        if gathering.has_quorum and len(gathering.stamped) == len(trust.policy.tsas):
            break
        progress.say(f"not all answered ({'; '.join(gathering.failures.values())}); asking again in {pause:g} s")
        ctx.sleep(pause)
        gathering = trust.gather(anchor, now=ctx.clock(), pause=False)
    if not gathering.has_quorum:
        said = "; ".join(f"{who}: {why}" for who, why in gathering.failures.items())
        raise ExportError(
            f"checkpoint {anchor.checkpoint.size} has {len(gathering.cosigned)} of the {gathering.quorum} witness "
            f"cosignatures a disc needs ({said}). The reads and EXPORT entries are logged; export again when the "
            "witnesses answer"
        )
    for who, why in gathering.failures.items():
        progress.say(f"warning: {who} gave no timestamp token; the disc has none from it: {why}")
    return gathering


def _with_outside_trust(label: sheets.LabelFacts, trust: Gathering, policy: Policy) -> sheets.LabelFacts:
    cosigned = {c.witness.vkey for c in trust.cosigned}
    return dataclasses.replace(
        label,
        witnesses=[sheets.WitnessRow(w.name, w.vkey, w.vkey in cosigned) for w in policy.witnesses],
        quorum=policy.quorum,
        timestamps=[(s.tsa.name, s.gen_time) for s in trust.stamped],
    )


def _check(ctx: ExportContext, person: Person, order: DiscOrder, *, now: datetime) -> _Checked:
    """Step 1: everything that can refuse, before anything is written."""
    order = DiscOrder(
        case_number=checked_case_number(order.case_number),
        recordings=order.recordings,
        maker=checked_text("maker (制作人)", order.maker),
        extractor=checked_text("extractor (提取人)", order.extractor),
        request=order.request,
        out_dir=order.out_dir,
        media=order.media,
        capacity=order.capacity,
    )
    capacity = order.capacity or layout.capacity_of(order.media)
    signing = str(ctx.checkpointer.signer.verifier())
    if ctx.vkey.strip() != signing:
        raise ExportError(
            f"the verifier key to put on the disc ({ctx.vkey.strip()}) is not the log's signing key's ({signing}); "
            "fix the station's .pub file (evidock keys show)"
        )
    with ctx.catalog.read() as conn:
        wanted = list(order.recordings) or sorted(recordings_of_case(conn, order.case_number))
        if not wanted:
            raise ExportError(f"no recording is labelled with case {order.case_number}; name them with --recordings")
    found = {}
    for rec in wanted:
        recording, _, _ = ctx.gate.check_grant(person, rec, action=Action.EXPORT, request_id=order.request)
        found[recording.id] = recording
    chosen = sorted(found.values(), key=lambda r: (r.device or "", r.start_raw or r.ingested_at, r.seq or 0, r.id))
    _check_facts(ctx, order, chosen, named=bool(order.recordings))
    with ctx.catalog.read() as conn:
        counts = {r.id: len(custody.chain_indexes(conn, r.id, below=2**62)) for r in chosen}
    items = [Item(r.id, r.size, counts[r.id] + 4) for r in chosen]  # + the ACCESS, EXPORT and a few others
    plan = layout.plan_discs(items, capacity, media=order.media)
    export_id = f"{now.astimezone(ctx.tz):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    images = [order.out_dir / f"evidence-{export_id}-disc{n}of{len(plan)}.iso" for n in range(1, len(plan) + 1)]
    _check_out_dir(order.out_dir, images)
    _witnesses_answer(ctx, now=now)  # last: it asks other offices, once everything here holds
    return _Checked(order, chosen, plan, export_id, images)


def _check_facts(
    ctx: ExportContext, order: DiscOrder, chosen: Sequence[recordings_db.Recording], *, named: bool
) -> None:
    """Every catalog fact the disc will carry must be what the log's entries say (storage.projection).

    The case's recordings are those the LABEL entries put in it, so a deleted
    or edited label row cannot drop a recording from the disc unnoticed.
    """
    with ctx.catalog.read() as conn:
        replay = projection.replay_log(conn)
        members = projection.case_members(replay, order.case_number)
        keep = projection.about_recordings(
            {r.id for r in chosen} | members, {r.device for r in chosen}, order.case_number
        )
        found = list(projection.differences(conn, replay, keep=keep))
    if not named and members != {r.id for r in chosen}:
        missing = sorted(members - {r.id for r in chosen})
        extra = sorted({r.id for r in chosen} - members)
        raise ExportError(
            f"the catalog's recordings of case {order.case_number} differ from its LABEL entries "
            f"(left out: {', '.join(missing) or 'none'}; not labelled so: {', '.join(extra) or 'none'}); "
            "nothing was exported: run `evidock verify` and restore the catalog"
        )
    if found:
        shown = "; ".join(d.message for d in found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise ExportError(
            f"the catalog does not match the log for this export, nothing was exported: {shown}. "
            "Run `evidock verify` and restore the catalog"
        )


def _check_out_dir(out_dir: Path, images: Sequence[Path]) -> None:
    """The images' folder, created when missing as the default one is; the last check, so a refusal creates nothing."""
    try:
        out_dir.mkdir(mode=0o750, parents=True, exist_ok=True)  # owner and group only: images hold evidence
    except FileExistsError as exc:
        raise ExportError(f"--out {out_dir} is not a folder; name a folder (it is created if missing)") from exc
    except OSError as exc:
        raise ExportError(f"--out {out_dir} cannot be created: {exc.strerror or exc}") from exc
    for image in images:
        if image.exists():
            raise ExportError(f"{image} exists already; an image is never overwritten")
    probe = out_dir / f".evidock-write-test-{secrets.token_hex(4)}"
    try:
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        raise ExportError(f"--out {out_dir} cannot be written: {exc.strerror or exc}") from exc


def _time(moment: datetime | None) -> str | None:
    return sheets.utc_text(moment) if moment else None


def _recording_entry(
    rec: recordings_db.Recording,
    path: str,
    content: Content,
    *,
    label: Label | None,
    found: Sequence[findings_db.StoredFinding],
    corrected: CorrectedTimes,
    party_salts: list[str | None],
) -> dict[str, Any]:
    """The manifest's record of one recording (what the disclosure may show; parties as the gate disclosed)."""
    return {
        "id": rec.id,
        "path": path,
        "sha256": rec.id,
        "size": rec.size,
        "original_name": rec.original_name,
        "kind": rec.kind,
        "device": rec.device,
        "officer": rec.officer,
        "seq": rec.seq,
        "start_raw": _time(rec.start_raw),
        "end_raw": _time(rec.end_raw),
        "start_corrected": _time(corrected.start),
        "end_corrected": _time(corrected.end),
        "clock_offset_ms": corrected.offset_ms,
        "clock_basis": corrected.basis,
        "duration_ms": rec.duration_ms,
        "station": rec.station,
        "ingested_at": _time(rec.ingested_at),
        "ingest_entry": rec.ingest_entry,
        "retain_until": _time(rec.retain_until),
        "access_entry": content.entry,
        "label": None
        if label is None
        else {
            "case_number": label.case_number,
            "parties": content.disclosed["parties"],
            "party_salts": party_salts,  # each opens its party's commitment in the LABEL entry
            "handler": label.handler,
            "labelled_by": label.labelled_by,
            "labelled_at": _time(label.labelled_at),
            "entry": label.entry,
        },
        "findings": [f.as_json() for f in found],
    }


def _manifests(
    ctx: ExportContext, checked: _Checked, contents: dict[str, Content], *, now: datetime
) -> tuple[sheets.ExportFacts, dict[int, bytes], dict[int, list[tuple[str, int, str]]]]:
    """Step 3: each disc's MANIFEST.json, and where each original goes (path, size, SHA-256)."""
    by_id = {r.id: r for r in checked.recordings}
    with ctx.catalog.read() as conn:
        labels = latest_labels(conn, list(by_id))
        found = {r.id: findings_db.listing(conn, device=r.device, recording=r.id) for r in checked.recordings}
        salts = {
            r.id: evidence.party_salts(conn, labels.get(r.id), contents[r.id].disclosed["parties"])
            for r in checked.recordings
        }
    parties = list(dict.fromkeys(p for c in contents.values() for p in c.disclosed["parties"]))
    handlers = list(dict.fromkeys(lab.handler for lab in labels.values() if lab.handler))
    first = next(iter(contents.values()))
    request = first.request
    facts = sheets.ExportFacts(
        export_id=checked.export_id,
        case_number=checked.order.case_number,
        parties=tuple(parties),
        handler="、".join(handlers) or None,
        maker=checked.order.maker,
        extractor=checked.order.extractor,
        extracted_at=now,
        tz=ctx.tz,
        station=ctx.station,
        log_origin=ctx.checkpointer.origin,
        media=checked.order.media,
        selection="recordings" if checked.order.recordings else "case",
        request={
            "id": checked.order.request,
            "approver": request.decided_by if request else None,
            "category": request.category.value if request else None,
            "document_ref": request.document_ref if request else None,
        },
        discs=len(checked.plan),
    )
    entries: dict[int, list[dict[str, Any]]] = {}
    placed: dict[int, list[tuple[str, int, str]]] = {}
    for number, disc in enumerate(checked.plan, start=1):
        for item in disc:
            rec = by_id[item.recording]
            corrected = ctx.correct(rec)
            name = layout.readable_name(
                recording=rec.id,
                device=rec.device,
                start=corrected.start or rec.start_raw,
                seq=rec.seq,
                original_name=rec.original_name,
                tz=ctx.tz,
            )
            path = f"{verify_disc.ORIGINALS}/{name}"
            entries.setdefault(number, []).append(
                _recording_entry(
                    rec,
                    path,
                    contents[rec.id],
                    label=labels.get(rec.id),
                    found=found[rec.id],
                    corrected=corrected,
                    party_salts=salts[rec.id],
                )
            )
            placed.setdefault(number, []).append((path, rec.size, rec.id))
    others = {n: [i.recording for i in disc] for n, disc in enumerate(checked.plan, start=1)}
    manifests = {
        n: sheets.manifest(facts, disc=n, recordings=entries[n], others={m: ids for m, ids in others.items() if m != n})
        for n in entries
    }
    return facts, manifests, placed


def _log_export(
    ctx: ExportContext, checked: _Checked, facts: sheets.ExportFacts, manifests: dict[int, bytes], *, now: datetime
) -> dict[str, int]:
    """Step 4: one EXPORT entry per recording, in one transaction."""
    written: dict[str, int] = {}
    with ctx.catalog.begin() as conn:
        for number, disc in enumerate(checked.plan, start=1):
            for item in disc:
                written[item.recording] = ctx.journal.append(
                    conn,
                    EntryType.EXPORT,
                    recording=item.recording,
                    body={
                        "export_id": facts.export_id,
                        "maker": facts.maker,
                        "extractor": facts.extractor,
                        "case_number": facts.case_number,
                        "request": checked.order.request,
                        "disc": number,
                        "discs": facts.discs,
                        "manifest_sha256": hashlib.sha256(manifests[number]).hexdigest(),
                    },
                    time=now,
                )
    return written


def _disc_files(
    facts: sheets.ExportFacts,
    label: sheets.LabelFacts,
    manifest: bytes,
    *,
    log_files: dict[str, bytes],
    contents: dict[str, Content],
    placed: Sequence[tuple[str, int, str]],
) -> list[ImageFile]:
    """Step 5: every file of one disc; the originals as streams through the gate."""
    documents = {
        verify_disc.MANIFEST: manifest,
        verify_disc.VERIFY_NAME: sheets.VERIFIER_TEXT,
        verify_disc.README: sheets.README_TEXT,
        verify_disc.LABEL_HTML: sheets.label_html(facts, label),
        verify_disc.LABEL_TEXT: sheets.label_text(facts, label),
        **log_files,
    }
    listed = [sheets.DiscFile(p, len(d), hashlib.sha256(d).hexdigest()) for p, d in documents.items()]
    listed += [sheets.DiscFile(p, size, sha) for p, size, sha in placed]
    documents[verify_disc.SUMS] = sheets.sha256sums(listed)
    files = [ImageFile(path, len(data), data=data) for path, data in documents.items()]
    files += [ImageFile(p, size, stream=contents[sha].chunks) for p, size, sha in placed]
    return files
