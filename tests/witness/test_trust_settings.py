"""``[[log.witnesses]]``, ``log.witness_quorum``, ``[[log.timestamping]]``: read, or refused naming key, value, fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chain.checkpoint import generate_skey, vkey_of
from chain.cosignature import format_cosigner_vkey, generate_cosigner_skey, parse_cosigner_skey
from evidock import local_tsa
from evidock import settings as settings_mod
from evidock.app import trust_policy
from evidock.settings import ConfigError

ENV = {"EVIDOCK_S3_ACCESS_KEY": "k", "EVIDOCK_S3_SECRET_KEY": "s"}


def _witness_vkey(name: str) -> str:
    secret = parse_cosigner_skey(generate_cosigner_skey(name))
    return format_cosigner_vkey(secret.name, secret.private_key.public_key())


W1 = _witness_vkey("witness.fazhi.example/w1")
W2 = _witness_vkey("witness.jiancha.example/w2")


def _parse(log: dict[str, Any], base: Path = Path("/srv/evidock")) -> settings_mod.Settings:
    return settings_mod.parse({"log": log}, base=base, source=Path("config.toml"), environ=ENV)


def _witnesses(*vkeys: str) -> list[dict[str, str]]:
    return [{"name": f"office {n}", "url": f"http://10.0.0.{n}:7380/", "vkey": v} for n, v in enumerate(vkeys, 1)]


@pytest.fixture(scope="module")
def chain_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return local_tsa.init(tmp_path_factory.mktemp("tsa"), name="settings TSA")


def test_witnesses_quorum_and_tsa_are_read(chain_pem: Path) -> None:
    settings = _parse(
        {
            "witnesses": _witnesses(W1, W2),
            "timestamping": [{"name": "本地", "url": "http://127.0.0.1:3180/", "chain": chain_pem.name}],
            "max_uncosigned_seconds": 600,
        },
        base=chain_pem.parent,
    )
    log = settings.log
    assert [w.vkey for w in log.witnesses] == [W1, W2]
    assert log.witnesses[0].url == "http://10.0.0.1:7380"  # no trailing slash: <url>/add-checkpoint
    assert log.witness_quorum == 2  # unset: every witness
    assert log.timestamping[0].chain == chain_pem
    assert log.max_uncosigned_seconds == 600
    policy = trust_policy(settings)
    assert policy.quorum == 2
    assert [w.key.name for w in policy.witnesses] == ["witness.fazhi.example/w1", "witness.jiancha.example/w2"]
    assert len(policy.tsas[0].chain) == 2
    assert settings.masked()["log.witness_quorum"] == 2
    assert _parse({"witnesses": _witnesses(W1, W2), "witness_quorum": 1}).log.witness_quorum == 1
    nothing = _parse({})
    assert (nothing.log.witnesses, nothing.log.witness_quorum, nothing.log.timestamping) == ((), 0, ())
    assert not trust_policy(nothing).active


@pytest.mark.parametrize(
    ("log", "said"),
    [
        (
            {"witnesses": [{"name": "x", "url": "ftp://w", "vkey": W1}]},
            "log.witnesses[1].url = 'ftp://w': use the witness's http(s) address",
        ),
        (
            {"witnesses": [{"name": "", "url": "http://w", "vkey": W1}]},
            "log.witnesses[1].name = '': name who runs the witness",
        ),
        (
            {"witnesses": [{"name": "x", "url": "http://w", "vkey": vkey_of(generate_skey("evidock.local/log"))}]},
            "log.witnesses[1].vkey = 'evidock.local/log+",
        ),
        (
            {"witnesses": [{"name": "x", "url": "http://w", "vkey": W1[:-4] + "AAAA"}]},
            "give the witness key `evidock witness show` prints (type 0x04, not the log's own key)",
        ),
        ({"witnesses": _witnesses(W1, W1)}, f"log.witnesses[].vkey = {W1!r}: each witness is listed once"),
        (
            {"witnesses": _witnesses(W1, W2), "witness_quorum": 3},
            "log.witness_quorum = 3: use a whole number between 1 and 2",
        ),
        (
            {"witnesses": _witnesses(W1), "witness_quorum": 0},
            "log.witness_quorum = 0: use a whole number between 1 and 1",
        ),
        ({"witness_quorum": 1}, "log.witness_quorum = 1: no [[log.witnesses]] are configured"),
        ({"witnesses": {"name": "x"}}, "log.witnesses = {'name': 'x'}: write each one as a [[log.witnesses]] table"),
        (
            {"timestamping": [{"url": "http://tsa", "chain": "/nowhere/tsa.pem"}]},
            "log.timestamping[1].chain = '/nowhere/tsa.pem': cannot read /nowhere/tsa.pem",
        ),
        (
            {"timestamping": [{"url": "tsa.example", "chain": "tsa.pem"}]},
            "log.timestamping[1].url = 'tsa.example': use the TSA's RFC 3161 http(s) address",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_key_value_and_fix(log: dict[str, Any], said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(log)
    assert said in str(caught.value)


def test_a_chain_that_is_not_a_tsa_s_is_refused(chain_pem: Path, tmp_path: Path) -> None:
    ca_only = tmp_path / "ca.pem"
    ca_only.write_bytes((chain_pem.parent / local_tsa.CA_CERT).read_bytes())
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for path, said in ((ca_only, "it must be the TSA's (timeStamping)"), (junk, "not PEM certificates")):
        with pytest.raises(ConfigError) as caught:
            _parse({"timestamping": [{"url": "http://tsa/", "chain": str(path)}]})
        assert f"log.timestamping[1].chain = {str(path)!r}: " in str(caught.value)
        assert said in str(caught.value)
        assert "ask the TSA for its certificate and chain in PEM, TSA first" in str(caught.value)
