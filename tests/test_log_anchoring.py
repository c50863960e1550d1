"""No unanchored tail: every process that appends signs a checkpoint, so a deleted tail is named by `verify`.

Deleting the newest entries is the one edit of the database a checkpoint
cannot catch until it covers them. Here the tail is cut the careful way (the
entries, the Merkle nodes over them and the head, all consistent) after
`evidock ingest`, after a person's CLI command, and after an API call and a
web request served by a real `evidock run`; `verify` must name what is gone.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import delete, update

from access.people import Role
from evidock import settings as settings_mod
from evidock.app import App, checkpoint_reader, open_app
from evidock.cli import main
from evidock.keys import init_key, load_vkey
from evidock.runner import CHECKPOINT_POLL_SECONDS
from evidock.settings import ConfigError, Settings
from evidock.verify import verify
from storage import journal
from storage.checkpoints import object_key
from storage.schema import log_entries, log_head, log_nodes
from tests import media
from tests.conftest import act_as, add_person, free_port, raw_config, sqlite_only, station_env, write_config

pytestmark = pytest.mark.s3


def _size(evi: App) -> int:
    with evi.catalog.read() as conn:
        return journal.size(conn)


def _anchored_size(evi: App) -> int:
    latest = checkpoint_reader(evi).latest_stored()
    return latest.checkpoint.size if latest else 0


cuts_the_tail = sqlite_only  # with the catalog's foreign keys off (PRAGMA); on PostgreSQL that takes a superuser


def _cut_tail(evi: App, new_size: int) -> None:
    """What someone with the database would do: drop the newest entries, their nodes, and lower the head."""
    with evi.catalog.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # catalog rows still name these entries; they see no harm
        conn.execute(delete(log_entries).where(log_entries.c.idx >= new_size))
        conn.execute(delete(log_nodes).where(((log_nodes.c.idx + 1) * (2**log_nodes.c.level)) > new_size))
        conn.execute(update(log_head).values(size=new_size))
        conn.commit()


def _truncations(evi: App, vkey: str) -> dict[str, str]:
    return {f.subject: f.message for f in verify(evi, vkey).failures if f.check == "log_truncated"}


@cuts_the_tail
def test_ingest_signs_before_it_exits_and_a_deleted_tail_is_named(settings: Settings, config_file: Path) -> None:
    vkey, _ = init_key(settings)
    inbox = config_file.parent / "inbox"
    clip = media.clip(inbox / "CAM41_P4001_20261120080000_0001.mp4", mark="anchor")
    assert main(["--config", str(config_file), "ingest", str(clip)]) == 0
    with open_app(settings) as evi:
        size = _size(evi)
        assert size >= 2  # INGEST and its findings
        assert _anchored_size(evi) == size
        assert verify(evi, vkey).ok
        _cut_tail(evi, size - 2)
        assert _truncations(evi, vkey) == {
            object_key(size): f"entries {size - 2}..{size - 1} are missing from the end of the log: the signed "
            f"checkpoint covers {size} entries, the log holds {size - 2}"
        }


@cuts_the_tail
def test_a_person_s_command_signs_its_access_entry(
    settings: Settings, config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey, _ = init_key(settings)
    act_as(settings, monkeypatch, "li.si", Role.CUSTODIAN)
    cfg = ["--config", str(config_file)]
    assert main([*cfg, "recordings", "list", "--reason", "daily check"]) == 0
    assert capsys.readouterr().err == ""
    with open_app(settings) as evi:
        size = _size(evi)
        assert _anchored_size(evi) == size  # the ACCESS entry of the listing is covered
        _cut_tail(evi, size - 1)
        assert _truncations(evi, vkey) == {
            object_key(size): f"entry {size - 1} is missing from the end of the log: the signed checkpoint covers "
            f"{size} entries, the log holds {size - 1}"
        }


def test_a_failed_signing_is_an_error_that_keeps_the_command_s_output(
    settings: Settings, config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    act_as(settings, monkeypatch, "li.si", Role.CUSTODIAN)
    cfg = ["--config", str(config_file)]
    # No key on this machine (a station of a bureau whose central node signs): a warning, the exit code stands.
    assert main([*cfg, "recordings", "list", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "[]"
    assert re.fullmatch(
        r"warning: the log's newest entries \(up to index \d+\) are not anchored by a signed checkpoint: "
        r"this machine holds no signing key .*log.max_unanchored_seconds\)\n",
        captured.err,
    )
    # A key that cannot sign: the result is printed all the same, then one error line and exit code 1.
    monkeypatch.setenv("EVIDOCK_LOG_SIGNING_KEY", "PRIVATE+KEY+broken")
    assert main([*cfg, "recordings", "list", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == "[]"
    assert re.fullmatch(
        r"error: the log's newest entries \(up to index \d+\) are not anchored by a signed checkpoint: "
        r"\$EVIDOCK_LOG_SIGNING_KEY does not hold a valid signing key: .* The command's own result stands; .*\n",
        captured.err,
    )
    assert captured.err.count("\n") == 1
    # A command that appends nothing signs nothing and says nothing.
    monkeypatch.delenv("EVIDOCK_LOG_SIGNING_KEY")
    assert main([*cfg, "calendar", "is-workday", "2026-10-08"]) == 0
    assert capsys.readouterr().err == ""


def test_verify_notes_a_young_tail_and_fails_an_old_one(settings: Settings) -> None:
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        first = evi.log_key(vkey)  # two entries nobody signed
        report = verify(evi, vkey)
        assert report.ok
        assert report.checked["unanchored_entries"] == 2
        ((check, subject, message),) = [(n.check, n.subject, n.message) for n in report.notes]
        assert (check, subject) == ("log_unanchored", f"entries 0..{first}")
        assert "2 entries are not covered by a signed checkpoint" in message
        assert "limit log.max_unanchored_seconds = 900 s" in message
        later = evi.now() + timedelta(seconds=settings.log.max_unanchored_seconds + 5)
        late = verify(evi, vkey, now=later)
        assert [(f.check, f.subject) for f in late.failures] == [("log_unanchored", f"entries 0..{first}")]
        assert re.search(r"is 90[5-9] s old \(limit log.max_unanchored_seconds = 900 s\)", late.failures[0].message)


def test_max_unanchored_seconds_is_checked_against_the_cadence(tmp_path: Path, s3_env: dict[str, str]) -> None:
    config = raw_config(
        tmp_path,
        "bucket-x",
        s3_env["S3_ENDPOINT"],
        log={"checkpoint_every_seconds": 300, "max_unanchored_seconds": 120},
    )
    path = write_config(tmp_path / "config.toml", config)
    with pytest.raises(ConfigError) as refused:
        settings_mod.load(path, station_env(s3_env))
    assert str(refused.value) == (
        f"{path}: log.max_unanchored_seconds = 120: the service signs new entries within "
        "log.checkpoint_every_seconds = 300 s, so `evidock verify` would fail on a healthy log; use at least 360 "
        "(or sign more often)"
    )


def _wait_for_anchor(evi: App, size: int, service: subprocess.Popen[bytes], *, within: float) -> float:
    """Seconds until a stored checkpoint covers ``size`` entries (the service's own job, not its shutdown)."""
    started = time.monotonic()
    while _anchored_size(evi) < size:
        assert service.poll() is None, "the service stopped"
        assert time.monotonic() - started < within, f"no checkpoint covered {size} entries within {within} s"
        time.sleep(0.2)
    return time.monotonic() - started


@cuts_the_tail
def test_the_service_signs_api_and_web_appends_and_a_deleted_tail_is_named(
    tmp_path: Path, s3_env: dict[str, str], bucket: str
) -> None:
    (tmp_path / "inbox").mkdir()
    every = 2
    config = write_config(
        tmp_path / "config.toml",
        raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"], log={"checkpoint_every_seconds": every}),
    )
    settings = settings_mod.load(config, station_env(s3_env))
    init_key(settings)
    vkey = load_vkey(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
    token = add_person(settings, "li.si", Role.CUSTODIAN)
    port = free_port()
    service = subprocess.Popen(
        [sys.executable, "-m", "evidock.cli", "--config", str(config), "run", "--http-port", str(port)],
        env=station_env(s3_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    within = every + CHECKPOINT_POLL_SECONDS + 10  # the cadence, the job's poll, and a busy machine
    try:
        with open_app(settings, ensure_bucket=False) as evi:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx2.get(f"{base}/health", timeout=5)
                    break
                except httpx2.TransportError:
                    assert time.monotonic() < deadline, "evidock run did not answer"
                    time.sleep(0.2)
            _wait_for_anchor(evi, _size(evi), service, within=within)  # what came before the service
            before_api = _size(evi)

            auth = {"Authorization": f"Bearer {token}", "X-Evidock-User": "li.si"}
            assert httpx2.get(f"{base}/api/v1/recordings", headers=auth, timeout=10).status_code == 200
            after_api = _size(evi)
            assert after_api > before_api  # the search is an ACCESS entry
            _wait_for_anchor(evi, after_api, service, within=within)

            with httpx2.Client(base_url=base, timeout=10) as web:
                login = web.get("/login")
                csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
                assert csrf is not None
                logged_in = web.post(
                    "/login", data={"name": "li.si", "secret": token, "csrf": csrf.group(1), "next": "/"}
                )
                assert logged_in.status_code == 303
                assert web.get("/recordings").status_code == 200
            after_web = _size(evi)
            assert after_web > after_api
            _wait_for_anchor(evi, after_web, service, within=within)
    finally:
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=60)
    assert service.returncode == 0, err.decode()

    with open_app(settings, ensure_bucket=False) as evi:
        _cut_tail(evi, before_api)  # the API call's entries and the web request's: gone from the database
        found = _truncations(evi, vkey)
    assert object_key(after_api) in found
    assert object_key(after_web) in found
    assert found[object_key(after_web)].startswith(f"entries {before_api}..{after_web - 1} are missing")
