"""A file name that is not UTF-8, docked by `evidock run`: kept as its bytes, shown as ``\\xff`` only to people.

Two files whose names people see alike: ``lit-\\xff.mp4`` where ``\\xff`` is one
byte 0xFF (not UTF-8), and ``lit-\\xff.mp4`` where it is the four characters
backslash, x, f, f (valid UTF-8); and a camera clip in a folder whose name is
not UTF-8. A real `evidock run --once` (the real S3, ``after_verify = "move"``)
docks them. The receipts hold the exact bytes, the INGEST entries hold them
(``original_name_b64``), the moved copies carry them, `recordings show --json`
hands them on for the byte name only, so the two alike-looking names stay
apart, and `verify` passes.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from evidock import settings as settings_mod
from evidock.app import open_app
from evidock.cli import main
from evidock.keys import init_key
from storage.schema import receipts, recordings
from tests import media
from tests.conftest import act_as, raw_config, station_env, write_config

pytestmark = pytest.mark.s3

BYTE_NAME = b"lit-\xff.mp4"  # one byte 0xFF
TEXT_NAME = b"lit-\\xff.mp4"  # backslash, x, f, f: valid UTF-8
CARD = b"card-\xfe\xff"  # a folder whose name is not UTF-8
CLIP = b"CAM71_P7101_20261120080619_0001.mp4"


def _path(folder: Path, *parts: bytes) -> Path:
    return Path(os.fsdecode(os.path.join(os.fsencode(folder), *parts)))


def test_names_that_are_not_utf8_keep_their_bytes_from_dock_to_log(
    tmp_path: Path,
    s3_env: dict[str, str],
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inbox, moved = tmp_path / "inbox", tmp_path / "moved"
    inbox.mkdir()
    raw = raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"], watch={"after_verify": "move", "move_to": str(moved)})
    config = write_config(tmp_path / "config.toml", raw)
    settings = settings_mod.load(config, station_env(s3_env))
    init_key(settings)
    os.mkdir(_path(inbox, CARD))
    names = {BYTE_NAME: BYTE_NAME, TEXT_NAME: TEXT_NAME, CARD + b"/" + CLIP: CLIP}
    for relative, mark in names.items():
        media.clip(_path(inbox, relative), seconds=1, mark=mark.hex())

    ran = subprocess.run(
        [sys.executable, "-m", "evidock.cli", "--config", str(config), "run", "--once"],
        env={**station_env(s3_env), "EVIDOCK_LOG_LEVEL": "INFO"},
        capture_output=True,
        check=False,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr.decode(errors="replace")[-3000:]
    log = ran.stderr.decode("utf-8")  # the service's log is text: undecodable bytes escaped, never raw
    assert "lit-\\\\xff.mp4" in log  # one_line escapes the backslash of the UTF-8 name's text
    assert "lit-\\udcff.mp4" in log or "lit-\\xff.mp4" in log

    # Moved by their bytes, not by a lossy text form.
    assert sorted(os.listdir(os.fsencode(moved / "inbox"))) == sorted([BYTE_NAME, TEXT_NAME, CARD])
    assert os.listdir(os.path.join(os.fsencode(moved / "inbox"), CARD)) == [CLIP]
    assert os.listdir(os.fsencode(inbox)) == [CARD]  # the emptied card folder stays

    with open_app(settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        kept = {bytes(r.rel_path): r.recording for r in conn.execute(select(receipts.c.rel_path, receipts.c.recording))}
        shown = {r.id: r.original_name for r in conn.execute(select(recordings.c.id, recordings.c.original_name))}
    assert set(kept) == set(names)
    assert shown[kept[BYTE_NAME]] == shown[kept[TEXT_NAME]] == "lit-\\xff.mp4", "alike to people"
    assert shown[kept[CARD + b"/" + CLIP]] == "card-\\xfe\\xff/" + CLIP.decode()

    act_as(settings, monkeypatch, "c1", "custodian")

    def show(recording: str) -> dict[str, object]:
        capsys.readouterr()
        assert main(["--config", str(config), "recordings", "show", recording, "--json"]) == 0
        return dict(json.loads(capsys.readouterr().out))

    as_bytes, as_text, in_card = (show(kept[n]) for n in (BYTE_NAME, TEXT_NAME, CARD + b"/" + CLIP))
    assert base64.b64decode(str(as_bytes["original_name_b64"])) == BYTE_NAME
    assert "original_name_b64" not in as_text, "a UTF-8 name is exact as it is shown"
    assert str(as_text["original_name"]).encode() == TEXT_NAME
    assert base64.b64decode(str(in_card["original_name_b64"])) == CARD + b"/" + CLIP
    capsys.readouterr()
    assert main(["--config", str(config), "recordings", "show", kept[BYTE_NAME]]) == 0
    assert f"original_name_b64: {base64.b64encode(BYTE_NAME).decode()}" in capsys.readouterr().out

    capsys.readouterr()
    code = main(["--config", str(config), "verify"])
    said = capsys.readouterr()
    assert code == 0, said.out[-2000:] + said.err[-2000:]
