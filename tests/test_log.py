"""The verifiable log end to end: checkpoints under Object Lock, proofs, and `verify` catching tampering."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from chain.checkpoint import Checkpoint, generate_skey, parse_skey, sign_checkpoint
from chain.merkle import root
from evidock import cli_common
from evidock.app import App, checkpointer_for, open_app
from evidock.cli import main
from evidock.keys import init_key
from evidock.settings import Settings
from evidock.verify import verify
from ingest.watcher import look
from storage.catalog import log_entries, log_nodes, recordings
from storage.checkpoints import LogForked, object_key
from storage.journal import SqlNodes
from tests import media
from tests.independent_verifier import verifier as independent

pytestmark = pytest.mark.s3


@dataclass
class Log:
    evi: App
    vkey: str
    config: Path
    recordings: list[str]


@pytest.fixture
def logged(settings: Settings, config_file: Path, tmp_path: Path) -> Iterator[Log]:
    """Three recordings, two checkpoints (after the first two and after all three)."""
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        pipeline = evi.pipeline()
        ids = []
        for n in range(3):
            clip = media.clip(
                tmp_path / "inbox" / f"CAM07_P7007_2026112009{n:02d}00_{n + 1:04d}.mp4", seconds=1, mark=f"log{n}"
            )
            file = look(clip.parent, clip, ())
            assert file is not None
            outcome = pipeline.ingest(file)
            assert outcome is not None
            ids.append(outcome.recording or "")
            if n == 1:
                checkpointer_for(evi).make(evi.now())
        checkpointer_for(evi).make(evi.now())
        yield Log(evi, vkey, config_file, ids)


def _failures(log: Log, *, deep: bool = False) -> set[tuple[str, str]]:
    report = verify(log.evi, log.vkey, deep=deep)
    return {(f.check, f.subject) for f in report.failures}


def test_a_clean_log_verifies(logged: Log, capsys: pytest.CaptureFixture[str]) -> None:
    report = verify(logged.evi, logged.vkey, deep=True)
    assert report.ok, report.failures
    assert report.checked["entries"] == 4  # KEY + 3 INGEST
    assert report.checked["checkpoints"] == 2
    assert report.checked["checkpoint_roots"] == 2
    assert report.checked["objects"] == 3
    assert main(["--config", str(logged.config), "verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_checkpoints_are_locked_in_the_object_store(logged: Log) -> None:
    stored = checkpointer_for(logged.evi).stored()
    assert [c.checkpoint.size for c in stored] == [3, 4]
    for c in stored:
        lock = logged.evi.store.read_lock(c.version)
        assert lock.mode == "COMPLIANCE"
        assert c.note.startswith("evidock.local/log\n")


def test_the_cli_proofs_satisfy_an_independent_verifier(logged: Log, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ["--config", str(logged.config)]
    assert main([*cfg, "keys", "show"]) == 0
    vkey = capsys.readouterr().out.strip()
    assert vkey == logged.vkey
    assert main([*cfg, "log", "checkpoint"]) == 0
    note = capsys.readouterr().out
    claim = independent.verify_checkpoint(note, vkey)
    assert claim.size == 4

    for index in range(4):
        assert main([*cfg, "log", "proof", "--entry", str(index), "--json"]) == 0
        proof = json.loads(capsys.readouterr().out)
        assert proof["checkpoint"] == note
        parsed = independent.verify_entry(base64.b64decode(proof["entry_b64"]), index, proof["proof"], note, vkey)
        assert parsed["type"] == ("KEY" if index == 0 else "INGEST")

    assert main([*cfg, "log", "consistency", "--from", "3", "--json"]) == 0
    consistency = json.loads(capsys.readouterr().out)
    independent.verify_extension(
        consistency["old_checkpoint"], consistency["new_checkpoint"], consistency["proof"], vkey
    )

    # A proof for another entry, or a tampered proof, is refused by the independent verifier.
    assert main([*cfg, "log", "proof", "--entry", "2", "--json"]) == 0
    two = json.loads(capsys.readouterr().out)
    with pytest.raises(independent.VerificationError):
        independent.verify_entry(base64.b64decode(two["entry_b64"]), 1, two["proof"], note, vkey)
    flipped = [("0" if two["proof"][0][0] != "0" else "1") + two["proof"][0][1:], *two["proof"][1:]]
    with pytest.raises(independent.VerificationError):
        independent.verify_entry(base64.b64decode(two["entry_b64"]), 2, flipped, note, vkey)

    cli_common.out.width = 250
    assert main([*cfg, "log", "entry", "1", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["entry"]["recording"] == logged.recordings[0]


def test_an_edited_entry_is_caught(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        data = conn.execute(select(log_entries.c.data).where(log_entries.c.idx == 2)).scalar_one()
        edited = bytes(data).replace(b'"officer":"P7007"', b'"officer":"P0000"')
        assert edited != data
        conn.execute(update(log_entries).where(log_entries.c.idx == 2).values(data=edited))
    failures = _failures(logged)
    assert ("checkpoint_root_mismatch", object_key(3)) in failures
    assert ("checkpoint_root_mismatch", object_key(4)) in failures
    assert ("catalog_mismatch", logged.recordings[1]) in failures  # officer differs from the catalog now
    assert ("log_node_mismatch", "node 0/2") in failures


def test_the_checkpointer_refuses_to_sign_a_rewritten_tree(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        conn.execute(update(log_nodes).where(log_nodes.c.level == 2, log_nodes.c.idx == 0).values(hash=b"\x00" * 32))
    with pytest.raises(LogForked, match="the log was rewritten"):
        checkpointer_for(logged.evi).make(logged.evi.now())
    logged.evi.log_key(logged.vkey)  # one more entry: the new tree must extend the stored checkpoint
    with pytest.raises(LogForked, match="does not extend"):
        checkpointer_for(logged.evi).make(logged.evi.now())
    assert [c.checkpoint.size for c in checkpointer_for(logged.evi).stored()] == [3, 4], "nothing was signed"


def test_the_checkpointer_refuses_to_sign_an_entry_edited_after_append(logged: Log) -> None:
    index = logged.evi.log_key(logged.vkey)
    with logged.evi.catalog.begin() as conn:
        data = bytes(conn.execute(select(log_entries.c.data).where(log_entries.c.idx == index)).scalar_one())
        conn.execute(update(log_entries).where(log_entries.c.idx == index).values(data=data.replace(b"add", b"del")))
    with pytest.raises(LogForked, match=f"log entry {index} does not match its stored leaf"):
        checkpointer_for(logged.evi).make(logged.evi.now())


def test_a_deleted_entry_is_caught(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        conn.execute(update(recordings).where(recordings.c.id == logged.recordings[0]).values(ingest_entry=0))
        conn.execute(delete(log_entries).where(log_entries.c.idx == 1))
    failures = _failures(logged)
    assert ("log_entry_missing", "1") in failures
    assert ("catalog_without_ingest", logged.recordings[0]) in failures
    assert ("log_head", "4") in failures
    assert ("checkpoint_root_mismatch", object_key(3)) in failures


def test_swapped_entries_are_caught(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        one, two = (
            bytes(conn.execute(select(log_entries.c.data).where(log_entries.c.idx == i)).scalar_one()) for i in (1, 2)
        )
        conn.execute(update(log_entries).where(log_entries.c.idx == 1).values(data=two))
        conn.execute(update(log_entries).where(log_entries.c.idx == 2).values(data=one))
    failures = _failures(logged)
    assert ("checkpoint_root_mismatch", object_key(3)) in failures
    assert ("log_entry_columns", "1") in failures
    assert ("log_entry_columns", "2") in failures


def test_a_changed_catalog_row_is_caught(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        conn.execute(update(recordings).where(recordings.c.id == logged.recordings[2]).values(device="CAM99"))
    report = verify(logged.evi, logged.vkey)
    assert [(f.check, f.subject) for f in report.failures] == [("catalog_mismatch", logged.recordings[2])]
    assert "device is 'CAM99' in the catalog, 'CAM07' in entry 3" in report.failures[0].message


def test_a_new_version_over_a_stored_recording_is_caught(logged: Log) -> None:
    with logged.evi.catalog.read() as conn:
        key = conn.execute(select(recordings.c.object_key).where(recordings.c.id == logged.recordings[0])).scalar_one()
    logged.evi.store._client.put_object(logged.evi.store.bucket, key, io.BytesIO(b"forged"), 6)
    assert _failures(logged) == {("object_versions", key)}


def test_a_checkpoint_signed_by_another_key_is_caught(logged: Log) -> None:
    other = parse_skey(generate_skey("evidock.local/log"))
    with logged.evi.catalog.read() as conn:
        note = sign_checkpoint(Checkpoint("evidock.local/log", 4, root(4, SqlNodes(conn))), other)
    logged.evi.store.put_small(object_key(5), note.encode())
    failures = _failures(logged)
    assert any(check == "checkpoint_signature" and subject.startswith(object_key(5)) for check, subject in failures)


def test_a_forked_log_is_caught(logged: Log) -> None:
    signer = checkpointer_for(logged.evi).signer
    forged = sign_checkpoint(Checkpoint("evidock.local/log", 4, b"\x42" * 32), signer)
    logged.evi.store.put_small(object_key(4), forged.encode())  # a second version: same size, other root
    failures = _failures(logged)
    assert ("log_forked", object_key(4)) in failures
    assert ("checkpoint_rewritten", object_key(4)) in failures
    assert ("checkpoint_root_mismatch", object_key(4)) in failures
    with pytest.raises(LogForked):
        checkpointer_for(logged.evi).make(logged.evi.now())
