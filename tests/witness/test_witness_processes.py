"""Two real witness processes (``evidock witness serve``) and a real signed log: the C2SP tlog-witness rules."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chain.checkpoint import generate_skey
from chain.cosignature import find_cosignatures, parse_cosigner_vkey, verify_cosignature, with_cosignatures
from chain.errors import CheckpointError
from chain.witness_request import format_add_checkpoint
from storage.witness_client import Conflict, WitnessClient, WitnessError, submit
from tests.independent_verifier import verifier as independent
from tests.witness.support import ToyLog, WitnessProcess, evidock

pytestmark = pytest.mark.slow


def _init(directory: Path, name: str, log: ToyLog) -> str:
    done = evidock("witness", "init", "--dir", str(directory), "--name", name, "--log", log.vkey)
    assert done.returncode == 0, done.stderr
    shown = evidock("witness", "show", "--dir", str(directory), "--json")
    assert shown.returncode == 0, shown.stderr
    return str(json.loads(shown.stdout)["vkey"])


@pytest.fixture
def log() -> ToyLog:
    return ToyLog.new().grow(5)


@pytest.fixture
def witnesses(tmp_path: Path, log: ToyLog) -> Iterator[list[tuple[WitnessProcess, str]]]:
    started: list[tuple[WitnessProcess, str]] = []
    try:
        for name in ("witness.fazhi.example/w1", "witness.jiancha.example/w2"):
            directory = tmp_path / name.split("/")[0]
            vkey = _init(directory, name, log)
            started.append((WitnessProcess(directory).start(), vkey))
        yield started
    finally:
        for process, _ in started:
            process.stop()


def _history(process: WitnessProcess) -> dict[str, list[dict[str, object]]]:
    done = evidock("witness", "history", "--dir", str(process.directory), "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, list[dict[str, object]]] = json.loads(done.stdout)
    return result


def test_two_witnesses_cosign_and_the_cosignatures_verify(
    witnesses: list[tuple[WitnessProcess, str]], log: ToyLog
) -> None:
    note = log.note()
    cosigned = note
    for process, vkey in witnesses:
        lines = submit(process.url, 0, [], note)
        assert isinstance(lines, list)
        assert len(lines) == 1
        timestamp = verify_cosignature(note, lines[0], vkey)
        assert independent.verify_cosignature(note, lines[0], vkey) == timestamp
        cosigned = with_cosignatures(cosigned, lines)
    keys = [parse_cosigner_vkey(vkey) for _, vkey in witnesses]
    assert {c.name for c in find_cosignatures(cosigned, keys)} == {k.name for k in keys}
    # A cosignature is bound to its checkpoint and its witness: another note or key fails.
    line = cosigned.rstrip("\n").split("\n")[-1]
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_cosignature(log.grow(1).note(), line, witnesses[1][1])
    with pytest.raises(CheckpointError):
        verify_cosignature(note, line, witnesses[0][1])
    with pytest.raises(independent.VerificationError):
        independent.verify_cosignature(log.note(), line, witnesses[1][1])

    # The log grows: the witness wants the proof from what it cosigned (409 with its size), then cosigns.
    client = WitnessClient(witnesses[0][0].url)
    try:
        log.grow(7)
        assert client.add_checkpoint(0, [], log.note()) == Conflict(5)
        answer = client.add_checkpoint(5, log.proof(5), log.note())
        assert isinstance(answer, list)
        verify_cosignature(log.note(), answer[0], witnesses[0][1])
        # Same size, same root again: cosigned again (a log that lost the answer may ask twice).
        assert isinstance(client.add_checkpoint(13, [], log.note()), list)
    finally:
        client.close()
    shown = json.loads(evidock("witness", "show", "--dir", str(witnesses[0][0].directory), "--json").stdout)
    assert shown["logs"][0]["size"] == 13
    assert [row["size"] for row in _history(witnesses[0][0])["cosigned"]] == [13, 13, 5]


def test_rollback_and_fork_are_refused_and_recorded(witnesses: list[tuple[WitnessProcess, str]], log: ToyLog) -> None:
    process, vkey = witnesses[0]
    old = log.note()
    fork = log.copy().grow(3, tag="forged")  # same key, same first 5 entries, then other entries
    assert isinstance(submit(process.url, 0, [], old), list)
    log.grow(3)
    assert isinstance(submit(process.url, 5, log.proof(5), log.note()), list)

    # Rollback: the older checkpoint (size 5) after size 8 was cosigned.
    with pytest.raises(WitnessError) as raised:
        submit(process.url, 8, [], old)
    assert raised.value.status == 400
    assert submit(process.url, 5, [], old) == Conflict(8)
    # Fork at the same size: 8 entries, another root.
    forked_at_8 = fork.note()
    with pytest.raises(WitnessError) as raised:
        submit(process.url, 8, [], forked_at_8)
    assert raised.value.status == 409
    # Fork that grows: its honest proof from its own size 8 does not lead to the root the witness cosigned.
    fork.grow(2, tag="forged-more")
    with pytest.raises(WitnessError) as raised:
        submit(process.url, 8, fork.proof(8), fork.note())
    assert raised.value.status == 422

    history = _history(process)
    kinds = [row["kind"] for row in history["refused"]]
    assert kinds == ["inconsistent", "fork", "rollback", "rollback"]
    for row in history["refused"]:
        assert row["seen_note"] == log.note()  # the checkpoint it had cosigned, with the log's signature
    assert history["refused"][0]["submitted_note"] == fork.note()
    assert history["refused"][1]["submitted_note"] == forked_at_8
    assert history["refused"][2]["submitted_note"] == old
    # The forged notes are validly signed by the log's key: that is the evidence the operator hands on.
    for row in history["refused"]:
        assert isinstance(row["submitted_note"], str)
        independent.verify_checkpoint(row["submitted_note"], log.vkey)
    # Nothing forged was cosigned; the witness still stands at 8 with the true root.
    assert [row["size"] for row in history["cosigned"]] == [8, 5]
    assert submit(process.url, 0, [], log.note()) == Conflict(8)
    verify_cosignature(log.note(), submit(process.url, 8, [], log.note())[0], vkey)  # type: ignore[index]


def test_unknown_log_bad_signature_and_malformed_requests(
    witnesses: list[tuple[WitnessProcess, str]], log: ToyLog
) -> None:
    process, _ = witnesses[0]
    stranger = ToyLog.new("other.example/log").grow(2)
    impostor = ToyLog.new(log.origin, skey=generate_skey(log.origin)).grow(5)  # same origin, another key

    def status_of(body: bytes) -> tuple[int, str]:
        request = urllib.request.Request(process.url + "/add-checkpoint", data=body, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - local test URL
                return answer.status, answer.headers["Content-Type"]
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers["Content-Type"]

    assert status_of(format_add_checkpoint(0, [], stranger.note()))[0] == 404
    assert status_of(format_add_checkpoint(0, [], impostor.note()))[0] == 403
    assert status_of(b"old 01\n\n" + log.note().encode())[0] == 400
    assert status_of(b"garbage")[0] == 400
    assert status_of(format_add_checkpoint(0, [], log.note())) == (200, "text/plain; charset=utf-8")
    assert status_of(format_add_checkpoint(3, [], log.note())) == (409, "text/x.tlog.size")
    assert _history(process)["refused"] == []  # none of these is evidence of a fork


def test_the_witness_remembers_across_kill_9(witnesses: list[tuple[WitnessProcess, str]], log: ToyLog) -> None:
    process, vkey = witnesses[0]
    assert isinstance(submit(process.url, 0, [], log.note()), list)
    log.grow(4)
    answer = submit(process.url, 5, log.proof(5), log.note())
    process.kill9()  # right after the answer: the commit came before it
    assert isinstance(answer, list)
    verify_cosignature(log.note(), answer[0], vkey)
    process.start()
    assert submit(process.url, 0, [], log.note()) == Conflict(9)
    shown = json.loads(evidock("witness", "show", "--dir", str(process.directory), "--json").stdout)
    assert shown["logs"][0]["size"] == 9
    # And it still refuses the older history after the restart.
    with pytest.raises(WitnessError):
        submit(process.url, 9, [], ToyLog(log.skey).grow(9, tag="rewritten").note())


def test_concurrent_submissions_never_roll_the_witness_back(
    witnesses: list[tuple[WitnessProcess, str]], log: ToyLog
) -> None:
    """The race in tlog-witness "add-checkpoint": two valid extensions of the same size, sent at once.

    Exactly one is cosigned each round; the other gets 409 with the winner's size, and the witness's size never
    goes down (the check of the old size and the write are one transaction).
    """
    process, _ = witnesses[0]
    assert isinstance(submit(process.url, 0, [], log.note()), list)
    for _ in range(10):
        size = log.tree.size
        small, large = log.copy().grow(1), log.copy().grow(4)
        bodies = {
            small.tree.size: (size, small.proof(size), small.note()),
            large.tree.size: (size, large.proof(size), large.note()),
        }
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = dict(zip(bodies, pool.map(lambda args: submit(process.url, *args), bodies.values()), strict=True))
        winners = [new_size for new_size, answer in answers.items() if isinstance(answer, list)]
        assert len(winners) == 1, answers
        loser = next(answer for answer in answers.values() if not isinstance(answer, list))
        assert loser == Conflict(winners[0])
        log = small if winners[0] == small.tree.size else large
    assert submit(process.url, 0, [], log.note()) == Conflict(log.tree.size)


def test_an_oversized_body_is_refused_unread(witnesses: list[tuple[WitnessProcess, str]], log: ToyLog) -> None:
    process, _ = witnesses[0]
    body = format_add_checkpoint(0, [], log.note()) + b"x" * (70 * 1024)
    request = urllib.request.Request(process.url + "/add-checkpoint", data=body, method="POST")  # noqa: S310
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - local test URL
    raised.value.close()
    assert raised.value.code == 400
    assert isinstance(submit(process.url, 0, [], log.note()), list)  # and it still serves
