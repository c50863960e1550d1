"""Planted or broken checkpoints: reported by `verify`, alarmed by the service, and never obeyed.

Anyone who can write to the bucket can put an object where checkpoints live.
Each kind below is put there on a real S3 server; the log must go on signing,
proving and ingesting as before, and every reader skips the object.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from chain.checkpoint import Checkpoint, generate_skey, parse_skey, sign_checkpoint
from evidock import log_queries
from evidock import settings as settings_mod
from evidock.api.factory import create_app
from evidock.app import App, checkpoint_reader, checkpointer_for, open_app
from evidock.cli import main
from evidock.keys import init_key
from evidock.runner import Service
from evidock.verify import verify
from storage.checkpoints import object_key
from storage.objects import StoredVersion
from tests import media
from tests.conftest import act_as, dock, raw_config, station_env, write_config
from tests.test_retention_alerts import webhook

pytestmark = pytest.mark.s3

__all__ = ["webhook"]  # the fixture, used by name below

ORIGIN = "evidock.local/log"


@dataclass
class Anchored:
    evi: App
    vkey: str
    config: Path
    size: int  # the size of the one good checkpoint
    inbox: Path


@pytest.fixture
def anchored(tmp_path: Path, s3_env: dict[str, str], bucket: str, webhook: tuple[str, Any]) -> Iterator[Anchored]:
    """A key, two recordings and one good checkpoint; alerts go to the test's webhook."""
    (tmp_path / "inbox").mkdir()
    config = write_config(
        tmp_path / "config.toml",
        raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"], alerts={"webhook_url": webhook[0]}),
    )
    settings = settings_mod.load(config, station_env(s3_env))
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        for n in range(2):
            dock(evi, media.clip(tmp_path / "inbox" / f"CAM31_P3001_2026112010{n:02d}00_{n + 1:04d}.mp4", mark=f"p{n}"))
        size = checkpointer_for(evi).make(evi.now()).checkpoint.size
        yield Anchored(evi, vkey, config, size, tmp_path / "inbox")


def _note(evi: App, size: int) -> str:
    (found,) = [c for c in checkpoint_reader(evi).stored() if c.checkpoint.size == size]
    return found.note


def _foreign(a: Anchored) -> tuple[str, bytes]:
    """A checkpoint of a larger size, well formed, signed by a key of the same name that is not the log's."""
    other = parse_skey(generate_skey(ORIGIN))
    note = sign_checkpoint(Checkpoint(ORIGIN, a.size + 1000, b"\x42" * 32), other)
    return object_key(a.size + 1000), note.encode()


def _garbage(a: Anchored) -> tuple[str, bytes]:
    """Bytes that are no note at all, under a key that sorts after every checkpoint."""
    return "checkpoints/zz-latest", b"\x00\xff not a checkpoint \xfe"


def _bad_signature(a: Anchored) -> tuple[str, bytes]:
    """The log's own note with its size raised: the log's key id, a signature that no longer verifies."""
    note = _note(a.evi, a.size).replace(f"\n{a.size}\n", f"\n{a.size + 1000}\n", 1)
    return object_key(a.size + 1000), note.encode()


def _over_the_latest(a: Anchored) -> tuple[str, bytes]:
    """A foreign checkpoint written as a second version over the newest good checkpoint's key."""
    other = parse_skey(generate_skey(ORIGIN))
    note = sign_checkpoint(Checkpoint(ORIGIN, a.size, b"\x24" * 32), other)
    return object_key(a.size), note.encode()


PLANTS = {
    "foreign_key": (_foreign, "checkpoint_foreign_key"),
    "garbage": (_garbage, "checkpoint_malformed"),
    "bad_signature": (_bad_signature, "checkpoint_signature"),
    "over_the_latest": (_over_the_latest, "checkpoint_foreign_key"),
}


def _plant(a: Anchored, kind: str) -> StoredVersion:
    key, data = PLANTS[kind][0](a)
    store = a.evi.store
    result = store._client.put_object(store.bucket, key, io.BytesIO(data), len(data))
    assert result.version_id
    return StoredVersion(key, result.version_id, len(data))


@pytest.mark.parametrize("kind", sorted(PLANTS))
def test_a_planted_checkpoint_is_reported_skipped_and_never_stops_the_log(
    anchored: Anchored,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a = anchored
    planted = _plant(a, kind)
    subject = f"{planted.key} version {planted.version_id}"

    report = verify(a.evi, a.vkey)
    named = [f for f in report.failures if f.subject == subject]
    assert [f.check for f in named] == [PLANTS[kind][1]], report.failures
    if kind in ("foreign_key", "over_the_latest"):
        signer = named[0].message
        assert "key id" in signer
        assert "not by the log's key" in signer

    # Every reader skips it: the latest checkpoint, proofs, consistency, signing the next checkpoint.
    caplog.set_level(logging.WARNING, logger="storage.checkpoints")
    reader = checkpoint_reader(a.evi)
    assert reader.latest_stored() is not None
    assert reader.latest_stored().checkpoint.size == a.size  # type: ignore[union-attr]
    assert log_queries.inclusion(a.evi, 0)["tree_size"] == a.size
    dock(a.evi, media.clip(a.inbox / "CAM31_P3001_20261120110000_0003.mp4", mark="after"))
    grown = checkpointer_for(a.evi).make(a.evi.now())
    assert grown.checkpoint.size > a.size
    assert log_queries.consistency(a.evi, a.size)["new_size"] == grown.checkpoint.size
    warned = [r for r in caplog.records if planted.version_id in r.getMessage()]
    assert len(warned) == 1  # once per process, however often it is read
    assert "CHECKPOINT REJECTED" in warned[0].getMessage()

    # The commands that refused before: `log checkpoint [--new]`, `log proof`, `log consistency`.
    cfg = ["--config", str(a.config)]
    act_as(a.evi.settings, monkeypatch, "sun.qi", "auditor")
    assert main([*cfg, "log", "checkpoint"]) == 0
    assert main([*cfg, "log", "checkpoint", "--new"]) == 0
    assert main([*cfg, "log", "proof", "--entry", "1", "--json"]) == 0
    assert main([*cfg, "log", "consistency", "--from", str(a.size), "--json"]) == 0
    outputs = capsys.readouterr().out
    assert '"old_size": ' + str(a.size) in outputs

    # And `verify` still names it, and only it (the log itself is whole).
    after = verify(a.evi, a.vkey)
    assert {(f.check, f.subject) for f in after.failures} == {(PLANTS[kind][1], subject)} | (
        {("checkpoint_rewritten", planted.key)} if kind == "over_the_latest" else set()
    )


def test_the_service_alarms_once_and_the_metric_counts(
    anchored: Anchored, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    a = anchored
    _, received = webhook
    foreign = _plant(a, "foreign_key")
    garbage = _plant(a, "garbage")
    service = Service(a.evi)
    service.audit_checkpoints()
    service.audit_checkpoints()  # a second look alarms nothing new
    bodies = sorted((r["body"] for r in received), key=lambda b: b["object_key"])
    assert [(b["alert"], b["object_key"], b["version_id"], b["rejection"]) for b in bodies] == [
        ("checkpoint_rejected", foreign.key, foreign.version_id, "foreign_key"),
        ("checkpoint_rejected", garbage.key, garbage.version_id, "malformed"),
    ]
    (signer,) = bodies[0]["signers"]
    assert signer.startswith(f"{ORIGIN} (key id ")
    assert bodies[0]["station"] == "dock-test"

    # The service still signs: a new entry is anchored by its checkpoint job.
    dock(a.evi, media.clip(a.inbox / "CAM31_P3001_20261120120000_0004.mp4", mark="svc"))
    service.checkpoint(force=True)
    assert checkpoint_reader(a.evi).latest_stored().checkpoint.size > a.size  # type: ignore[union-attr]

    answer = TestClient(create_app(a.evi)).get("/metrics")
    samples = {s.name: s.value for f in text_string_to_metric_families(answer.text) for s in f.samples}
    assert samples["evidock_checkpoints_rejected"] == 2


def test_a_delete_marker_on_a_checkpoint_is_reported_and_the_checkpoint_still_counts(anchored: Anchored) -> None:
    a = anchored
    store = a.evi.store
    store._client.remove_object(store.bucket, object_key(a.size))  # no version id: a delete marker
    (marker,) = [v for v in store.listing(object_key(a.size)) if v.delete_marker]
    report = verify(a.evi, a.vkey)
    assert [(f.check, f.subject) for f in report.failures] == [
        ("checkpoint_delete_marker", f"{object_key(a.size)} version {marker.version_id}")
    ]
    assert report.checked["checkpoint_roots"] == 1  # still read, by version, and still proves its root
    assert checkpoint_reader(a.evi).latest_stored().checkpoint.size == a.size  # type: ignore[union-attr]


def test_verify_json_names_the_planted_object(
    anchored: Anchored, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    a = anchored
    planted = _plant(a, "foreign_key")
    act_as(a.evi.settings, monkeypatch, "sun.qi", "auditor")
    assert main(["--config", str(a.config), "verify", "--json"]) == 1
    failures = json.loads(capsys.readouterr().out)["failures"]
    assert {"check": "checkpoint_foreign_key", "subject": f"{planted.key} version {planted.version_id}"} == {
        k: failures[0][k] for k in ("check", "subject")
    }
