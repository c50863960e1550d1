"""The verifiable log end to end: checkpoints under Object Lock, proofs, and `verify` catching tampering."""

from __future__ import annotations

import base64
import io
import json
import multiprocessing
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import delete, select, update

from chain.checkpoint import Checkpoint, generate_skey, parse_skey, sign_checkpoint
from chain.merkle import root
from evidock.app import App, checkpointer_for, open_app
from evidock.cli import main
from evidock.keys import init_key
from evidock.settings import Settings
from evidock.verify import verify
from ingest.watcher import look
from storage import journal
from storage.checkpoints import LogForked, object_key
from storage.journal import SqlNodes
from storage.schema import log_entries, log_nodes, recordings
from tests import media
from tests.conftest import act_as
from tests.independent_verifier import verifier as independent

pytestmark = pytest.mark.s3


@dataclass
class Log:
    evi: App
    vkey: str
    config: Path
    recordings: list[str]
    ingests: list[int]  # log index of each recording's INGEST entry
    sizes: list[int]  # sizes of the two checkpoints

    def key(self, n: int) -> str:
        """The object key of checkpoint number ``n``."""
        return object_key(self.sizes[n])


@pytest.fixture
def logged(settings: Settings, config_file: Path, tmp_path: Path) -> Iterator[Log]:
    """Three recordings, two checkpoints (after the first two and after all three)."""
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        pipeline = evi.pipeline()
        ids, sizes = [], []
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
                sizes.append(checkpointer_for(evi).make(evi.now()).checkpoint.size)
        sizes.append(checkpointer_for(evi).make(evi.now()).checkpoint.size)
        with evi.catalog.read() as conn:
            rows = conn.execute(select(recordings.c.id, recordings.c.ingest_entry)).all()
        entries = dict(rows)
        yield Log(evi, vkey, config_file, ids, [entries[i] for i in ids], sizes)


def _failures(log: Log, *, deep: bool = False) -> set[tuple[str, str]]:
    """What verify finds; decoding in worker processes must find exactly the same (a small log decodes in-process)."""
    report = verify(log.evi, log.vkey, deep=deep)
    assert verify(log.evi, log.vkey, deep=deep, workers=2).as_json() == report.as_json()
    return {(f.check, f.subject) for f in report.failures}


def test_a_clean_log_verifies(
    logged: Log, capsys: pytest.CaptureFixture[str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = verify(logged.evi, logged.vkey, deep=True)
    assert report.ok, report.failures
    assert verify(logged.evi, logged.vkey, deep=True, workers=2).as_json() == report.as_json()
    with logged.evi.catalog.read() as conn:
        assert report.checked["entries"] == journal.size(conn) >= 4  # KEY, 3 INGEST, their FINDINGs
    assert report.checked["checkpoints"] == 2
    assert report.checked["checkpoint_roots"] == 2
    assert report.checked["objects"] == 3
    act_as(settings, monkeypatch, "sun.qi", "auditor")  # verify is run by a person (docs/access.md)
    assert main(["--config", str(logged.config), "verify", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True


def test_verify_spawns_its_workers_when_another_thread_runs(logged: Log) -> None:
    """Forking beside a running thread could copy a held lock into the child; then the workers are spawned."""
    with logged.evi.catalog.begin() as conn:  # something to find, so the comparison means more than "ok"
        conn.execute(update(recordings).where(recordings.c.id == logged.recordings[0]).values(device="CAM99"))
    alone = verify(logged.evi, logged.vkey, workers=0)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with mock.patch.object(multiprocessing, "get_context", wraps=multiprocessing.get_context) as context:
            assert verify(logged.evi, logged.vkey, workers=2).as_json() == alone.as_json()
    finally:
        stop.set()
        other.join()
    context.assert_called_once_with("spawn")
    assert [f.check for f in alone.failures] == ["catalog_mismatch"]


def test_checkpoints_are_locked_in_the_object_store(logged: Log) -> None:
    stored = checkpointer_for(logged.evi).stored()
    assert [c.checkpoint.size for c in stored] == logged.sizes
    assert logged.sizes[0] > logged.ingests[1]
    assert logged.sizes[1] > logged.ingests[2]
    for c in stored:
        lock = logged.evi.store.read_lock(c.version)
        assert lock.mode == "COMPLIANCE"
        assert c.note.startswith("evidock.local/log\n")


def test_the_cli_proofs_satisfy_an_independent_verifier(
    logged: Log, capsys: pytest.CaptureFixture[str], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = ["--config", str(logged.config)]
    act_as(settings, monkeypatch, "sun.qi", "auditor")  # log entries and proofs are read by a person
    assert main([*cfg, "keys", "show"]) == 0
    vkey = capsys.readouterr().out.strip()
    assert vkey == logged.vkey
    assert main([*cfg, "log", "checkpoint"]) == 0
    note = capsys.readouterr().out
    claim = independent.verify_checkpoint(note, vkey)
    assert claim.size == logged.sizes[1]

    for index in range(claim.size):
        assert main([*cfg, "log", "proof", "--entry", str(index), "--json"]) == 0
        proof = json.loads(capsys.readouterr().out)
        # Each `log proof` logs its QUERY entry and anchors it before exiting: the latest checkpoint grows.
        anchor = proof["checkpoint"]
        assert independent.verify_checkpoint(anchor, vkey).size == proof["tree_size"] >= claim.size
        parsed = independent.verify_entry(base64.b64decode(proof["entry_b64"]), index, proof["proof"], anchor, vkey)
        if index == 0:
            assert parsed["type"] == "KEY"
        if index in logged.ingests:
            assert parsed["type"] == "INGEST"

    # RFC 9162 §2.1.4 has no proof from the empty tree (docs/log-format.md §5.2): refused in one line.
    assert main([*cfg, "log", "consistency", "--from", "0", "--json"]) == 1
    refused = capsys.readouterr()
    assert refused.out == ""
    assert refused.err == (
        "error: --from 0: there is no consistency proof from the empty tree (RFC 9162 §2.1.4: 0 < old size); "
        "give --from 1 or more\n"
    )

    assert main([*cfg, "log", "consistency", "--from", str(logged.sizes[0]), "--json"]) == 0
    consistency = json.loads(capsys.readouterr().out)
    assert consistency["format"] == "evidock-consistency-proof-v1"
    independent.verify_extension(
        consistency["old_checkpoint"], consistency["new_checkpoint"], consistency["proof"], vkey
    )

    # A proof for another entry, or a tampered proof, is refused by the independent verifier.
    second = logged.ingests[1]
    assert main([*cfg, "log", "proof", "--entry", str(second), "--json"]) == 0
    two = json.loads(capsys.readouterr().out)
    note = two["checkpoint"]
    independent.verify_entry(base64.b64decode(two["entry_b64"]), second, two["proof"], note, vkey)
    with pytest.raises(independent.VerificationError):
        independent.verify_entry(base64.b64decode(two["entry_b64"]), second - 1, two["proof"], note, vkey)
    flipped = [("0" if two["proof"][0][0] != "0" else "1") + two["proof"][0][1:], *two["proof"][1:]]
    with pytest.raises(independent.VerificationError):
        independent.verify_entry(base64.b64decode(two["entry_b64"]), second, flipped, note, vkey)

    assert main([*cfg, "log", "entry", str(logged.ingests[0]), "--json"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["entry"]["recording"] == logged.recordings[0]


def test_an_edited_entry_is_caught(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        index = logged.ingests[1]
        data = conn.execute(select(log_entries.c.data).where(log_entries.c.idx == index)).scalar_one()
        edited = bytes(data).replace(b'"officer":"P7007"', b'"officer":"P0000"')
        assert edited != data
        conn.execute(update(log_entries).where(log_entries.c.idx == index).values(data=edited))
    failures = _failures(logged)
    assert ("checkpoint_root_mismatch", logged.key(0)) in failures
    assert ("checkpoint_root_mismatch", logged.key(1)) in failures
    assert (
        "catalog_mismatch",
        f"recordings id={logged.recordings[1]}",
    ) in failures  # officer differs from the catalog now
    assert ("log_node_mismatch", f"node 0/{index}") in failures


def test_the_checkpointer_refuses_to_sign_a_rewritten_tree(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        level = logged.sizes[1].bit_length() - 1  # the leftmost complete subtree: part of every root
        conn.execute(update(log_nodes).where(log_nodes.c.level == level, log_nodes.c.idx == 0).values(hash=b"\0" * 32))
    with pytest.raises(LogForked, match="the log was rewritten"):
        checkpointer_for(logged.evi).make(logged.evi.now())
    logged.evi.log_key(logged.vkey)  # one more entry: the new tree must extend the stored checkpoint
    with pytest.raises(LogForked, match="does not extend"):
        checkpointer_for(logged.evi).make(logged.evi.now())
    assert [c.checkpoint.size for c in checkpointer_for(logged.evi).stored()] == logged.sizes, "nothing was signed"


def test_the_checkpointer_refuses_to_sign_an_entry_edited_after_append(logged: Log) -> None:
    index = logged.evi.log_key(logged.vkey)
    with logged.evi.catalog.begin() as conn:
        data = bytes(conn.execute(select(log_entries.c.data).where(log_entries.c.idx == index)).scalar_one())
        conn.execute(update(log_entries).where(log_entries.c.idx == index).values(data=data.replace(b"add", b"del")))
    with pytest.raises(LogForked, match=f"log entry {index} does not match its stored leaf"):
        checkpointer_for(logged.evi).make(logged.evi.now())


def test_a_deleted_entry_is_caught(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        index = logged.ingests[0]
        conn.execute(update(recordings).where(recordings.c.id == logged.recordings[0]).values(ingest_entry=0))
        conn.execute(delete(log_entries).where(log_entries.c.idx == index))
        size = journal.size(conn)
    failures = _failures(logged)
    assert ("log_entry_missing", str(index)) in failures
    assert ("catalog_row_unexplained", f"recordings id={logged.recordings[0]}") in failures
    assert ("log_head", str(size)) in failures
    assert ("checkpoint_root_mismatch", logged.key(0)) in failures


def test_deleted_nodes_are_caught_level_by_level(logged: Log) -> None:
    size = logged.sizes[-1]
    top = size.bit_length() - 1  # the leftmost complete subtree: every level below has nodes too
    with logged.evi.catalog.begin() as conn:
        conn.execute(delete(log_nodes).where(log_nodes.c.level == 0, log_nodes.c.idx == 1))
        conn.execute(delete(log_nodes).where(log_nodes.c.level == top))
    assert _failures(logged) == {("log_node_missing", "level 0"), ("log_node_missing", f"level {top}")}


def test_stray_nodes_are_caught_at_any_level(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        conn.execute(
            log_nodes.insert(),
            [{"level": 40, "idx": 0, "hash": b"\1" * 32}, {"level": 0, "idx": -3, "hash": b"\2" * 32}],
        )
    assert _failures(logged) == {("log_node_mismatch", "node 0/-3"), ("log_node_mismatch", "node 40/0")}


def test_swapped_entries_are_caught(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        a, b = logged.ingests[0], logged.ingests[1]
        one, two = (
            bytes(conn.execute(select(log_entries.c.data).where(log_entries.c.idx == i)).scalar_one()) for i in (a, b)
        )
        conn.execute(update(log_entries).where(log_entries.c.idx == a).values(data=two))
        conn.execute(update(log_entries).where(log_entries.c.idx == b).values(data=one))
    failures = _failures(logged)
    assert ("checkpoint_root_mismatch", logged.key(0)) in failures
    assert ("log_entry_columns", str(a)) in failures
    assert ("log_entry_columns", str(b)) in failures


def test_a_changed_catalog_row_is_caught(logged: Log) -> None:
    with logged.evi.catalog.begin() as conn:
        conn.execute(update(recordings).where(recordings.c.id == logged.recordings[2]).values(device="CAM99"))
    report = verify(logged.evi, logged.vkey)
    assert verify(logged.evi, logged.vkey, workers=2).as_json() == report.as_json()
    wanted = [("catalog_mismatch", f"recordings id={logged.recordings[2]}")]
    assert [(f.check, f.subject) for f in report.failures] == wanted
    said = f"column device: the catalog has 'CAM99', entry {logged.ingests[2]} says 'CAM07'"
    assert said in report.failures[0].message


def test_a_new_version_over_a_stored_recording_is_caught(logged: Log) -> None:
    with logged.evi.catalog.read() as conn:
        key = conn.execute(select(recordings.c.object_key).where(recordings.c.id == logged.recordings[0])).scalar_one()
    logged.evi.store._client.put_object(logged.evi.store.bucket, key, io.BytesIO(b"forged"), 6)
    assert _failures(logged) == {("object_versions", key)}


def test_a_checkpoint_signed_by_another_key_is_caught(logged: Log) -> None:
    other = parse_skey(generate_skey("evidock.local/log"))
    with logged.evi.catalog.read() as conn:
        size = logged.sizes[1]
        note = sign_checkpoint(Checkpoint("evidock.local/log", size, root(size, SqlNodes(conn))), other)
    logged.evi.store.put_small(object_key(size + 1), note.encode())
    failures = _failures(logged)
    assert any(check == "checkpoint_foreign_key" and s.startswith(object_key(size + 1)) for check, s in failures)
    assert checkpointer_for(logged.evi).make(logged.evi.now()).checkpoint.size == size  # never obeyed


def test_a_forked_log_is_caught(logged: Log) -> None:
    signer = checkpointer_for(logged.evi).signer
    forged = sign_checkpoint(Checkpoint("evidock.local/log", logged.sizes[1], b"\x42" * 32), signer)
    logged.evi.store.put_small(logged.key(1), forged.encode())  # a second version: same size, other root
    failures = _failures(logged)
    assert ("log_forked", logged.key(1)) in failures
    assert ("checkpoint_rewritten", logged.key(1)) in failures
    assert ("checkpoint_root_mismatch", logged.key(1)) in failures
    with pytest.raises(LogForked):
        checkpointer_for(logged.evi).make(logged.evi.now())
