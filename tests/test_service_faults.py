"""One file must never stop the station: errors about a single dock file quarantine that file.

A real `evidock run` subprocess, the real S3 server and SQLite. With
``after_verify = "move"``, moving the dock copy fails with an OS error (a name
too long for the target once de-duplicated; a really full target disk, a
small tmpfs mounted by the test): the evidence is stored, verified and logged,
the receipt is quarantined with the error, an alert goes to the webhook, the
service keeps serving and taking files, and a restart does not try the file again.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest

from evidock.app import App
from ingest.pipeline import AfterVerify
from ingest.watcher import look
from storage.receipts import State
from tests.conftest import free_port, raw_config, sqlite_only, station_env, write_config
from tests.service import Service, receipt_rows, wait_until

pytestmark = [pytest.mark.s3, pytest.mark.slow, sqlite_only]  # the receipts are read from the SQLite file

NAME_MAX = 255  # bytes in one file name on ext4, tmpfs, xfs


class _Webhook:
    """A local HTTP endpoint that keeps every JSON body posted to it (the alerts webhook)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                posts.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[_Webhook]:
    hook = _Webhook()
    yield hook
    hook.close()


def _config(tmp_path: Path, s3_env: dict[str, str], bucket: str, move_to: Path, hook: str) -> Path:
    (tmp_path / "inbox").mkdir(exist_ok=True)
    raw = raw_config(
        tmp_path,
        bucket,
        s3_env["S3_ENDPOINT"],
        watch={"after_verify": "move", "move_to": str(move_to), "stable_seconds": 0.2},
        alerts={"webhook_url": hook, "webhook_timeout_seconds": 5},
        checks={"deep_scan": False},
    )
    return write_config(tmp_path / "config.toml", raw)


def _by_name(db: Path) -> dict[str, dict[str, object]]:
    return {str(r["name"]): r for r in receipt_rows(db)}


def _metric(service: Service, line_start: str) -> float:
    text = httpx2.get(f"{service.url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric line {line_start!r}")


def _quarantine_then_restart(
    tmp_path: Path, config: Path, env: dict[str, str], *, victim: Path, other: Path, webhook: _Webhook, cause: str
) -> dict[str, object]:
    """Run the service over ``victim`` and ``other``; check the quarantine, the alert and a restart."""
    db = tmp_path / "evidock.db"
    service = Service(config, env, free_port(), log_file=tmp_path / "run1.log")
    try:
        service.wait_http()
        wait_until(
            lambda: {str(r["state"]) for r in receipt_rows(db)} >= {"quarantined"} and len(receipt_rows(db)) == 2,
            "the victim quarantined and the other file taken",
            service=service,
        )
        wait_until(lambda: _by_name(db)[other.name]["state"] in ("released", "quarantined"), "the other file done")
        assert service.alive(), service.log_text()[-3000:]
        quarantined = _by_name(db)[victim.name]
        assert quarantined["state"] == "quarantined"
        assert quarantined["recording"] is not None  # the evidence itself is stored, verified, logged
        error = str(quarantined["error"])
        assert cause in error, error
        assert "stored, verified and logged as recording" in error
        assert victim.exists(), "the dock copy must stay where it was"
        # The station still answers and says what happened.
        assert httpx2.get(f"{service.url}/login", timeout=10).status_code == 200
        assert _metric(service, 'evidock_receipts{state="quarantined"}') >= 1
        wait_until(lambda: any(p["kind"] == "ingest_quarantined" for p in webhook.posts), "the alert webhook")
        alert = next(p for p in webhook.posts if p["kind"] == "ingest_quarantined" and p["path"].endswith(victim.name))
        assert alert["recording"] == quarantined["recording"]
        assert cause in alert["error"]
        assert service.log_text().count("quarantined:") == 1  # logged once
    finally:
        assert service.stop() == 0, service.log_text()[-3000:]

    # A restart does not try the quarantined file again (no crash loop, no second log line).
    again = Service(config, env, free_port(), log_file=tmp_path / "run2.log")
    try:
        again.wait_http()
        wait_until(lambda: "watching" in again.log_text(), "the restarted service watching")
        time.sleep(2.5)  # more than two rescans (rescan_seconds = 1 in these configs)
        assert again.alive()
        assert "quarantined" not in again.log_text()
        assert _by_name(db)[victim.name]["updated_at"] == quarantined["updated_at"]
    finally:
        assert again.stop() == 0, again.log_text()[-3000:]
    return quarantined


def test_a_name_too_long_for_the_release_folder_quarantines_only_that_file(
    tmp_path: Path, s3_env: dict[str, str], bucket: str, webhook: _Webhook
) -> None:
    released = tmp_path / "released"
    config = _config(tmp_path, s3_env, bucket, released, webhook.url)
    # A legal 255-byte name; the same name already released, so de-duplication appends ".<receipt>".
    name = "CAM01_P1001_20261120080619_0001_" + "x" * (NAME_MAX - 36) + ".mp4"
    assert len(name.encode()) == NAME_MAX
    victim = tmp_path / "inbox" / name
    victim.write_bytes(os.urandom(4096))
    (released / "inbox").mkdir(parents=True)
    (released / "inbox" / name).write_bytes(b"released yesterday")
    other = tmp_path / "inbox" / "CAM01_P1001_20261120081000_0002.mp4"
    other.write_bytes(os.urandom(2048))

    _quarantine_then_restart(
        tmp_path,
        config,
        station_env(s3_env),
        victim=victim,
        other=other,
        webhook=webhook,
        cause="[errno 36] File name too long",
    )
    assert _by_name(tmp_path / "evidock.db")[other.name]["state"] == "released"
    assert (released / "inbox" / other.name).exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: writing more than that really fails with ENOSPC."""
    mount_point = tmp_path / "released"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_release_disk_quarantines_the_file_and_leaves_no_partial_copy(
    tmp_path: Path, s3_env: dict[str, str], bucket: str, webhook: _Webhook, small_disk: Path
) -> None:
    config = _config(tmp_path, s3_env, bucket, small_disk, webhook.url)
    victim = tmp_path / "inbox" / "CAM02_P1002_20261120080619_0001.mp4"
    victim.write_bytes(os.urandom(1024 * 1024))  # four times the free space
    other = tmp_path / "inbox" / "CAM02_P1002_20261120081000_0002.mp4"
    other.write_bytes(os.urandom(8 * 1024))
    statvfs = os.statvfs(small_disk)
    assert statvfs.f_bavail * statvfs.f_frsize < 1024 * 1024

    _quarantine_then_restart(
        tmp_path,
        config,
        station_env(s3_env),
        victim=victim,
        other=other,
        webhook=webhook,
        cause="[errno 28] No space left on device",
    )
    assert victim.stat().st_size == 1024 * 1024
    left = sorted(p.name for p in (small_disk / "inbox").iterdir())
    assert victim.name not in left, left
    assert not any(n.endswith(".partial") for n in left), left


def test_control_characters_in_a_name_do_not_forge_service_log_lines(
    tmp_path: Path, s3_env: dict[str, str], bucket: str
) -> None:
    (tmp_path / "inbox").mkdir()
    config = write_config(
        tmp_path / "config.toml",
        raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"], checks={"deep_scan": False}),
    )
    hostile = tmp_path / "inbox" / "CAM07\nERROR evidock.verify: log FORGED\r.mp4"
    hostile.write_bytes(os.urandom(1024))
    os.mkfifo(tmp_path / "inbox" / "fifo.mp4")
    service = Service(config, station_env(s3_env), free_port(), log_file=tmp_path / "run.log")
    try:
        service.wait_http()
        wait_until(
            lambda: [r["state"] for r in receipt_rows(tmp_path / "evidock.db")] == ["released"],
            "the hostile name stored",
            service=service,
        )
        time.sleep(2.5)  # two more rescans
    finally:
        assert service.stop() == 0, service.log_text()[-3000:]
    lines = service.log_text().splitlines()
    assert not any(line.startswith("ERROR evidock.verify") for line in lines), lines
    assert any(r"CAM07\nERROR evidock.verify: log FORGED\r.mp4" in line for line in lines), lines
    assert sum("fifo.mp4" in line for line in lines) == 1  # the FIFO: one warning, not one per rescan


def test_a_dock_copy_that_cannot_be_deleted_is_quarantined_with_its_recording(evi: App, tmp_path: Path) -> None:
    """after_verify = "delete" on an immutable file (chattr +i: even root gets EPERM)."""
    inbox = tmp_path / "inbox"
    stuck = inbox / "CAM08_P1008_20261120080619_0001.mp4"
    stuck.write_bytes(os.urandom(2048))
    fine = inbox / "CAM08_P1008_20261120081000_0002.mp4"
    fine.write_bytes(os.urandom(2048))
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not supported on this file system")
    try:
        pipeline = evi.pipeline(after_verify=AfterVerify.DELETE)
        outcomes = [pipeline.ingest(f) for f in (look(inbox, stuck, ()), look(inbox, fine, ())) if f is not None]
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    first, second = outcomes
    assert first is not None
    assert second is not None
    assert first.receipt.state is State.QUARANTINED
    assert first.recording is not None
    assert "[errno 1] Operation not permitted" in str(first.receipt.error)
    assert stuck.exists()
    assert second.receipt.state is State.RELEASED
    assert not fine.exists()
    # Not taken again, not resumed.
    assert pipeline.resume() == []
    again = look(inbox, stuck, ())
    assert again is not None
    assert pipeline.is_finished(again)
