"""Playback proxies against the real S3 server and real ffmpeg: an HEVC MP4 and an MJPEG/ADPCM AVI.

One station docks three recordings made here with ffmpeg (H.264, HEVC, MJPEG
in AVI), then the background worker (the service's job, run directly) makes
the proxies. The DERIVED entries must bind the originals' hashes to the
proxies' bytes as stored; playback serves the proxy and its ACCESS entry names
both; a download is the original; the originals never change; verify checks
the derived objects; purge deletes them with their original.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from access.people import Person, Role, add_user
from chain.entries import EntryType
from derived.ffmpeg import command, ffmpeg_version
from evidock import settings as settings_mod
from evidock.app import App, checkpointer_for, open_app, retention_context
from evidock.keys import init_key
from evidock.runner import Service
from evidock.settings import Settings
from evidock.verify import verify
from ingest.pipeline import Pipeline
from ingest.probe import probe
from ingest.watcher import look
from retention.purge import purge
from storage import journal
from storage import recordings as recordings_db
from storage.access_terms import Action, Category
from storage.derived import DerivedKind, derived_of, derived_prefix
from storage.objects import StoredVersion
from storage.proxy_jobs import JobState, job_of
from tests import media
from tests.conftest import dock, raw_config, station_env, write_config

pytestmark = pytest.mark.s3

C1, C2 = Person("c1", Role.CUSTODIAN), Person("c2", Role.CUSTODIAN)


@dataclass
class World:
    settings: Settings
    vkey: str
    tmp: Path
    h264: str
    hevc: str
    avi: str
    made: int


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> World:
    tmp = tmp_path_factory.mktemp("proxies")
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
        first = inbox / "CAM01_P1001_20261120080000_0001.mp4"
        h264 = dock(evi, media.clip(first, seconds=3, size="320x240", mark=mark))
        hevc = dock(evi, media.hevc_clip(inbox / "CAM02_P1002_20261120080000_0001.mp4", seconds=3, mark=mark))
        avi = dock(evi, media.mjpeg_avi(inbox / "CAM03_P1003_20261120080000_0001.avi", seconds=3, mark=mark))
        made = evi.proxy_worker().run()
        checkpointer_for(evi).make(evi.now())
    return World(settings, vkey, tmp, h264, hevc, avi, made)


@pytest.fixture(scope="module")
def evi(world: World) -> Iterator[App]:
    with open_app(world.settings, ensure_bucket=False) as app:
        yield app


def _bytes_of(evi: App, key: str, version_id: str, size: int, target: Path) -> str:
    with target.open("wb") as sink:
        digest, read = evi.store.read_into(StoredVersion(key, version_id, size), sink)
    assert read == size
    return digest


def test_a_browser_unplayable_recording_gets_a_proxy_and_a_playable_one_does_not(world: World, evi: App) -> None:
    assert world.made == 2
    with evi.catalog.read() as conn:
        jobs = {rid: job_of(conn, rid) for rid in (world.h264, world.hevc, world.avi)}
        proxies = {rid: derived_of(conn, rid) for rid in jobs}
    assert {rid: (j.state if j else None) for rid, j in jobs.items()} == {
        world.h264: JobState.NOT_NEEDED,
        world.hevc: JobState.DONE,
        world.avi: JobState.DONE,
    }
    hevc_job = jobs[world.hevc]
    assert hevc_job is not None
    assert hevc_job.reason == "video codec hevc"
    avi_job = jobs[world.avi]
    assert avi_job is not None
    assert avi_job.reason == "video codec mjpeg, audio codec adpcm_ima_wav, file type .avi"
    assert avi_job.percent == 100
    assert proxies[world.h264] == []
    assert [p.kind for p in proxies[world.hevc]] == [DerivedKind.PROXY]
    assert evi.proxy_worker().run() == 0, "a second run makes nothing new"


@pytest.mark.parametrize("which", ["hevc", "avi"])
def test_the_derived_entry_binds_the_original_to_the_proxy_as_stored(
    world: World, evi: App, tmp_path: Path, which: str
) -> None:
    rid = getattr(world, which)
    with evi.catalog.read() as conn:
        (proxy,) = derived_of(conn, rid)
        entry = journal.entry_at(conn, proxy.entry)
        rec = recordings_db.get(conn, rid)
    assert rec is not None
    assert entry.type is EntryType.DERIVED
    assert entry.recording == rid
    body = entry.body
    assert body["original_sha256"] == rid
    assert body["kind"] == "proxy"
    assert body["requested_by"] == world.settings.station_id
    assert body["approved_by"] is None
    assert body["ffmpeg"] == ffmpeg_version()
    assert str(body["ffmpeg"]).startswith("ffmpeg version ")
    assert str(body["object_key"]).startswith(derived_prefix(rid))
    assert body["retain_until"] == rec.retain_until.strftime("%Y-%m-%dT%H:%M:%SZ"), "locked as long as the original"
    target = tmp_path / "proxy.mp4"
    sha = _bytes_of(evi, str(body["object_key"]), str(body["version_id"]), int(str(body["size"])), target)
    assert sha == body["sha256"] == proxy.sha256
    facts = probe(target)
    assert (facts.container or "").startswith("mov,mp4"), facts
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert facts.duration_ms is not None
    assert abs(facts.duration_ms - 3000) <= 100
    lock = evi.store.read_lock(StoredVersion(proxy.object_key, proxy.version_id, proxy.size))
    assert lock.mode == "COMPLIANCE"
    assert lock.retain_until is not None
    assert lock.retain_until >= rec.retain_until.replace(microsecond=0)


def test_the_recorded_command_repeats_the_proxy_byte_for_byte(world: World, evi: App, tmp_path: Path) -> None:
    with evi.catalog.read() as conn:
        (proxy,) = derived_of(conn, world.hevc)
        rec = recordings_db.get(conn, world.hevc)
    assert rec is not None
    original = tmp_path / "original.mp4"
    assert _bytes_of(evi, rec.object_key, rec.version_id, rec.size, original) == rec.id
    again = tmp_path / "again.mp4"
    repeated = command(proxy.arguments, source=original, target=again)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", *repeated], check=True)
    assert hashlib.sha256(again.read_bytes()).hexdigest() == proxy.sha256


def test_playback_serves_the_proxy_and_its_access_entry_names_proxy_and_original(world: World, evi: App) -> None:
    gate = evi.gate()
    content = gate.open_content(C1, world.hevc, action=Action.STREAM, reason="复核", playback=True)
    with evi.catalog.read() as conn:
        (proxy,) = derived_of(conn, world.hevc)
        access = journal.entry_at(conn, content.entry)
    assert content.served.derived == proxy
    assert hashlib.sha256(b"".join(content.chunks())).hexdigest() == proxy.sha256
    assert access.type is EntryType.ACCESS
    assert access.recording == world.hevc
    assert (access.body["derived"], access.body["derived_kind"], access.body["derived_entry"]) == (
        proxy.sha256,
        "proxy",
        proxy.entry,
    )
    # Without a player asking (an API view), and for a recording a browser plays, the original is served.
    plain = gate.open_content(C1, world.hevc, action=Action.VIEW, reason="复核")
    assert plain.served.derived is None
    assert hashlib.sha256(b"".join(plain.chunks())).hexdigest() == world.hevc
    playable = gate.open_content(C1, world.h264, action=Action.STREAM, reason="复核", playback=True)
    assert playable.served.derived is None
    with evi.catalog.read() as conn:
        assert "derived" not in journal.entry_at(conn, playable.entry).body


def test_a_download_is_always_the_original(world: World, evi: App, tmp_path: Path) -> None:
    gate = evi.gate()
    asked = gate.request(C1, [world.avi], action=Action.DOWNLOAD, reason="法院调取", category=Category.COURT,
                         document_ref="(2026)京0105刑初9号")  # fmt: skip
    gate.decide(C2, asked.id, approve=True, reason="批准")
    got = gate.download(C1, world.avi, request_id=asked.id, out=tmp_path / "copy.avi")
    assert got.sha256 == world.avi
    assert hashlib.sha256((tmp_path / "copy.avi").read_bytes()).hexdigest() == world.avi


def test_the_originals_are_untouched_and_verify_checks_the_derived_files(world: World, evi: App) -> None:
    with evi.catalog.read() as conn:
        recs = [recordings_db.get(conn, rid) for rid in (world.hevc, world.avi)]
        ingests = [journal.entry_at(conn, r.ingest_entry) for r in recs if r]
    for rec, entry in zip(recs, ingests, strict=True):
        assert rec is not None
        version = StoredVersion(rec.object_key, rec.version_id, rec.size)
        assert evi.store.fixity_sha256(version) == (rec.id, rec.size)
        assert evi.store.versions(rec.object_key) == [version]
        assert entry.body["sha256"] == rec.id
    checkpointer_for(evi).make(evi.now())
    report = verify(evi, world.vkey, deep=True)
    assert report.ok, report.failures
    assert report.checked["derived_files"] == 2


def test_verify_names_a_derived_object_no_entry_made(world: World, evi: App) -> None:
    key = derived_prefix(world.hevc) + "0" * 64
    planted = evi.store.put_small(key, b"not a proxy")
    try:
        report = verify(evi, world.vkey)
        assert [(f.check, f.subject) for f in report.failures] == [
            ("derived_unexplained", f"{key} version {planted.version_id}")
        ]
    finally:
        evi.store.delete_version(planted)


def test_purge_deletes_the_proxies_with_their_original(
    tmp_path: Path, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "inbox").mkdir()
    config = write_config(
        tmp_path / "config.toml", raw_config(tmp_path, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"])
    )
    settings = settings_mod.load(config, station_env(s3_env))
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        name = "CAM02_P1002_20250110080000_0001.mp4"
        clip = media.hevc_clip(tmp_path / "inbox" / name, seconds=1, mark=str(tmp_path))
        file = look(clip.parent, clip, ())
        assert file is not None
        base = evi.pipeline().options
        # Locked for 15 s: long enough for the proxy to be made (and locked) on a busy machine, short for a test.
        options = replace(base, retain_until=lambda _end: datetime.now(UTC) + timedelta(seconds=15))
        outcome = Pipeline(store=evi.store, catalog=evi.catalog, journal=evi.journal, options=options).ingest(file)
        assert outcome is not None
        assert outcome.recording is not None
        rid = outcome.recording
        assert evi.proxy_worker().run() == 1
        with evi.catalog.read() as conn:
            (proxy,) = derived_of(conn, rid)
        assert proxy.retain_until is not None, "locked while the original is"
        time.sleep(max(0.0, (proxy.retain_until - datetime.now(UTC)).total_seconds()) + 1.5)
        report = purge(retention_context(evi), now=datetime.now(UTC) + timedelta(days=100), apply=True)
        assert [(i.recording, i.action) for i in report.items] == [(rid, "purged")], report.items
        assert report.items[0].versions_deleted == 2  # the original and its proxy
        assert evi.store.listing(derived_prefix(rid)) == []
        with evi.catalog.read() as conn:
            entry = journal.entry_at(conn, int(str(report.items[0].entry)))
        assert entry.body["derived"] == [
            {"entry": proxy.entry, "kind": "proxy", "object_key": proxy.object_key, "version_id": proxy.version_id}
        ]
        checkpointer_for(evi).make(evi.now())
        checked = verify(evi, vkey)
        assert checked.ok, checked.failures


def test_a_stop_ends_ffmpeg_and_the_proxy_waits_for_the_next_start(world: World, evi: App) -> None:
    """SIGTERM of the service: ffmpeg is ended, nothing is logged, the job waits; the next run makes the proxy."""
    clip = media.hevc_clip(world.tmp / "inbox" / "CAM04_P1004_20261120090000_0001.mp4", seconds=30, size="640x360",
                           mark=uuid.uuid4().hex)  # fmt: skip
    rid = dock(evi, clip)
    worker = evi.proxy_worker()
    worker.examine()
    stop = threading.Event()
    progress: list[int] = []
    original_set = worker.progress_seconds
    worker.progress_seconds = 0.0
    made: list[int] = []
    runner = threading.Thread(target=lambda: made.append(worker.run(stop.is_set)))
    runner.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with evi.catalog.read() as conn:
            job = job_of(conn, rid)
        if job is not None and job.progress_ms > 0:
            progress.append(job.progress_ms)
            break
        time.sleep(0.2)
    stop.set()
    runner.join(timeout=30)
    worker.progress_seconds = original_set
    assert progress, "ffmpeg reported progress before the stop"
    assert made == [0]
    with evi.catalog.read() as conn:
        job = job_of(conn, rid)
        assert derived_of(conn, rid) == []
    assert job is not None
    assert (job.state, job.attempts) == (JobState.WAITING, 0)
    assert evi.store.listing(derived_prefix(rid)) == []
    assert evi.proxy_worker().run() == 1


def test_the_service_makes_proxies_from_its_scheduler(world: World, evi: App) -> None:
    """`evidock run` wires the worker into the node's own scheduler (a job of its own), beside the ingest loop."""
    service = Service(evi)
    assert service.local.get_job("proxies") is not None
    rid = dock(evi, media.mjpeg_avi(world.tmp / "inbox" / "CAM05_P1005_20261120090000_0001.avi", seconds=1,
                                    mark=uuid.uuid4().hex))  # fmt: skip
    service.make_proxies()
    with evi.catalog.read() as conn:
        assert [d.kind for d in derived_of(conn, rid)] == [DerivedKind.PROXY]
    off = replace(world.settings, derived=replace(world.settings.derived, proxies=False))
    with open_app(off, ensure_bucket=False) as quiet:
        assert Service(quiet).local.get_job("proxies") is None


def test_ffmpeg_is_held_while_the_dock_is_busy_and_no_job_starts(world: World, evi: App) -> None:
    """Ingest comes first: while files arrive or are ingested, a running ffmpeg is stopped and nothing new starts."""
    clip = media.hevc_clip(world.tmp / "inbox" / "CAM06_P1006_20261120090000_0001.mp4", seconds=30, size="640x360",
                           mark=uuid.uuid4().hex)  # fmt: skip
    rid = dock(evi, clip)
    busy = threading.Event()
    worker = evi.proxy_worker()
    worker.pause_while = busy.is_set
    worker.progress_seconds = 0.0
    busy.set()
    assert worker.run() == 0, "no job starts while the dock is busy"
    with evi.catalog.read() as conn:
        job = job_of(conn, rid)
    assert job is not None
    assert job.state is JobState.WAITING
    busy.clear()

    def progress_ms() -> int:
        with evi.catalog.read() as conn:
            found = job_of(conn, rid)
        assert found is not None
        return found.progress_ms

    made: list[int] = []
    runner = threading.Thread(target=lambda: made.append(worker.run()))
    runner.start()
    deadline = time.monotonic() + 120
    while progress_ms() == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    busy.set()  # a file arrives
    time.sleep(2)
    held = progress_ms()
    time.sleep(3)
    assert progress_ms() == held, "ffmpeg made no progress while the dock was busy"
    assert runner.is_alive()
    busy.clear()
    runner.join(timeout=300)
    assert made == [1]
    with evi.catalog.read() as conn:
        assert [d.kind for d in derived_of(conn, rid)] == [DerivedKind.PROXY]
