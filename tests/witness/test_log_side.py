"""The log side of outside trust, end to end: a station with two real witness processes and the local TSA.

Each checkpoint is submitted to both witnesses (the consistency proof from the
size each last cosigned) and to the OpenSSL TSA; the answers are stored beside
the checkpoint under its own COMPLIANCE lock, `evidock log checkpoint` prints
the cosigned note, and both verifiers (chain's and the independent one written
from docs/witness.md) accept it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chain.cosignature import find_cosignatures, parse_cosigner_vkey
from evidock import settings as settings_mod
from evidock.app import App, checkpoint_reader, open_app
from evidock.cli import main
from evidock.keys import init_key
from evidock.verify import verify
from storage.checkpoints import Side, side_key
from storage.timestamping import load_chain, request_timestamp, verify_timestamp
from tests import media
from tests.conftest import dock, raw_config, station_env, write_config
from tests.independent_verifier import verifier as independent
from tests.witness.support import TsaProcess, WitnessProcess, evidock
from witness import config as witness_config

pytestmark = [pytest.mark.s3, pytest.mark.slow]

WITNESSES = (("区司法局 法制科", "witness.fazhi.example/w1"), ("区监察委 监察室", "witness.jiancha.example/w2"))


@dataclass
class Station:
    evi: App
    config: Path
    vkey: str
    witnesses: list[tuple[WitnessProcess, str]]  # process, verifier key
    tsa: TsaProcess
    inbox: Path


@pytest.fixture
def station(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> Iterator[Station]:
    """A station whose config names two running witnesses (quorum 2) and the local TSA."""
    (tmp_path / "inbox").mkdir()
    plain = write_config(tmp_path / "plain.toml", raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"]))
    vkey, _ = init_key(settings_mod.load(plain, station_env(s3_env)))
    started: list[tuple[WitnessProcess, str]] = []
    tsa = TsaProcess(tmp_path / "tsa").start()
    try:
        for _, key_name in WITNESSES:
            made = witness_config.init(tmp_path / key_name.split("/")[0], key_name, logs=[(vkey.split("+")[0], vkey)])
            started.append((WitnessProcess(made.directory).start(), made.vkey))
        log = {
            "witnesses": [
                {"name": name, "url": process.url, "vkey": wkey}
                for (name, _), (process, wkey) in zip(WITNESSES, started, strict=True)
            ],
            "witness_quorum": 2,
            "timestamping": [{"name": "本地时间戳 test TSA", "url": tsa.url, "chain": str(tsa.chain_path)}],
        }
        config = write_config(tmp_path / "config.toml", raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"], log=log))
        with open_app(settings_mod.load(config, station_env(s3_env))) as evi:
            evi.log_key(vkey)
            yield Station(evi, config, vkey, started, tsa, tmp_path / "inbox")
    finally:
        for process, _ in started:
            process.stop()
        tsa.stop()


def _clip(station: Station, n: int) -> str:
    name = f"CAM41_P4101_2026112010{n:02d}00_{n + 1:04d}.mp4"
    return dock(station.evi, media.clip(station.inbox / name, mark=f"w{n}"))


def _checkpoint(station: Station, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["--config", str(station.config), "log", "checkpoint", *args, "--json"]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err, captured.err
    result: dict[str, Any] = json.loads(captured.out)
    return result


def test_each_new_checkpoint_is_cosigned_by_both_witnesses_and_stamped(
    station: Station, capsys: pytest.CaptureFixture[str]
) -> None:
    _clip(station, 0)
    first = _checkpoint(station, capsys, "--new")
    assert first["quorum"] == {"required": 2, "cosigned": 2, "met": True}
    keys = [parse_cosigner_vkey(vkey) for _, vkey in station.witnesses]
    cosigned = first["cosigned_note"]
    assert cosigned.startswith(first["note"])
    assert {c.name for c in find_cosignatures(cosigned, keys)} == {k.name for k in keys}
    # The independent verifier, written from docs/witness.md alone, counts the same quorum.
    names = independent.verify_cosigned_checkpoint(cosigned, station.vkey, [v for _, v in station.witnesses], 2)
    assert names == sorted(name for _, name in WITNESSES)

    # Two more recordings, a new checkpoint: each witness gets the proof from the size it cosigned.
    _clip(station, 1)
    _clip(station, 2)
    second = _checkpoint(station, capsys, "--new")
    assert second["size"] > first["size"]
    assert second["quorum"]["met"]
    assert [c["witness"] for c in second["cosignatures"]] == [name for name, _ in WITNESSES]
    (token,) = second["timestamps"]
    assert datetime.fromisoformat(token["gen_time"]) >= datetime.fromisoformat(first["timestamps"][0]["gen_time"])
    assert token["gen_time_local"].endswith("+08:00")  # Asia/Shanghai

    # Without --new the command prints the cosigned note of the latest checkpoint, as recorded.
    capsys.readouterr()
    assert main(["--config", str(station.config), "log", "checkpoint"]) == 0
    assert capsys.readouterr().out == second["cosigned_note"]

    # Beside the checkpoint, under the same COMPLIANCE lock: each cosignature and the token.
    store = station.evi.store
    anchor = checkpoint_reader(station.evi).latest_stored()
    assert anchor is not None
    assert anchor.checkpoint.size == second["size"]
    locked = store.read_lock(anchor.version)
    for _, vkey in station.witnesses:
        key = side_key(second["size"], Side.COSIGNATURE, parse_cosigner_vkey(vkey).key_id.hex())
        (version,) = store.versions(key)
        lock = store.read_lock(version)
        assert (lock.mode, lock.retain_until) == ("COMPLIANCE", locked.retain_until)
        line = store.read_small(version).decode()
        assert line.removesuffix("\n") in second["cosignatures"][[v for _, v in station.witnesses].index(vkey)]["line"]
    chain = load_chain(station.tsa.chain_path.read_bytes())
    (stamp,) = [v for v in store.listing("checkpoints/") if v.key.startswith(f"{anchor.version.key}.timestamp.")]
    assert store.read_lock(stamp.version).retain_until == locked.retain_until
    facts = verify_timestamp(store.read_small(stamp.version), anchor.note, chain)
    assert facts.gen_time.isoformat() == token["gen_time"]

    # The witnesses' own history says what they cosigned: both sizes, in order.
    for process, _ in station.witnesses:
        done = evidock("witness", "history", "--dir", str(process.directory), "--json")
        assert done.returncode == 0, done.stderr
        assert [c["size"] for c in json.loads(done.stdout)["cosigned"]] == [second["size"], first["size"]]

    report = verify(station.evi, station.vkey, now=datetime.now(UTC))
    assert report.ok, report.failures
    assert report.checked["cosignatures"] == 4
    assert report.checked["timestamp_tokens"] == 2


def _plant(station: Station, key: str, data: bytes) -> None:
    """What anyone who can write to the bucket can do: put one more version at ``key``."""
    store = station.evi.store
    assert store.put_small(key, data).version_id


def _anchor_two(station: Station, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    _clip(station, 0)
    first = _checkpoint(station, capsys, "--new")
    _clip(station, 1)
    second = _checkpoint(station, capsys, "--new")
    return first, second


def _failures(station: Station, **kwargs: Any) -> dict[str, list[str]]:
    report = verify(station.evi, station.vkey, **kwargs)
    found: dict[str, list[str]] = {}
    for failure in report.failures:
        found.setdefault(failure.check, []).append(f"{failure.subject}: {failure.message}")
    return found


def test_a_token_over_another_checkpoint_is_rejected_by_verify(
    station: Station, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _anchor_two(station, capsys)
    assert _failures(station) == {}
    # The first checkpoint's genuine token, put beside the second checkpoint.
    (token,) = first["timestamps"]
    key = side_key(second["size"], Side.TIMESTAMP, token["fingerprint"])
    _plant(station, key, base64.b64decode(token["reply_b64"]))
    found = _failures(station)
    assert list(found) == ["timestamp_imprint"]
    (said,) = found["timestamp_imprint"]
    assert said.startswith(f"{key} version ")
    assert "token is over another message" in said
    assert "it does not stamp this checkpoint" in said


def test_a_token_made_late_for_an_older_checkpoint_breaks_the_order(
    station: Station, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _anchor_two(station, capsys)
    # A genuine token over the first checkpoint, asked for now: after the second checkpoint's.
    time.sleep(1.1)  # genTime is to the millisecond (local_tsa); a clear second apart all the same
    reply, _ = request_timestamp(station.tsa.url, first["note"], load_chain(station.tsa.chain_path.read_bytes()))
    _plant(station, side_key(first["size"], Side.TIMESTAMP, first["timestamps"][0]["fingerprint"]), reply)
    found = _failures(station)
    assert list(found) == ["timestamp_order"]
    (said,) = found["timestamp_order"]
    assert said.startswith(f"checkpoints {first['size']} and {second['size']}: ")
    assert f"after checkpoint {second['size']} at {second['timestamps'][0]['gen_time']}" in said


def test_a_cosignature_over_another_checkpoint_is_rejected_by_verify(
    station: Station, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _anchor_two(station, capsys)
    line = first["cosignatures"][0]["line"]
    key = side_key(second["size"], Side.COSIGNATURE, parse_cosigner_vkey(station.witnesses[0][1]).key_id.hex())
    _plant(station, key, (line + "\n").encode())
    found = _failures(station)
    assert list(found) == ["cosignature_invalid"]
    assert "does not verify" in found["cosignature_invalid"][0]
