"""Redacted copies for the party concerned (art. 29), end to end against the real S3 server and real ffmpeg.

A party's request is approved; the delivery is refused until a redacted copy
exists; one custodian drafts the redaction (a muted range, a bleep, a blurred
box), previews a frame and submits it; a second custodian approves; the copy
is rendered and delivered. Then the copy is measured: the muted range is
silence and the rest keeps its level; the blurred box differs strongly from the
original and the picture outside it hardly; the DERIVED entry's hashes are the
files'; the original's bytes never changed. The audit trail shows each step
by person.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from access.errors import ApprovalError
from access.people import Person, Role, add_user
from chain.entries import Entry, EntryType
from derived.spec import SpecError
from evidock import settings as settings_mod
from evidock.app import App, checkpointer_for, open_app, retention_context
from evidock.keys import init_key
from evidock.settings import Settings
from evidock.verify import verify
from retention import labelling
from storage import journal
from storage import recordings as recordings_db
from storage.access_terms import Action, Category
from storage.derived import RedactionState, derived_of
from storage.objects import StoredVersion
from tests import media
from tests.conftest import dock, raw_config, station_env, write_config

pytestmark = pytest.mark.s3

C1, C2 = Person("c1", Role.CUSTODIAN), Person("c2", Role.CUSTODIAN)
CASE = "京朝公(治)行罚决字[2026]17号"
BOX = [100, 60, 120, 90]  # x, y, width, height: the bystander's face
SPEC = {
    "audio": [{"from_ms": 2000, "to_ms": 4000, "sound": "mute"}, {"from_ms": 5000, "to_ms": 6000, "sound": "bleep"}],
    "video": [{"from_ms": 1000, "to_ms": 4000, "box": BOX}],
}


@dataclass
class World:
    settings: Settings
    vkey: str
    tmp: Path
    clip: Path  # the original as docked (kept in the inbox)
    recording: str
    plain: str  # a second recording of the same party, with no third party in it


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> World:
    tmp = tmp_path_factory.mktemp("redaction")
    inbox = tmp / "inbox"
    inbox.mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    settings = settings_mod.load(config, station_env(s3_env))
    vkey, _ = init_key(settings)
    mark = uuid.uuid4().hex
    with open_app(settings) as evi:
        evi.log_key(vkey)
        with evi.catalog.begin() as conn:
            for person in (C1, C2):
                add_user(conn, journal=evi.journal, actor=Person("(test)", Role.ADMIN), name=person.name,
                         role=person.role, time=evi.now())  # fmt: skip
        clip = media.clip(inbox / "CAM01_P1001_20261120080000_0001.mp4", seconds=8, size="320x240", mark=mark)
        recording = dock(evi, clip)
        plain = dock(evi, media.clip(inbox / "CAM01_P1001_20261120080010_0002.mp4", seconds=2, mark=mark + "b"))
        labelling.label(retention_context(evi), [recording, plain], case_number=CASE, parties=["张三"],
                        handler="李四", by="c1", now=evi.now())  # fmt: skip
    return World(settings, vkey, tmp, clip, recording, plain)


@pytest.fixture(scope="module")
def evi(world: World) -> Iterator[App]:
    with open_app(world.settings, ensure_bucket=False) as app:
        yield app


def _party_request(evi: App, recordings: list[str]) -> int:
    gate = evi.gate()
    asked = gate.request(C1, recordings, action=Action.COPY, reason="当事人申请查阅", category=Category.PARTY,
                         document_ref="申请书 2026-17", party="张三")  # fmt: skip
    gate.decide(C2, asked.id, approve=True, reason="负责人批准")
    return asked.id


def _volume(path: Path, start: float, length: float, *, band: int | None = None) -> tuple[float, float]:
    """(mean, max) volume in dB of ``length`` seconds from ``start`` (only around ``band`` Hz if given)."""
    filters = (f"bandpass=f={band}:width_type=q:w=8," if band else "") + "volumedetect"
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-ss", str(start), "-t", str(length), "-i", str(path),
         "-vn", "-af", filters, "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    mean = re.search(r"mean_volume: (-?[\d.]+|-inf) dB", done.stderr)
    peak = re.search(r"max_volume: (-?[\d.]+|-inf) dB", done.stderr)
    assert mean, done.stderr
    assert peak, done.stderr
    return float(mean.group(1)), float(peak.group(1))


def _psnr(original: Path, copy: Path, at: float, box: list[int]) -> float:
    """PSNR (dB) of the area ``box`` of one frame at ``at`` seconds, the copy against the original."""
    x, y, w, h = box
    crop = f"crop={w}:{h}:{x}:{y}"
    done = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-ss", str(at), "-i", str(original), "-ss", str(at), "-i", str(copy),
         "-filter_complex", f"[0:v]{crop}[a];[1:v]{crop}[b];[a][b]psnr", "-frames:v", "1", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"average:([\d.]+|inf)", done.stderr)
    assert found, done.stderr
    return float(found.group(1))


def _entries(evi: App, recording: str, after: int) -> list[tuple[int, Entry]]:
    with evi.catalog.read() as conn:
        found = [(i, journal.entry_at(conn, i)) for i in range(after + 1, journal.size(conn))]
    return [(i, e) for i, e in found if e.recording == recording]


def test_a_party_request_end_to_end_request_redaction_approval_render_copy(
    world: World, evi: App, tmp_path: Path
) -> None:
    gate, desk = evi.gate(), evi.redaction_desk()
    with evi.catalog.read() as conn:
        start = journal.size(conn) - 1
    number = _party_request(evi, [world.recording])

    # Approved, but the party may not have the original: it shows a third party.
    with pytest.raises(ApprovalError, match="approved redacted copy"):
        gate.download(C1, world.recording, request_id=number, out=tmp_path / "refused.mp4")
    assert not (tmp_path / "refused.mp4").exists()

    # c1 drafts the redaction for the request; a spec outside the picture is refused, naming the region.
    with pytest.raises(SpecError, match=r"video\[0\].box = \[300, 60, 120, 90\] reaches outside the 320x240 picture"):
        desk.new(C1, world.recording, {"video": [{"from_ms": 0, "to_ms": 1000, "box": [300, 60, 120, 90]}]},
                 reason="遮挡第三人", request=number)  # fmt: skip
    draft = desk.new(C1, world.recording, SPEC, reason="遮挡路人面部和声音", request=number)
    assert draft.state is RedactionState.DRAFT
    shown = desk.preview(C1, draft.id, at_ms=2000, out=tmp_path / "preview.png")
    assert shown.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ApprovalError, match="only an approved one is rendered"):
        desk.render(C1, draft.id)
    desk.submit(C1, draft.id)
    with pytest.raises(ApprovalError, match="two-person rule"):
        desk.decide(C1, draft.id, approve=True, reason="自批")
    approved = desk.decide(C2, draft.id, approve=True, reason="已核对遮挡范围")
    assert (approved.state, approved.decided_by) == (RedactionState.APPROVED, "c2")
    made = desk.render(C1, draft.id)
    delivered = gate.download(C1, world.recording, request_id=number, out=tmp_path / "party.mp4")

    # The party got the redacted copy, as the DERIVED entry describes it.
    copy = tmp_path / "party.mp4"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == delivered.sha256 == made.sha256
    assert delivered.size == made.size == copy.stat().st_size
    assert delivered.disclosed["delivered"] == {
        "kind": "redacted", "sha256": made.sha256, "size": made.size, "derived_entry": made.entry,
    }  # fmt: skip
    assert delivered.disclosed["parties"] == ["张三"]

    # The audit trail: each step, by person.
    steps = [
        (e.type.value, e.body.get("action"), e.body.get("actor") or e.body.get("by") or e.body.get("approver")
         or e.body.get("requested_by"))
        for _, e in _entries(evi, world.recording, start)
    ]  # fmt: skip
    assert steps == [
        ("REQUEST", "copy", "c1"),
        ("APPROVAL", "copy", "c2"),
        ("REDACTION", "draft", "c1"),
        ("ACCESS", "view", "c1"),  # the preview read the original through the gate
        ("REDACTION", "submit", "c1"),
        ("REDACTION", "approve", "c2"),
        ("DERIVED", None, "c1"),
        ("ACCESS", "copy", "c1"),
    ]
    trail = dict(_entries(evi, world.recording, start))
    derived = trail[made.entry]
    assert derived.body["kind"] == "redacted"
    assert (derived.body["requested_by"], derived.body["approved_by"], derived.body["made_by"]) == ("c1", "c2", "c1")
    assert derived.body["redaction"] == draft.id
    assert derived.body["spec_sha256"] == draft.spec_sha256 == trail[max(trail) - 2].body["spec_sha256"]
    access = trail[delivered.entry]
    assert (access.body["derived"], access.body["derived_kind"], access.body["derived_entry"]) == (
        made.sha256, "redacted", made.entry,
    )  # fmt: skip

    # The original is untouched, and is what the DERIVED entry names.
    with evi.catalog.read() as conn:
        rec = recordings_db.get(conn, world.recording)
    assert rec is not None
    assert derived.body["original_sha256"] == rec.id == hashlib.sha256(world.clip.read_bytes()).hexdigest()
    version = StoredVersion(rec.object_key, rec.version_id, rec.size)
    assert evi.store.fixity_sha256(version) == (rec.id, rec.size)
    assert evi.store.versions(rec.object_key) == [version]

    # The muted range is silence; before and after it the sound keeps its level; the bleep is a 1 kHz tone.
    before_mean, _ = _volume(world.clip, 0.3, 1.4)
    assert _volume(copy, 2.1, 1.8)[1] <= -80.0, "the muted range is silent"
    for start_s in (0.3, 4.2):
        mean, _ = _volume(copy, start_s, 0.6)
        assert abs(mean - before_mean) < 1.0, (start_s, mean, before_mean)
    assert _volume(copy, 5.1, 0.8, band=1000)[0] > _volume(world.clip, 5.1, 0.8, band=1000)[0] + 20

    # The blurred box differs strongly from the original while the blur lasts; the rest hardly.
    inside = _psnr(world.clip, copy, 2.0, BOX)
    outside = _psnr(world.clip, copy, 2.0, [0, 160, 96, 64])
    after = _psnr(world.clip, copy, 6.0, BOX)
    assert inside < 22.0, inside
    assert outside > 30.0, outside
    assert after > 30.0, after

    checkpointer_for(evi).make(evi.now())
    report = verify(evi, world.vkey, deep=True)
    assert report.ok, report.failures


def test_the_approvers_statement_lets_the_party_have_the_original(world: World, evi: App, tmp_path: Path) -> None:
    gate, desk = evi.gate(), evi.redaction_desk()
    number = _party_request(evi, [world.plain])
    with pytest.raises(ApprovalError, match="only the custodian who approved request"):
        desk.no_third_parties(C1, number, world.plain, statement="画面和声音中无第三人")
    stated = desk.no_third_parties(C2, number, world.plain, statement="画面和声音中无第三人")
    assert (stated.state, stated.decided_by, stated.request) == (RedactionState.NO_THIRD_PARTIES, "c2", number)
    got = gate.download(C1, world.plain, request_id=number, out=tmp_path / "whole.mp4")
    assert got.sha256 == world.plain
    assert "delivered" not in got.disclosed
    with evi.catalog.read() as conn:
        access = journal.entry_at(conn, got.entry)
        statement = journal.entry_at(conn, access.prev or 0)
        assert derived_of(conn, world.plain) == []
    assert access.body["no_third_parties"] == stated.id
    assert (statement.type, statement.body["action"], statement.body["by"]) == (
        EntryType.REDACTION, "no-third-parties", "c2",
    )  # fmt: skip


def test_a_party_disc_needs_the_statement(world: World, evi: App) -> None:
    gate = evi.gate()
    asked = gate.request(C1, [world.recording], action=Action.EXPORT, reason="当事人申请刻录",
                         category=Category.PARTY, document_ref="申请书 2026-18", party="张三")  # fmt: skip
    gate.decide(C2, asked.id, approve=True, reason="批准")
    with pytest.raises(ApprovalError, match="a party's disc"):
        gate.check_grant(C1, world.recording, action=Action.EXPORT, request_id=asked.id)
