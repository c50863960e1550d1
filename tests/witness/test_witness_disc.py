# ruff: noqa: RUF001 - it reads the Chinese label sheet (full-width punctuation)
"""Outside trust on the disc: the cosigned checkpoint, the witnesses' keys and the RFC 3161 token travel with it.

A station with two real witness processes (quorum 2) and the local OpenSSL
TSA exports a case. VERIFY.py (standard library only, its own Ed25519) checks
the cosignatures and the token's imprint and prints the `openssl ts -verify`
command, which OpenSSL then accepts; the label sheet names the witnesses and
their keys and the token's time in Beijing time.

Then the attack of issue 14: whoever holds the database rewrites an entry,
re-signs the checkpoint and every proof with a key of their own, and rewrites
SHA256SUMS and the label. Without witnesses that disc passed VERIFY.py; now it
fails on the witnesses' cosignatures, and on nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from access.people import Person, Role
from chain.checkpoint import Checkpoint, generate_skey, parse_skey, sign_checkpoint
from chain.merkle import MemoryNodes, consistency_proof, inclusion_proof, leaf_hash
from chain.proof_json import consistency_json, inclusion_json
from evidock import settings as settings_mod
from evidock.app import checkpointer_for, open_app, retention_context
from evidock.cli import main
from evidock.keys import init_key
from evidock.settings import Settings
from retention import labelling
from retention.export import verify_disc
from storage import journal
from storage.access_terms import Action, Category
from storage.schema import log_entries
from tests.conftest import add_person, raw_config, station_env, write_config
from tests.independent_verifier import verifier as independent
from tests.test_retention_labels import ingest
from tests.witness.support import TsaProcess, WitnessProcess
from witness import config as witness_config

pytestmark = [pytest.mark.s3, pytest.mark.slow]

CASE = "京朝公(治)行罚决字[2026]41号"
WITNESSES = (("区司法局 法制科", "witness.fazhi.example/w1"), ("区监察委 监察室", "witness.jiancha.example/w2"))


@dataclass
class World:
    settings: Settings
    config: Path
    tmp: Path
    vkey: str
    witnesses: list[tuple[WitnessProcess, str]]
    tsa: TsaProcess
    tokens: dict[str, str]
    recordings: list[str]
    s3_keys: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("witness-disc")
    (tmp / "inbox").mkdir()
    bucket = f"t-{uuid.uuid4().hex[:20]}"
    plain = write_config(tmp / "plain.toml", raw_config(tmp, bucket, s3_env["S3_ENDPOINT"]))
    vkey, _ = init_key(settings_mod.load(plain, station_env(s3_env)))
    started: list[tuple[WitnessProcess, str]] = []
    tsa = TsaProcess(tmp / "tsa").start()
    try:
        for _, key_name in WITNESSES:
            made = witness_config.init(tmp / key_name.split("/")[0], key_name, logs=[(vkey.split("+")[0], vkey)])
            started.append((WitnessProcess(made.directory).start(), made.vkey))
        log = {
            "witnesses": [
                {"name": name, "url": process.url, "vkey": wkey}
                for (name, _), (process, wkey) in zip(WITNESSES, started, strict=True)
            ],
            "witness_quorum": 2,
            "timestamping": [{"name": "本地时间戳 test TSA", "url": tsa.url, "chain": str(tsa.chain_path)}],
        }
        config = write_config(tmp / "config.toml", raw_config(tmp, bucket, s3_env["S3_ENDPOINT"], log=log))
        settings = settings_mod.load(config, station_env(s3_env))
        with open_app(settings) as evi:
            evi.log_key(vkey)
            ids = [ingest(evi, tmp, f"CAM41_P4101_2026112009{n:02d}00_{n + 1:04d}.mp4") for n in range(2)]
            checkpointer_for(evi).make(evi.now())
            labelling.label(
                retention_context(evi), ids, case_number=CASE, parties=["张三"], handler="李四", by="c1", now=evi.now()
            )
        tokens = {name: add_person(settings, name, Role.CUSTODIAN) for name in ("c1", "c2")}
        keys = {"EVIDOCK_S3_ACCESS_KEY": s3_env["S3_ACCESS_KEY"], "EVIDOCK_S3_SECRET_KEY": s3_env["S3_SECRET_KEY"]}
        yield World(settings, config, tmp, vkey, started, tsa, tokens, ids, keys)
    finally:
        for process, _ in started:
            process.stop()
        tsa.stop()


def _request(world: World) -> int:
    with open_app(world.settings, ensure_bucket=False) as evi:
        gate = evi.gate()
        made = gate.request(
            Person("c1", Role.CUSTODIAN),
            world.recordings,
            action=Action.EXPORT,
            reason="移送法院 trial evidence",
            category=Category.COURT,
            document_ref="(2026)京0105刑初41号",
            requester="朝阳区人民法院",
        )
        gate.decide(Person("c2", Role.CUSTODIAN), made.id, approve=True, reason="负责人批准")
    return made.id


def _export(world: World, out: Path, monkeypatch: pytest.MonkeyPatch, request: int | None = None) -> int:
    """`evidock export disc` of the case by c1 (an approved request of c1's, made here unless given)."""
    for name, value in world.s3_keys.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("EVIDOCK_USER", "c1")
    monkeypatch.setenv("EVIDOCK_TOKEN", world.tokens["c1"])
    monkeypatch.delenv("EVIDOCK_PASSWORD", raising=False)
    out.mkdir(exist_ok=True)
    request = _request(world) if request is None else request
    return main(
        [
            *("--config", str(world.config), "export", "disc", "--case", CASE, "--maker", "王五"),
            *("--extractor", "赵六", "--request", str(request), "--out", str(out), "--media", "cd"),
        ]
    )


def _extract(image: Path, target: Path) -> Path:
    done = subprocess.run(
        ["xorriso", "-osirrox", "on", "-indev", str(image), "-extract", "/", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for folder, dirs, files in os.walk(target):  # xorriso keeps the disc's read-only modes
        for name in dirs + files:
            os.chmod(os.path.join(folder, name), stat.S_IRWXU)
    os.chmod(target, stat.S_IRWXU)
    return target


def _verify(disc: Path, empty: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python3 -I VERIFY.py`` with the system Python, from an empty folder."""
    empty.mkdir(exist_ok=True)
    return subprocess.run(
        ["python3", "-I", str(disc / "VERIFY.py"), *args],
        cwd=empty,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"},
        timeout=300,
    )


@pytest.fixture(scope="module")
def disc(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("witness-disc-out")
    with pytest.MonkeyPatch.context() as mp:
        assert _export(world, tmp / "out", mp) == 0
    (image,) = sorted((tmp / "out").glob("*.iso"))
    return _extract(image, tmp / "disc")


def test_the_disc_carries_the_cosigned_checkpoint_the_witnesses_and_the_token(world: World, disc: Path) -> None:
    checkpoint = (disc / "log" / "checkpoint.txt").read_text(encoding="utf-8")
    cosigned = (disc / "log" / "cosigned-checkpoint.txt").read_text(encoding="utf-8")
    listed = json.loads((disc / "log" / "witnesses.json").read_text(encoding="utf-8"))
    assert listed["quorum"] == 2
    assert [(w["name"], w["vkey"]) for w in listed["witnesses"]] == [
        (name, vkey) for (name, _), (_, vkey) in zip(WITNESSES, world.witnesses, strict=True)
    ]
    assert cosigned.startswith(checkpoint)
    # The independent verifier, from docs/witness.md alone, finds both witnesses' cosignatures.
    keys = [w["vkey"] for w in listed["witnesses"]]
    assert independent.verify_cosigned_checkpoint(cosigned, world.vkey, keys, 2) == sorted(n for _, n in WITNESSES)

    done = _verify(disc, disc.parent / "empty")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "VERDICT: PASSED" in out
    assert "见证人联署 cosignatures: 2/2" in out
    for name, _ in WITNESSES:
        assert f"见证人 witness: {name}" in out
    for key in keys:
        assert verify_disc.fingerprint(key) in out
    (token,) = sorted((disc / "log" / "timestamps").glob("*.tsr"))
    assert f"可信时间戳 trusted timestamp: log/timestamps/{token.name}" in out
    assert "(Asia/Shanghai, UTC+8)" in out

    # The printed command is what a clerk runs on the disc: OpenSSL checks the token's signature.
    command = next(line for line in out.splitlines() if "openssl ts -verify" in line).split(": ", 1)[1]
    assert command == (
        f"openssl ts -verify -in log/timestamps/{token.name} -data log/checkpoint.txt "
        f"-CAfile log/timestamps/{token.stem}.pem"
    )
    checked = subprocess.run(command.split(), cwd=disc, capture_output=True, text=True, check=False)
    assert "Verification: OK" in checked.stdout, checked.stdout + checked.stderr

    label = (disc / "LABEL.txt").read_text(encoding="utf-8-sig")
    for (name, _), key in zip(WITNESSES, keys, strict=True):
        assert (
            f"见证人 Witness：{name}：{key}（指纹 fingerprint {verify_disc.fingerprint(key)}）已联署 cosigned" in label
        )
    assert "见证人联署 Cosignatures：2/2，要求 required 2" in label
    (stamp_line,) = [line for line in label.splitlines() if line.startswith("可信时间戳 Trusted timestamp：")]
    assert stamp_line.startswith("可信时间戳 Trusted timestamp：本地时间戳 test TSA：")
    assert stamp_line.endswith("(Asia/Shanghai)")
    assert (disc / "LABEL.html").read_text(encoding="utf-8").count("见证人 Witness") == 2


def test_a_token_or_cosignature_moved_onto_the_disc_fails_verify_py(world: World, disc: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(disc, tmp_path / "disc")
    (token,) = sorted((copy / "log" / "timestamps").glob("*.tsr"))
    data = bytearray(token.read_bytes())
    imprint = hashlib.sha256((copy / "log" / "checkpoint.txt").read_bytes()).digest()
    at = data.find(imprint)
    data[at] ^= 1  # a token over another message (its signature no longer matters: VERIFY.py reads the imprint)
    token.write_bytes(bytes(data))
    cosigned = copy / "log" / "cosigned-checkpoint.txt"
    lines = cosigned.read_text(encoding="utf-8").split("\n")
    signature = base64.b64decode(lines[-2].split(" ")[-1])
    lines[-2] = (
        lines[-2].rsplit(" ", 1)[0] + " " + base64.b64encode(signature[:-1] + bytes([signature[-1] ^ 1])).decode()
    )
    cosigned.write_text("\n".join(lines), encoding="utf-8")
    done = _verify(copy, tmp_path / "empty")
    assert done.returncode == 1
    assert f"失败 FAILED  log/timestamps/{token.name}: not proven: the token stamps" in done.stdout
    assert "it was made for another checkpoint" in done.stdout
    assert (
        "失败 FAILED  log/cosigned-checkpoint.txt: the cosignature by witness witness.jiancha.example/w2" in done.stdout
    )
    assert "1 witness cosignature(s) verify; 2 are required" in done.stdout


def _resign(world: World, disc: Path) -> str:
    """Issue 14's forgery: an entry rewritten, the checkpoint and every proof re-signed with another key.

    The forger holds the database (all entries) and a key of their own with the
    log's name; they rewrite SHA256SUMS and the label to match. They cannot make
    a witness cosign: they keep the old cosignature lines. Returns the new key.
    """
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        entries = [bytes(d) for (d,) in conn.execute(select(log_entries.c.data).order_by(log_entries.c.idx))]
        assert journal.size(conn) == len(entries)
    old_note = (disc / "log" / "checkpoint.txt").read_text(encoding="utf-8")
    origin, size_text, _ = old_note.split("\n", 2)
    size = int(size_text)
    on_disc = {int(p.stem) for p in (disc / "log" / "entries").glob("*.json")}
    victim = min(set(range(size)) - on_disc)  # an entry about no recording of this disc: the rewritten history
    entries[victim] = entries[victim].replace(b'"', b"'", 1)
    tree = MemoryNodes()
    for entry in entries[:size]:
        tree.append(leaf_hash(entry))
    forger = parse_skey(generate_skey(origin))
    note = sign_checkpoint(Checkpoint(origin, size, tree.root()), forger)
    for path in (disc / "log" / "entries").glob("*.json"):
        proof = json.loads(path.read_text())
        entry = base64.b64decode(proof["entry_b64"])
        index = proof["index"]
        path.write_text(
            json.dumps(
                inclusion_json(
                    index=index,
                    tree_size=size,
                    root=tree.root(),
                    entry=entry,
                    proof=inclusion_proof(index, size, tree),
                    checkpoint=note,
                ),
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
    for path in (disc / "log" / "consistency").glob("*.json"):
        old = json.loads(path.read_text())["old_size"]
        old_tree = MemoryNodes()
        for entry in entries[:old]:
            old_tree.append(leaf_hash(entry))
        old_signed = sign_checkpoint(Checkpoint(origin, old, old_tree.root()), forger)
        path.write_text(
            json.dumps(
                consistency_json(
                    old_size=old,
                    new_size=size,
                    old_root=old_tree.root(),
                    new_root=tree.root(),
                    proof=consistency_proof(old, size, tree),
                    old_checkpoint=old_signed,
                    new_checkpoint=note,
                ),
                indent=2,
            )
            + "\n"
        )
    new_vkey = str(forger.verifier())
    old_vkey = (disc / "log" / "log.vkey").read_text().strip()
    old_root = old_note.split("\n")[2]
    (disc / "log" / "checkpoint.txt").write_text(note, encoding="utf-8")
    (disc / "log" / "log.vkey").write_text(new_vkey + "\n")
    cosigned = disc / "log" / "cosigned-checkpoint.txt"
    lines = cosigned.read_text(encoding="utf-8")[len(old_note) :]
    cosigned.write_text(note + lines, encoding="utf-8")  # the witnesses' lines, kept: the forger has no others
    shutil.rmtree(disc / "log" / "timestamps")  # its token stamps the old checkpoint: dropped
    for label in ("LABEL.txt", "LABEL.html"):
        text = (disc / label).read_text(encoding="utf-8")
        for before, after in (
            (old_vkey, new_vkey),
            (verify_disc.fingerprint(old_vkey), verify_disc.fingerprint(new_vkey)),
            (base64.b64decode(old_root).hex(), tree.root().hex()),
        ):
            text = text.replace(before, after)
        text = "\n".join(line for line in text.split("\n") if "可信时间戳" not in line)
        (disc / label).write_text(text, encoding="utf-8")
    _rewrite_sums(disc)
    return new_vkey


def _rewrite_sums(disc: Path) -> None:
    """SHA256SUMS as the forger rewrites it: each file still there, hashed again."""
    sums = []
    for line in (disc / "SHA256SUMS").read_text().splitlines():
        listed = line.split("  ", 1)[1]
        if (disc / listed).exists():
            sums.append(f"{hashlib.sha256((disc / listed).read_bytes()).hexdigest()}  {listed}\n")
    (disc / "SHA256SUMS").write_text("".join(sums))


def test_a_re_signed_disc_fails_because_the_witnesses_cosigned_another_history(
    world: World, disc: Path, tmp_path: Path
) -> None:
    forged = shutil.copytree(disc, tmp_path / "forged")
    new_vkey = _resign(world, forged)
    done = _verify(forged, tmp_path / "empty")
    assert done.returncode == 1, done.stdout
    failed = [line for line in done.stdout.splitlines() if line.startswith("失败 FAILED")]
    # Everything the forger could redo passes; what fails is the witnesses' cosignatures, each of them.
    assert all(line.startswith("失败 FAILED  log/cosigned-checkpoint.txt: ") for line in failed), failed
    for _, name in WITNESSES:
        assert f"the cosignature by witness {name} does not verify" in done.stdout
    assert "0 witness cosignature(s) verify; 2 are required" in done.stdout
    assert f"验证公钥 verifier key: {new_vkey}" in done.stdout  # the forger's key was accepted as the disc's

    # Without the witnesses' files, the forgery is the one issue 14 found passing: VERIFY.py now says the
    # disc rests on the station's key alone; given the witnesses' published keys, it fails.
    (forged / "log" / "cosigned-checkpoint.txt").unlink()
    (forged / "log" / "witnesses.json").unlink()
    _rewrite_sums(forged)
    bare = _verify(forged, tmp_path / "empty2")
    assert bare.returncode == 0, bare.stdout
    assert "见证人 witnesses: 无 none" in bare.stdout
    keys = [v for _, v in world.witnesses]
    pinned = _verify(forged, tmp_path / "empty3", "--witness", keys[0], "--witness", keys[1])
    assert pinned.returncode == 1
    assert "失败 FAILED  log/cosigned-checkpoint.txt: cannot be read" in pinned.stdout


def test_the_genuine_disc_passes_with_the_witnesses_keys_given(world: World, disc: Path, tmp_path: Path) -> None:
    keys = [v for _, v in world.witnesses]
    done = _verify(disc, tmp_path / "empty", "--witness", keys[0], "--witness", keys[1])
    assert done.returncode == 0, done.stdout
    other = witness_config.init(tmp_path / "other", "witness.fazhi.example/w1", logs=[]).vkey
    done = _verify(disc, tmp_path / "empty2", "--witness", other)
    assert done.returncode == 1
    assert "0 witness cosignature(s) verify; 1 are required" in done.stdout


def test_an_export_with_too_few_witnesses_answering_is_refused_before_anything_is_written(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    process, _ = world.witnesses[1]
    process.stop()
    try:
        with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
            before = journal.size(conn)
        request = _request(world)
        with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
            with_request = journal.size(conn)
        assert with_request > before
        capsys.readouterr()
        code = _export(world, tmp_path / "out", monkeypatch, request)
        err = capsys.readouterr().err
        assert code != 0
        assert "only 1 of the 2 witnesses answer" in err
        assert "witness.jiancha.example/w2" in err
        assert "nothing was exported" in err
        assert not list((tmp_path / "out").iterdir())
        with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
            assert journal.size(conn) == with_request  # no ACCESS, no EXPORT entry
    finally:
        process.start()
