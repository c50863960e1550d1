"""The add-checkpoint body and the witness's checks, pure (no process, no database)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from chain.cosignature import generate_cosigner_skey, parse_cosigner_skey
from chain.errors import CheckpointError
from chain.witness_request import MAX_PROOF_LINES, AddCheckpoint, format_add_checkpoint, parse_add_checkpoint
from tests.witness.support import ToyLog
from witness.config import LogPolicy, WitnessConfig
from witness.judge import Evidence, Refusal, Seen, authenticate, judge

SPEC_EXAMPLE_HEAD = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\n"
)


def test_the_spec_example_body_parses_and_formats_back() -> None:
    note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— x AAAAAAA=\n"
    body = (SPEC_EXAMPLE_HEAD + note).encode()
    request = parse_add_checkpoint(body)
    assert request.old_size == 20852014
    assert len(request.proof) == 4
    assert request.note == note
    assert format_add_checkpoint(request.old_size, request.proof, request.note) == body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"old 5\n", "no empty line"),
        (b"old 05\n\nx", "old <size>"),
        (b"old -1\n\nx", "old <size>"),
        (b"new 5\n\nx", "old <size>"),
        (b"old 5\nnot base64!\n\nx", "not base64"),
        (b"old 5\n" + base64.b64encode(b"x" * 31) + b"\n\nx", "wrong size"),
        (b"old 0\n" + base64.b64encode(b"x" * 32) + b"\n\nx", "empty when the old size is 0"),
        (b"old 5\n" + (base64.b64encode(b"x" * 32) + b"\n") * (MAX_PROOF_LINES + 1) + b"\nx", "at most 63"),
        (b"\xff\n\n", "not UTF-8"),
    ],
)
def test_malformed_bodies_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        parse_add_checkpoint(body)


def _config(log: ToyLog) -> WitnessConfig:
    secret = parse_cosigner_skey(generate_cosigner_skey("w.example/1"))
    from chain.checkpoint import parse_vkey

    return WitnessConfig(
        Path("."),
        "w.example/1",
        secret,
        Path("unused.db"),
        "127.0.0.1",
        1,
        (LogPolicy(log.origin, parse_vkey(log.vkey)),),
    )


def _seen(log: ToyLog) -> Seen:
    return Seen(log.tree.size, log.tree.root(), log.note())


def test_judge_follows_the_spec_order() -> None:
    log = ToyLog.new().grow(4)
    config = _config(log)
    seen = _seen(log)
    extended_elsewhere = log.copy().grow(2, tag="forged")  # extends what the witness saw: consistent with it
    rewritten = ToyLog(log.skey).grow(6, tag="rewritten")  # the same key over another history from entry 0
    log.grow(2)
    # Right old size and proof: cosign.
    judge(authenticate(format_add_checkpoint(4, log.proof(4), log.note()), config), seen)
    # Wrong old size: 409 with the witness's size; a larger checkpoint is not evidence.
    with pytest.raises(Refusal) as raised:
        judge(authenticate(format_add_checkpoint(0, [], log.note()), config), seen)
    assert (raised.value.status, raised.value.known_size, raised.value.evidence) == (409, 4, None)
    # Two size-6 trees that both extend the witness's size 4: the first seen is cosigned, the other is a fork.
    judge(authenticate(format_add_checkpoint(4, extended_elsewhere.proof(4), extended_elsewhere.note()), config), seen)
    with pytest.raises(Refusal) as raised:
        judge(authenticate(format_add_checkpoint(6, [], extended_elsewhere.note()), config), _seen(log))
    assert (raised.value.status, raised.value.evidence) == (409, Evidence.FORK)
    # A rewritten history, with its own honest proof from its size 4: 422, evidence.
    with pytest.raises(Refusal) as raised:
        judge(authenticate(format_add_checkpoint(4, rewritten.proof(4), rewritten.note()), config), seen)
    assert (raised.value.status, raised.value.evidence) == (422, Evidence.INCONSISTENT)
    # Rollback with old size above the checkpoint's: 400, still evidence.
    with pytest.raises(Refusal) as raised:
        judge(authenticate(format_add_checkpoint(4, [], ToyLog(log.skey).grow(2).note()), config), seen)
    assert (raised.value.status, raised.value.evidence) == (400, Evidence.ROLLBACK)


def test_authenticate_refuses_unknown_origin_and_untrusted_key() -> None:
    log = ToyLog.new().grow(1)
    config = _config(log)
    with pytest.raises(Refusal) as raised:
        authenticate(format_add_checkpoint(0, [], ToyLog.new("else.example/log").grow(1).note()), config)
    assert raised.value.status == 404
    with pytest.raises(Refusal) as raised:
        authenticate(format_add_checkpoint(0, [], ToyLog.new(log.origin).grow(1).note()), config)
    assert raised.value.status == 403
    assert isinstance(authenticate(format_add_checkpoint(0, [], log.note()), config).request, AddCheckpoint)
