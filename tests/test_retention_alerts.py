"""Art. 26 alerts: the check, its webhook (a real HTTP server on 127.0.0.1), `status`, and the
scheduler's persistent job store catching up runs missed while the service was down."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, inspect, select

from evidock import settings as settings_mod
from evidock.app import App, open_app, retention_context
from evidock.cli import main
from evidock.keys import init_key
from evidock.runner import Service
from evidock.settings import Settings
from retention import alerts, lifecycle
from retention.jobs import ALERTS_JOB, DAILY_JOB, JOBS_TABLE, JOBSTORE
from storage.schema import alert_runs
from tests.conftest import act_as, raw_config, station_env, write_config
from tests.test_retention_labels import CASE, ingest, local

pytestmark = pytest.mark.s3


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(
            {"path": self.path, "type": self.headers["Content-Type"], "body": json.loads(self.rfile.read(length))}
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:  # keep the test output quiet
        return


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/evidock", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _settings(tmp_path: Path, bucket: str, s3_env: dict[str, str], **sections: dict[str, Any]) -> tuple[Path, Settings]:
    (tmp_path / "inbox").mkdir(exist_ok=True)
    path = write_config(tmp_path / "config.toml", raw_config(tmp_path, bucket, s3_env["S3_ENDPOINT"], **sections))
    return path, settings_mod.load(path, station_env(s3_env))


def test_the_alert_check_notifies_the_log_the_webhook_and_status(
    *,
    tmp_path: Path,
    bucket: str,
    s3_env: dict[str, str],
    webhook: tuple[str, list[dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = webhook
    config, settings = _settings(tmp_path, bucket, s3_env, alerts={"webhook_url": url, "webhook_timeout_seconds": 5})
    with open_app(settings) as evi:
        overdue = ingest(evi, tmp_path, "CAM05_P5005_20261102080000_0001.mp4", received=local("2026-11-02 09:00"))
        soon = ingest(evi, tmp_path, "CAM05_P5005_20261105080000_0002.mp4", received=local("2026-11-05 09:00"))
        ctx = retention_context(evi)
        now = local("2026-11-06 10:00")  # a Friday
        lifecycle.close(ctx, CASE, closed_on=date(2026, 10, 10), by="c", now=now)  # case file due 11-09

        caplog.set_level(logging.INFO, logger="retention")
        run = alerts.run(ctx, now=now)

        assert (run.overdue, run.due_soon, run.cases_due, run.webhook) == (1, 1, 1, "sent (HTTP 204)")
        (post,) = received
        assert (post["path"], post["type"]) == ("/hooks/evidock", "application/json; charset=utf-8")
        body = post["body"]
        assert body["counts"] == {"overdue": 1, "due_soon": 1, "cases_due": 1, "decisions_due": 0}
        assert body["overdue"][0]["recording"] == overdue
        assert body["overdue"][0]["status"] == "overdue (2 working days late)"
        assert body["overdue"][0]["due"] == "2026-11-04T23:59:59+08:00"
        assert body["due_soon"][0]["recording"] == soon
        assert body["due_soon"][0]["due"] == "2026-11-09T23:59:59+08:00"
        assert body["cases_due"] == [
            {
                "case_number": CASE,
                "what": "case_file",
                "due": "2026-11-09",
                "days_left": 3,
                "done_on": None,
                "status": "due",
            }
        ]
        assert body["summary"] == run.summary
        assert any(r.levelno == logging.WARNING and r.getMessage() == run.summary for r in caplog.records)

        # A webhook that is down is logged and recorded; the check still completes.
        down = replace(ctx, alerts=replace(ctx.alerts, webhook_url="http://127.0.0.1:9/nobody-listens"))
        failed = alerts.run(down, now=now)
        assert failed.webhook is not None
        assert failed.webhook.startswith("failed:")

        # The case file is formed: no more reminder.
        lifecycle.done(ctx, CASE, case_file_on=date(2026, 11, 6), archived_on=None, by="c", now=now)
        assert alerts.check(ctx, now=now).cases_due == []

    act_as(settings, monkeypatch, "sun.qi", "auditor")  # status is read by a person (docs/access.md)
    assert main(["--config", str(config), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["receipts"] == {"released": 2}
    assert status["recordings"] == 2
    assert status["labels_overdue"] + status["labels_due_soon"] == 2  # at the real now
    assert status["last_alert_check"]["summary"] == failed.summary
    assert status["last_alert_check"]["webhook"] == failed.webhook
    assert main(["--config", str(config), "status"]) == 0
    text = capsys.readouterr().out
    assert "receipts: released 2" in text
    assert f"last alert check: {failed.summary}" in text


def _alert_runs(evi: App) -> int:
    with evi.catalog.read() as conn:
        return int(conn.execute(select(func.count()).select_from(alert_runs)).scalar_one())


def test_the_scheduler_catches_up_once_on_jobs_missed_while_down(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, settings = _settings(tmp_path, bucket, s3_env, purge={"daily_at": "02:30"})
    vkey, _ = init_key(settings)
    caplog.set_level(logging.INFO, logger="retention")
    with open_app(settings) as evi:
        evi.log_key(vkey)
        # The service ran 25 hours ago and stopped before either job was due.
        with time_machine.travel(datetime.now(UTC) - timedelta(hours=25), tick=True):
            first = Service(evi)
            first.start()
            assert first.scheduler is not None, "the only node leads"
            stored = {job.id: job.next_run_time for job in first.scheduler.get_jobs(jobstore=JOBSTORE)}
            first.shutdown()
        assert set(stored) == {ALERTS_JOB, DAILY_JOB}
        with evi.catalog.read() as conn:
            assert inspect(conn).has_table(JOBS_TABLE), "the job store is in the catalog database"
        assert stored[ALERTS_JOB] < datetime.now(UTC) - timedelta(hours=23), "24 hourly checks were missed"
        assert stored[DAILY_JOB] < datetime.now(UTC), "and one daily purge"
        assert _alert_runs(evi) == 0

        # Back up: each missed job runs once (coalesced), then waits for its next time.
        second = Service(evi)
        second.start()
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and (
                _alert_runs(evi) < 1 or not any("purge" in r.getMessage() for r in caplog.records)
            ):
                time.sleep(0.2)
            time.sleep(0.5)  # a second (uncoalesced) run would show up by now
            assert second.scheduler is not None
            jobs = {job.id: job.next_run_time for job in second.scheduler.get_jobs(jobstore=JOBSTORE)}
        finally:
            second.shutdown()
        assert _alert_runs(evi) == 1
        assert any(r.name == "retention.purge" and "purge: " in r.getMessage() for r in caplog.records)
        assert all(when > datetime.now(UTC) for when in jobs.values())
