"""Evidence to disc against the real S3 server: build the image, read it with xorriso (a tool we did not
write), run VERIFY.py with a plain ``python3 -I`` from an empty folder, then tamper with one thing at a
time; splitting over tiny discs; refusals that write nothing; the no-drive burn path.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from access.people import Person, Role
from chain.checkpoint import format_vkey
from chain.entries import EntryType, decode
from evidock import settings as settings_mod
from evidock.app import checkpointer_for, open_app, retention_context
from evidock.cli import main
from evidock.keys import init_key, public_path
from evidock.settings import Settings
from retention import labelling
from retention.export import job, layout, verify_disc
from retention.export.launcher import embedded_source
from storage import journal
from storage.access_terms import Action, Category
from storage.schema import log_entries
from tests.conftest import add_person, raw_config, sqlite_only, write_config
from tests.independent_verifier import verifier as independent
from tests.test_retention_labels import ingest

pytestmark = [pytest.mark.s3, pytest.mark.slow]

CASE = "京朝公(治)行罚决字[2026]27号"
DEVICE = "CAM27"


@dataclass
class World:
    settings: Settings
    cfg: list[str]
    tmp: Path
    tokens: dict[str, str]
    recordings: list[str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> World:
    """Three camera clips ingested into S3, labelled with a case, a checkpoint taken after ingest."""
    tmp = tmp_path_factory.mktemp("export")
    (tmp / "inbox").mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    env = {
        **os.environ,
        "EVIDOCK_S3_ACCESS_KEY": s3_env["S3_ACCESS_KEY"],
        "EVIDOCK_S3_SECRET_KEY": s3_env["S3_SECRET_KEY"],
    }
    settings = settings_mod.load(config, env)
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        names = [f"{DEVICE}_P2701_2026112009{n:02d}00_{n + 1:04d}.mp4" for n in range(3)]
        ids = [ingest(evi, tmp, name) for name in names]
        checkpointer_for(evi).make(evi.now())  # the ingest-time checkpoint
        labelling.label(
            retention_context(evi), ids, case_number=CASE, parties=["张三"], handler="李四", by="c1", now=evi.now()
        )
    people = {"c1": Role.CUSTODIAN, "c2": Role.CUSTODIAN, "a1": Role.AUDITOR}
    tokens = {name: add_person(settings, name, role) for name, role in people.items()}
    return World(settings, ["--config", str(config)], tmp, tokens, ids)


@pytest.fixture
def act_c1(act: Callable[[str], None]) -> None:
    act("c1")


@pytest.fixture
def act(world: World, monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str]) -> Callable[[str], None]:
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])
    monkeypatch.delenv("EVIDOCK_PASSWORD", raising=False)

    def as_(name: str) -> None:
        monkeypatch.setenv("EVIDOCK_USER", name)
        monkeypatch.setenv("EVIDOCK_TOKEN", world.tokens[name])

    return as_


def _request(world: World, recordings: list[str], *, action: Action = Action.EXPORT, approve: bool = True) -> int:
    """An export request by c1, approved (or left pending) by c2, through the gate."""
    with open_app(world.settings, ensure_bucket=False) as evi:
        gate = evi.gate()
        made = gate.request(
            Person("c1", Role.CUSTODIAN),
            recordings,
            action=action,
            reason="移送法院 trial evidence",
            category=Category.COURT,
            document_ref="(2026)京0105刑初27号",
            requester="朝阳区人民法院",
        )
        if approve:
            gate.decide(Person("c2", Role.CUSTODIAN), made.id, approve=True, reason="负责人批准")
    return made.id


def _export(
    world: World, capsys: pytest.CaptureFixture[str], request: int, out: Path, *extra: str
) -> tuple[int, dict[str, Any] | None, str]:
    out.mkdir(exist_ok=True)
    capsys.readouterr()
    code = main(
        [
            *world.cfg,
            "export",
            "disc",
            "--case",
            CASE,
            "--maker",
            "王五",
            "--extractor",
            "赵六",
            "--request",
            str(request),
            "--out",
            str(out),
            "--json",
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code in (0, 3) else None), captured.err


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


def _verify(disc: Path, empty: Path, *args: str, python: str = "python3") -> subprocess.CompletedProcess[str]:
    """``python3 -I VERIFY.py`` with the system Python, from an empty folder, nothing else on the path."""
    empty.mkdir(exist_ok=True)
    assert not any(empty.iterdir())
    return subprocess.run(
        [python, "-I", str(disc / "VERIFY.py"), *args],
        cwd=empty,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8"},
        timeout=300,
    )


@dataclass
class Exported:
    request: int
    image: Path
    disc: Path  # the image extracted by xorriso


@pytest.fixture(scope="module")
def exported(world: World, tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> Exported:
    tmp = tmp_path_factory.mktemp("exported")
    request = _request(world, world.recordings)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
        mp.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])
        mp.setenv("EVIDOCK_USER", "c1")
        mp.setenv("EVIDOCK_TOKEN", world.tokens["c1"])
        (tmp / "out").mkdir()
        code = main(
            [
                *world.cfg,
                *("export", "disc", "--case", CASE, "--maker", "王五", "--extractor", "赵六"),
                *("--request", str(request), "--out", str(tmp / "out"), "--media", "cd", "--json"),
            ]
        )
    assert code == 0
    images = sorted((tmp / "out").glob("*.iso"))
    assert len(images) == 1
    return Exported(request, images[0], _extract(images[0], tmp / "disc"))


def test_the_disc_verifies_offline_and_holds_the_originals_byte_for_byte(
    world: World, exported: Exported, tmp_path: Path
) -> None:
    done = _verify(exported.disc, tmp_path / "empty")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERDICT: PASSED" in done.stdout
    assert "结论：校验通过" in done.stdout
    vkey = (exported.disc / "log" / "log.vkey").read_text().strip()
    # The full verifier key, its fingerprint and how to check it against the bureau's published key.
    assert f"验证公钥 verifier key: {vkey}\n" in done.stdout
    assert verify_disc.fingerprint(vkey) in done.stdout
    assert verify_disc.KEY_ADVICE in done.stdout

    # The originals, byte for byte: their SHA-256 is the recording id.
    originals = sorted((exported.disc / "原始录像").iterdir())
    assert sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in originals) == sorted(world.recordings)
    assert all(p.name.startswith(f"{DEVICE}_20261120-") for p in originals)
    # sha256sum (coreutils) agrees with SHA256SUMS.
    sums = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=exported.disc, capture_output=True, text=True, check=False
    )
    assert sums.returncode == 0, sums.stdout + sums.stderr

    manifest = json.loads((exported.disc / "MANIFEST.json").read_text(encoding="utf-8"))
    assert (manifest["case_number"], manifest["maker"], manifest["extractor"]) == (CASE, "王五", "赵六")
    assert (manifest["disc"], manifest["discs"], manifest["parties"], manifest["handler"]) == (1, 1, ["张三"], "李四")
    assert {r["id"] for r in manifest["recordings"]} == set(world.recordings)
    for item in manifest["recordings"]:
        assert item["device"] == DEVICE
        assert item["start_raw"]
        assert item["start_corrected"]
        assert item["label"]["case_number"] == CASE
    label = (exported.disc / "LABEL.txt").read_text(encoding="utf-8-sig")
    for text in (CASE, "张三", "李四", "王五", "赵六", "1/1", "(Asia/Shanghai)", *world.recordings):
        assert text in label
    assert f"验证公钥 Verifier key：{vkey}" in label
    assert verify_disc.fingerprint(vkey) in label
    assert verify_disc.KEY_ADVICE in label
    sheet = (exported.disc / "LABEL.html").read_text(encoding="utf-8")
    assert "<html" in sheet
    assert vkey in sheet
    assert html.escape(verify_disc.KEY_ADVICE) in sheet
    # VERIFY.py on the disc holds the package's module byte for byte, behind the version guard.
    assert embedded_source((exported.disc / "VERIFY.py").read_bytes()) == Path(verify_disc.__file__).read_bytes()


def test_the_disc_proves_its_own_export_was_logged(world: World, exported: Exported) -> None:
    disc = exported.disc
    _, size, root = verify_disc.open_checkpoint(
        (disc / "log" / "checkpoint.txt").read_text(), (disc / "log" / "log.vkey").read_text()
    )
    on_disc = {}
    for proof in (disc / "log" / "entries").iterdir():
        value = json.loads(proof.read_text())
        on_disc[value["index"]] = decode(base64.b64decode(value["entry_b64"]))
    exports = [e for e in on_disc.values() if e.type is EntryType.EXPORT]
    assert {e.recording for e in exports} == set(world.recordings)
    assert all((e.body["maker"], e.body["extractor"]) == ("王五", "赵六") for e in exports)
    kinds = {e.type for e in on_disc.values()}
    assert {EntryType.INGEST, EntryType.LABEL, EntryType.APPROVAL, EntryType.ACCESS, EntryType.EXPORT} <= kinds
    # An ingest-time checkpoint is bridged to the export checkpoint.
    assert list((disc / "log" / "consistency").iterdir())
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        assert size <= journal.size(conn)
        sealed = [
            decode(bytes(d))
            for (d,) in conn.execute(
                select(log_entries.c.data).where(log_entries.c.type == EntryType.EXPORT_SEALED.value)
            )
        ]
        for index, entry in on_disc.items():
            assert journal.entry_bytes(conn, index) == base64.b64decode(
                json.loads((disc / "log" / "entries" / f"{index:012d}.json").read_text())["entry_b64"]
            )
            assert entry.type is not EntryType.EXPORT_SEALED
    image_sha = hashlib.sha256(exported.image.read_bytes()).hexdigest()
    assert [(s.body["image_sha256"], s.body["image_size"]) for s in sealed] == [
        (image_sha, exported.image.stat().st_size)
    ]
    assert len(root) == 32


def test_joliet_and_rock_ridge_carry_the_chinese_names(exported: Exported) -> None:
    def names(tree: str) -> list[str]:
        """The file names xorriso reads from one of the image's trees (Joliet, Rock Ridge, plain ISO 9660)."""
        done = subprocess.run(
            [
                *("xorriso", "-read_fs", tree, "-ecma119_map", "unmapped", "-local_charset", "UTF-8"),
                *("-indev", str(exported.image), "-find", "/", "-type", "f"),
            ],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": os.environ["PATH"]},
        )
        assert done.returncode == 0, done.stderr
        return [line.strip("'") for line in done.stdout.splitlines() if line.startswith("'/")]

    joliet, rock_ridge, plain = names("norock"), names("nojoliet"), names("ecma119")
    for found in (joliet, rock_ridge):
        originals = [n for n in found if n.startswith("/原始录像/")]
        assert len(originals) == 3, found
        assert all(len(n.rsplit("/", 1)[1]) <= 64 for n in found)  # Joliet's limit
        assert {"/MANIFEST.json", "/VERIFY.py", "/SHA256SUMS", "/LABEL.html", "/log/checkpoint.txt"} <= set(found)
    assert sorted(joliet) == sorted(rock_ridge)
    # The plain ISO 9660 tree has generated level-3 names (what an old reader without Joliet/RR sees).
    assert all(n.endswith(";1") and n == n.upper() for n in plain), plain
    assert len(plain) == len(joliet)


def _copy(exported: Exported, tmp_path: Path) -> Path:
    disc = tmp_path / "disc"
    shutil.copytree(exported.disc, disc)
    return disc


def _flip(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    position = len(data) // 2 if at is None else at
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def _failed(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "VERDICT: FAILED" in done.stdout
    assert "校验未通过" in done.stdout
    return done.stdout


def test_a_flipped_byte_in_a_video_fails_naming_it(exported: Exported, tmp_path: Path) -> None:
    disc = _copy(exported, tmp_path)
    video = sorted((disc / "原始录像").iterdir())[1]
    _flip(video)
    report = _failed(_verify(disc, tmp_path / "empty"))
    assert f"FAILED  原始录像/{video.name}" in report


def test_a_flipped_byte_in_the_manifest_fails_naming_it(exported: Exported, tmp_path: Path) -> None:
    disc = _copy(exported, tmp_path)
    manifest = disc / "MANIFEST.json"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace('"maker": "王五"', '"maker": "王伍"'), encoding="utf-8")
    report = _failed(_verify(disc, tmp_path / "empty"))
    assert "FAILED  MANIFEST.json" in report
    assert "not the manifest the EXPORT entry logged" in report


def test_a_flipped_byte_in_a_proof_fails_naming_it(exported: Exported, tmp_path: Path) -> None:
    disc = _copy(exported, tmp_path)
    proof = sorted((disc / "log" / "entries").iterdir())[-1]
    value = json.loads(proof.read_text())
    first = value["proof"][0]
    value["proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]
    proof.write_text(json.dumps(value))
    report = _failed(_verify(disc, tmp_path / "empty"))
    assert f"FAILED  log/entries/{proof.name}: not proven: inclusion proof does not lead" in report


def test_a_flipped_byte_in_the_checkpoint_fails_naming_it(exported: Exported, tmp_path: Path) -> None:
    disc = _copy(exported, tmp_path)
    checkpoint = disc / "log" / "checkpoint.txt"
    origin, size, rest = checkpoint.read_text().split("\n", 2)
    checkpoint.write_text(f"{origin}\n{int(size) + 1}\n{rest}")  # claim one more entry
    report = _failed(_verify(disc, tmp_path / "empty"))
    assert "FAILED  log/checkpoint.txt: not proven: the signature" in report


def test_a_swapped_verifier_key_fails_naming_the_checkpoint(exported: Exported, tmp_path: Path) -> None:
    disc = _copy(exported, tmp_path)
    vkey = disc / "log" / "log.vkey"
    name = vkey.read_text().split("+", 1)[0]
    vkey.write_text(format_vkey(name, Ed25519PrivateKey.generate().public_key()) + "\n")
    report = _failed(_verify(disc, tmp_path / "empty"))
    assert "FAILED  log/checkpoint.txt: not proven: the checkpoint carries no signature by the verifier key" in report
    # Given the published key on the command line, the signature checks out, and only the swapped
    # key file itself is reported (its hash in SHA256SUMS).
    original = (exported.disc / "log" / "log.vkey").read_text().strip()
    report = _failed(_verify(disc, tmp_path / "empty2", "--vkey", original))
    assert "以下文件有问题：log/log.vkey\n" in report
    # And a pristine disc checked against some other key fails.
    other = format_vkey(name, Ed25519PrivateKey.generate().public_key())
    _failed(_verify(exported.disc, tmp_path / "empty3", "--vkey", other))


@pytest.mark.parametrize(
    ("added", "named"),
    [
        ("NOTES.txt", "NOTES.txt: this file is not part of the disc"),
        ("原始录像/CAM27_extra.mp4", "原始录像/CAM27_extra.mp4: this file is not part of the disc"),
        ("log/entries/notes.json", "log/entries/notes.json: this file is not part of the disc"),
        ("extra/readme.txt", "extra/: this folder is not part of an evidock disc"),
    ],
)
def test_a_file_added_to_the_disc_fails_naming_it(exported: Exported, tmp_path: Path, added: str, named: str) -> None:
    disc = _copy(exported, tmp_path)
    path = disc / added
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"added after the export\n")
    report = _failed(_verify(disc, tmp_path / "empty"))
    assert f"FAILED  {named}" in report


def test_a_file_added_with_its_line_in_sha256sums_still_fails(exported: Exported, tmp_path: Path) -> None:
    """SHA256SUMS is not logged: whoever adds a file can add its line, so the line admits nothing."""
    disc = _copy(exported, tmp_path)
    video = sorted((disc / "原始录像").iterdir())[0]
    extra = disc / "原始录像" / f"copy-{video.name}"
    shutil.copyfile(video, extra)
    with (disc / "SHA256SUMS").open("a", encoding="utf-8") as sums:
        sums.write(f"{hashlib.sha256(extra.read_bytes()).hexdigest()}  原始录像/{extra.name}\n")
    report = _failed(_verify(disc, tmp_path / "empty"))
    assert f"FAILED  原始录像/{extra.name}: this file is not part of the disc" in report


def test_content_larger_than_the_medium_is_split_into_discs_each_verifying_alone(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    act("c1")
    request = _request(world, world.recordings)
    items = []
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        from storage import custody
        from storage import recordings as recordings_db

        for rec in world.recordings:
            found = recordings_db.get(conn, rec)
            assert found is not None
            items.append(layout.Item(rec, found.size, len(custody.chain_indexes(conn, rec, below=2**62)) + 4))
    # Room for one recording, its entries' proofs and the disc's own files, not two (as the export reckons).
    capacity = max(layout.room_needed([item]) for item in items)
    code, result, err = _export(world, capsys, request, tmp_path / "out", "--capacity", str(capacity))
    assert code == 0, err
    assert result is not None
    discs = result["discs"]
    assert isinstance(discs, list)
    assert len(discs) == 3
    seen: list[str] = []
    for number, disc in enumerate(discs, start=1):
        image = Path(disc["image"])
        assert image.stat().st_size <= capacity
        assert image.name.endswith(f"disc{number}of3.iso")
        extracted = _extract(image, tmp_path / f"disc{number}")
        done = _verify(extracted, tmp_path / f"empty{number}")
        assert done.returncode == 0, done.stdout
        manifest = json.loads((extracted / "MANIFEST.json").read_text(encoding="utf-8"))
        assert (manifest["disc"], manifest["discs"]) == (number, 3)
        assert f"{number}/3" in (extracted / "LABEL.txt").read_text(encoding="utf-8-sig")
        seen += [r["id"] for r in manifest["recordings"]]
        assert len(manifest["other_discs"]) == 2
    assert sorted(seen) == sorted(world.recordings)


def _log_size(world: World) -> int:
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        return journal.size(conn)


@pytest.mark.parametrize("state", ["pending", "copy request", "another person's", "auditor"])
def test_export_is_refused_without_an_approved_export_request_and_writes_nothing(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path, state: str
) -> None:
    if state == "pending":
        request = _request(world, world.recordings, approve=False)
    elif state == "copy request":
        request = _request(world, world.recordings, action=Action.COPY)
    else:
        request = _request(world, world.recordings)
    act({"another person's": "c2", "auditor": "a1"}.get(state, "c1"))
    before = _log_size(world)
    out = tmp_path / "out"
    code, _, err = _export(world, capsys, request, out)
    assert code != 0
    assert "request" in err or "may not" in err
    assert not list(out.iterdir())
    assert _log_size(world) == before


def test_a_request_not_covering_every_recording_is_refused_before_anything_is_read(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request = _request(world, world.recordings[:2])
    act("c1")
    before = _log_size(world)
    code, _, err = _export(world, capsys, request, tmp_path / "out")
    assert code != 0
    assert f"recording {world.recordings[2][:12]} is not in request {request}" in err
    assert _log_size(world) == before
    with open_app(world.settings, ensure_bucket=False) as evi:
        asked = evi.gate().get_request(Person("c1", Role.CUSTODIAN), request)
    assert all(g.used_at is None for g in asked.grants)


def test_without_a_drive_the_image_is_made_and_the_message_says_how_to_burn_it(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    act("c1")
    missing = str(tmp_path / "sr9")
    code, result, _ = _export(world, capsys, _request(world, world.recordings), tmp_path / "out", "--burn", missing)
    assert code == 3
    assert result is not None
    (burn,) = result["burn"]
    assert burn["burned"] is False
    assert f"{missing} is not a writable optical drive" in burn["message"]
    assert "xorriso -as cdrecord" in burn["message"]
    assert "Burn disc image" in burn["message"]
    (disc,) = result["discs"]
    assert Path(disc["image"]).exists()


def test_without_json_it_shows_each_step_and_says_how_to_burn(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    act("c1")
    request = _request(world, world.recordings)
    (tmp_path / "out").mkdir()
    capsys.readouterr()
    code = main(
        [
            *world.cfg,
            *("export", "disc", "--case", CASE, "--maker", "王五", "--extractor", "赵六"),
            *("--request", str(request), "--out", str(tmp_path / "out")),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 recording(s) on 1 disc(s)" in captured.err
    assert "signing a checkpoint that covers the EXPORT entries" in captured.err
    assert "writing disc 1/1" in captured.err
    assert "xorriso -as cdrecord" in captured.err
    (image,) = (tmp_path / "out").glob("*.iso")
    assert f"disc 1/1: {image}" in captured.out
    assert "EXPORT_SEALED entry" in captured.out


def _oldest_python() -> str | None:
    """A Python 3.8 interpreter, if this machine has one (pyenv keeps old versions; its shims are not one)."""
    pyenv = sorted((Path.home() / ".pyenv" / "versions").glob("3.8*/bin/python3.8"))
    if pyenv:
        return str(pyenv[0])
    found = shutil.which("python3.8")
    return found if found and "shims" not in found else None


def test_verify_py_runs_on_python_38(exported: Exported, tmp_path: Path) -> None:
    python38 = _oldest_python()
    if python38 is None:
        pytest.skip("no Python 3.8 on this machine; the syntax is checked in test_export_verifier.py")
    done = _verify(exported.disc, tmp_path / "empty", python=python38)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERDICT: PASSED" in done.stdout
    disc = _copy(exported, tmp_path / "copy")
    _flip(sorted((disc / "原始录像").iterdir())[0])
    assert "VERDICT: FAILED" in _failed(_verify(disc, tmp_path / "empty2", python=python38))


def test_a_station_public_key_that_is_not_the_signing_key_is_refused_before_anything_is_written(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request = _request(world, world.recordings)
    act("c1")
    pub = public_path(world.settings)
    kept = pub.read_text()
    pub.write_text(format_vkey(kept.split("+", 1)[0], Ed25519PrivateKey.generate().public_key()) + "\n")
    before = _log_size(world)
    try:
        code, _, err = _export(world, capsys, request, tmp_path / "out")
    finally:
        pub.write_text(kept)
    assert code != 0
    assert "is not the log's signing key's" in err
    assert _log_size(world) == before
    assert not list((tmp_path / "out").iterdir())


def test_without_out_the_images_go_to_the_configured_export_folder(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    act("c1")
    request = _request(world, world.recordings)
    capsys.readouterr()
    code = main(
        [
            *world.cfg,
            *("export", "disc", "--case", CASE, "--maker", "王五", "--extractor", "赵六"),
            *("--request", str(request), "--media", "cd", "--json"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (disc,) = json.loads(captured.out)["discs"]
    assert Path(disc["image"]).parent == world.settings.export.out_dir  # [export] out_dir, created on first use
    assert Path(disc["image"]).is_file()


FORGERIES = {  # name: (SQL a database user runs, which recording it names, what the refusal says)
    "deleted label": ("DELETE FROM labels WHERE recording = ?", 2, "left out: {id}"),
    "edited duration": (
        "UPDATE recordings SET duration_ms = 1 WHERE id = ?",
        0,
        "column duration_ms: the catalog has 1",
    ),
    "edited handler": (
        "UPDATE labels SET handler = '王五' WHERE recording = ?",
        1,
        "column handler: the catalog has '王五'",
    ),
}


@sqlite_only  # the forgery is SQL on the SQLite file, undone from a backup of it
@pytest.mark.parametrize("forgery", list(FORGERIES))
@pytest.mark.usefixtures("act_c1")
def test_an_export_from_a_forged_catalog_is_refused_naming_the_difference(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path, forgery: str
) -> None:
    request = _request(world, world.recordings)
    sql, which, said = FORGERIES[forgery]
    target = world.recordings[which]
    copy = tmp_path / "before.db"
    db = world.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as raw, sqlite3.connect(copy) as saved:
        raw.backup(saved)
    with sqlite3.connect(db) as raw:
        assert raw.execute(sql, (target,)).rowcount == 1
    try:
        before = _log_size(world)
        out = tmp_path / "out"
        code, _, err = _export(world, capsys, request, out)
        assert code != 0
        assert said.format(id=target) in err
        assert "nothing was exported" in err
        assert not list(out.iterdir())
        assert _log_size(world) == before, "a refused export writes nothing"
    finally:
        with sqlite3.connect(copy) as saved, sqlite3.connect(db) as raw:
            saved.backup(raw)  # the module's world as it was


UNCHECKED_FORGERIES = {  # name: (SQL a database user runs, which recording it names, what VERIFY.py says)
    "deleted label": (
        "DELETE FROM labels WHERE recording = ?",
        2,
        "recording {id} is labelled with case " + CASE + " by the log, but is on no disc of this export",
    ),
    "edited duration": ("UPDATE recordings SET duration_ms = 1 WHERE id = ?", 0, "{short}: duration_ms is 1 in the"),
    "edited name": (
        "UPDATE recordings SET original_name = 'forged.mp4' WHERE id = ?",
        0,
        '{short}: original_name is "forged.mp4" in the manifest, but INGEST entry',
    ),
    "edited station": (
        "UPDATE recordings SET station = 'dock-99' WHERE id = ?",
        1,
        '{short}: station is "dock-99" in the manifest, but INGEST entry',
    ),
    "edited handler": (
        "UPDATE labels SET handler = '王五' WHERE recording = ?",
        1,
        '{short}: label.handler is "王五" in the manifest, but LABEL entry',
    ),
    "edited party": (
        """UPDATE labels SET parties = '["王五"]' WHERE recording = ?""",
        0,
        '{short}: party "王五" is not among the parties LABEL entry',
    ),
}


@sqlite_only  # the forgery is SQL on the SQLite file, undone from a backup of it
@pytest.mark.parametrize("forgery", list(UNCHECKED_FORGERIES))
@pytest.mark.usefixtures("act_c1")
def test_a_disc_made_from_a_forged_catalog_without_the_export_check_fails_verify_py(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path, forgery: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The EXPORT entry vouches for a manifest made from forged rows; VERIFY.py compares it with the entries."""
    monkeypatch.setattr(job, "_check_facts", lambda *_args, **_kwargs: None)  # an exporter that skips its check
    request = _request(world, world.recordings)
    sql, which, said = UNCHECKED_FORGERIES[forgery]
    target = world.recordings[which]
    table, key = ("labels", "recording") if " labels " in sql else ("recordings", "id")
    db = world.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as raw:
        kept = raw.execute(f"SELECT * FROM {table} WHERE {key} = ?", (target,)).fetchall()  # noqa: S608  # fixed names
        assert raw.execute(sql, (target,)).rowcount == 1
    try:
        code, result, err = _export(world, capsys, request, tmp_path / "out", "--media", "cd")
    finally:  # only the forged rows are put back: the export's entries and checkpoint stay, as they happened
        with sqlite3.connect(db) as raw:
            raw.execute(f"DELETE FROM {table} WHERE {key} = ?", (target,))  # noqa: S608  # fixed names
            marks = ", ".join("?" * len(kept[0]))
            raw.executemany(f"INSERT INTO {table} VALUES ({marks})", kept)  # noqa: S608  # fixed names
    assert code == 0, err
    assert result is not None
    (made,) = result["discs"]
    report = _failed(_verify(_extract(Path(made["image"]), tmp_path / "disc"), tmp_path / "empty"))
    assert f"FAILED  MANIFEST.json: {said.format(id=target, short='recording ' + target[:12])}" in report
    assert "not the manifest the EXPORT entry logged" not in report  # the manifest is the one logged


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("device", "CAM99", 'device is "CAM99" in the manifest, but INGEST entry'),
        ("start_raw", "2026-11-20T05:00:00Z", 'start_raw is "2026-11-20T05:00:00Z" in the manifest, but INGEST entry'),
        ("access_entry", 0, "access_entry 0 is not an ACCESS entry about it on this disc"),
    ],
)
def test_a_manifest_fact_edited_on_the_disc_fails_naming_recording_field_and_both_values(
    exported: Exported, tmp_path: Path, field: str, value: object, said: str
) -> None:
    disc = _copy(exported, tmp_path)
    manifest = json.loads((disc / "MANIFEST.json").read_text(encoding="utf-8"))
    item = manifest["recordings"][0]
    item[field] = value
    (disc / "MANIFEST.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    report = _failed(_verify(disc, tmp_path / "empty"))
    assert f"FAILED  MANIFEST.json: recording {item['id'][:12]}: {said}" in report


@sqlite_only  # the independent verifier reads the SQLite catalog file
def test_the_independent_verifier_checks_the_disc_proof_files_and_the_catalog_projection(
    world: World, exported: Exported, tmp_path: Path
) -> None:
    """tests/independent_verifier, written from docs/log-format.md alone, reads the disc and the catalog."""
    vkey = (exported.disc / "log" / "log.vkey").read_text().strip()
    proofs = sorted((exported.disc / "log" / "entries").iterdir())
    types = {independent.verify_inclusion_json(json.loads(p.read_text()), vkey)["type"] for p in proofs}
    assert {"INGEST", "LABEL", "ACCESS", "EXPORT"} <= types
    bridges = sorted((exported.disc / "log" / "consistency").iterdir())
    assert bridges
    for bridge in bridges:
        independent.verify_consistency_json(json.loads(bridge.read_text()), vkey)
    tampered = json.loads(proofs[0].read_text())
    tampered["index"] += 1
    with pytest.raises(independent.VerificationError):
        independent.verify_inclusion_json(tampered, vkey)

    db = world.settings.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(db) as raw:
        raw.row_factory = sqlite3.Row
        entries = [bytes(d) for (d,) in raw.execute("SELECT data FROM log_entries ORDER BY idx")]
        recordings = [dict(r) for r in raw.execute("SELECT * FROM recordings")]
        labels = [dict(r) for r in raw.execute("SELECT * FROM labels")]
        salts = {(int(r["entry"]), r["field"]): bytes(r["salt"]) for r in raw.execute("SELECT * FROM log_salts")}
    for row in recordings:
        for column in ("media", "notes"):
            row[column] = json.loads(row[column]) if row[column] is not None else None
    for row in labels:
        row["parties"] = json.loads(row["parties"])
    assert independent.check_projection(entries, recordings, labels, salts) == []
    recordings[0]["duration_ms"] = 1
    labels[0]["handler"] = "王五"
    labels[1]["parties"] = ["王五"]
    found = independent.check_projection(entries, recordings, labels, salts)
    assert f"recordings {recordings[0]['id']} duration_ms: catalog 1" in found[0]
    assert any(f"labels {labels[0]['entry']} handler: catalog '王五'" in f for f in found)
    assert any(f"labels {labels[1]['entry']} parties" in f for f in found)
    assert len(found) == 3
