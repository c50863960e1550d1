"""The service: watch the dock folders and ingest, with scheduled jobs, until SIGTERM.

The loop is single-threaded on purpose: one file at a time keeps the dock's
disk and uplink predictable, and the persisted receipt states make a stop at
any moment safe. SIGTERM/SIGINT finish the current step's file and exit.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.background import BackgroundScheduler

from chain.errors import EvidockError
from evidock.api.listen import Listen
from evidock.app import App, checkpointer_for, open_app, retention_context
from evidock.keys import init_key
from evidock.log_alarms import checkpoint_alarm
from evidock.settings import SIGNING_KEY_ENV, Settings
from evidock.text import shown
from ingest.pipeline import Outcome
from ingest.watcher import FolderWatcher
from retention import alerts
from retention import jobs as retention_jobs
from storage import journal
from storage.checkpoints import LogForked
from storage.errors import BucketMisconfigured, StorageError
from storage.receipts import Receipt, State

if TYPE_CHECKING:
    from evidock.api.server import HttpServer

log = logging.getLogger(__name__)

TICK_SECONDS = 0.5
CHECKPOINT_POLL_SECONDS = 5.0  # how often the scheduler asks whether a checkpoint is due


class Service:
    def __init__(self, evi: App) -> None:
        self.evi = evi
        s = evi.settings
        self.pipeline = evi.pipeline()
        skip = [s.watch.move_to] if s.watch.move_to else []
        self.watcher = FolderWatcher(
            s.watch.folders,
            ignore=s.watch.ignore,
            stable_seconds=s.watch.stable_seconds,
            rescan_seconds=s.watch.rescan_seconds,
            skip_dirs=skip,
            should_skip=self.pipeline.is_finished,
        )
        self.checkpointer = checkpointer_for(evi, on_rejected=checkpoint_alarm(s))
        self.scheduler = BackgroundScheduler(timezone=str(s.timezone))
        self.scheduler.add_job(
            self.checkpoint, "interval", seconds=CHECKPOINT_POLL_SECONDS, id="checkpoint", coalesce=True
        )
        self.scheduler.add_job(
            self.audit_checkpoints,
            "interval",
            seconds=s.log.checkpoint_every_seconds,
            id="checkpoint-audit",
            coalesce=True,
            next_run_time=datetime.now(UTC),  # once at start too, without holding up the start
        )
        # Playback proxies (derived.proxies): after ingest, in a scheduler thread, ffmpeg under nice; never on
        # the ingest path. One run at a time; a stop ends ffmpeg and the job waits for the next start.
        self.proxies = evi.proxy_worker() if s.derived.proxies else None
        self._ingesting = False
        if self.proxies is not None:
            self.proxies.pause_while = self.ingest_busy
            self.scheduler.add_job(
                self.make_proxies,
                "interval",
                seconds=s.derived.poll_seconds,
                id="proxies",
                coalesce=True,
                max_instances=1,
                next_run_time=datetime.now(UTC),
            )
        # Art. 26 alerts and the daily purge live in the catalog's persistent job store (missed runs catch up).
        retention_jobs.register(s.station_id, retention_context(evi))
        retention_jobs.add_jobstore(self.scheduler, evi.catalog.engine)
        self.stopping = False
        self.retry_seconds = s.watch.retry_seconds  # after a storage error (server down), wait this long
        self.bucket_ready = False  # the bucket was checked (or created) with Object Lock since start
        self._retry_at = 0.0
        self._checkpoint_lock = threading.Lock()
        self._last_checkpoint = (-1, 0.0)  # (size, monotonic time)

    @property
    def retrying(self) -> bool:
        return self._retry_at > 0

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current step", signum)
        self.stopping = True

    def start(self) -> None:
        if self.proxies is not None:
            try:
                self.proxies.start()
            except EvidockError as exc:
                log.error("proxy jobs left running could not be put back to wait: %s", exc)
        self.watcher.start()
        self.scheduler.start()
        s = self.evi.settings
        retention_jobs.install(
            self.scheduler,
            s.station_id,
            alerts_every_minutes=s.alerts.check_every_minutes,
            daily_at=s.purge.daily_at,
            tz=s.timezone,
        )
        if self._ensure_bucket(time.monotonic()):
            self._resume()

    def _ensure_bucket(self, now: float) -> bool:
        """Check (or create) the bucket; an unreachable store pauses ingest, the service runs on.

        A reachable bucket without versioning or Object Lock is a configuration error
        (``BucketMisconfigured``): raised at start, so the station refuses to run.
        """
        if self.bucket_ready:
            return True
        try:
            self.evi.store.ensure_bucket()
        except BucketMisconfigured:
            raise
        except StorageError as exc:
            self._pause(now, "the object store is unreachable; ingest waits (see /health)", exc)
            return False
        self.bucket_ready = True
        return True

    def shutdown(self) -> None:
        self.stopping = True  # a proxy being made ends its ffmpeg now; it waits for the next start
        self.watcher.stop()
        self.scheduler.shutdown(wait=True)
        self.checkpoint(force=True)

    def checkpoint(self, *, force: bool = False) -> None:
        """Sign and anchor a checkpoint every N new entries or T seconds (if anything was added)."""
        log_settings = self.evi.settings.log
        with self._checkpoint_lock:
            try:
                with self.evi.catalog.read() as conn:
                    size = journal.size(conn)
                last_size, last_time = self._last_checkpoint
                grown = size - max(last_size, 0)
                timed = time.monotonic() - last_time >= log_settings.checkpoint_every_seconds
                if size != last_size and (force or grown >= log_settings.checkpoint_every_entries or timed):
                    self.checkpointer.make(self.evi.now())
                    self._last_checkpoint = (size, time.monotonic())
            except LogForked:
                pass  # already raised the alarm (log.critical); nothing is signed over a rewritten log
            except EvidockError as exc:
                log.error("checkpoint failed, retried later: %s", exc)

    def ingest_busy(self) -> bool:
        """Files are arriving or being ingested: playback proxies wait (their ffmpeg is held)."""
        return self._ingesting or self.watcher.queue_length() > 0

    def make_proxies(self) -> None:
        """Give recordings a browser cannot play a playback proxy (derived.proxies); errors wait for the next run."""
        if self.proxies is None or self.stopping:
            return
        try:
            made = self.proxies.run(should_stop=lambda: self.stopping)
        except EvidockError as exc:
            log.error("playback proxies paused until the next run: %s", exc)
            return
        if made:
            log.info("made %d playback prox%s", made, "y" if made == 1 else "ies")

    def audit_checkpoints(self) -> None:
        """Look at every object where checkpoints live; each planted or broken one is alarmed once."""
        try:
            self.checkpointer.rejected()
        except EvidockError as exc:
            log.error("checking the stored checkpoints failed, retried later: %s", exc)

    def step(self, now: float) -> int:
        """One pass of the loop; returns the number of files finished.

        Nothing raised here stops the service: an error about one file quarantines
        that file's receipt (``Pipeline.run``); a storage error (object store or
        catalog) and anything unforeseen pause ingest for ``watch.retry_seconds``.
        """
        if now < self._retry_at:
            return 0
        done = 0
        try:
            if not self._ensure_bucket(now):
                return 0
            for file in self.watcher.poll(now):
                if self.stopping:
                    break
                self._ingesting = True
                outcome = self.pipeline.ingest(file)
                if outcome is not None:
                    done += 1
                    self._report(outcome)
        except StorageError as exc:
            self._pause(now, "storage unavailable", exc)
            self.watcher.rescan(now)  # the file stays a candidate; its receipt resumes
        except Exception as exc:
            log.exception("unexpected error in the ingest loop; pausing %.0f s", self.retry_seconds)
            self._pause(now, "unexpected error", exc)
        finally:
            self._ingesting = False
        if self._retry_at and now >= self._retry_at:
            self._retry_at = 0.0
            self._resume()
        return done

    def _pause(self, now: float, what: str, exc: Exception) -> None:
        log.error("%s, retrying in %.0f s: %s", what, self.retry_seconds, exc)
        self._retry_at = now + self.retry_seconds

    def _report(self, outcome: Outcome) -> None:
        receipt = outcome.receipt
        log.info("ingested %r -> %s (%s)", os.fspath(receipt.path), outcome.recording, receipt.state)
        if receipt.state is State.QUARANTINED:
            self._alert_quarantined(receipt)

    def _alert_quarantined(self, receipt: Receipt) -> None:
        """Tell people at once (the webhook of [alerts]); the catalog keeps the state for /metrics and /health."""
        alerts = self.evi.settings.alerts
        if not alerts.webhook_url:
            return
        payload = {
            "kind": "ingest_quarantined",
            "station": receipt.station,
            "receipt": receipt.id,
            "path": shown(receipt.path),
            "recording": receipt.recording,
            "error": receipt.error,
        }
        # Off the ingest loop: a slow chat server must not hold the dock.
        self.scheduler.add_job(_post_alert, args=(alerts.webhook_url, payload, alerts.webhook_timeout_seconds))

    def _resume(self) -> None:
        try:
            for outcome in self.pipeline.resume():
                self._report(outcome)
        except StorageError as exc:
            self._pause(time.monotonic(), "resuming unfinished files failed", exc)


def _post_alert(url: str, payload: dict[str, Any], timeout: float) -> None:
    result = alerts.post_json(url, payload, timeout=timeout)
    if result.startswith("failed"):
        log.error("alert webhook %s", result)


def _drain(service: Service, stable_seconds: float) -> None:
    """Take every file that is there now once it is stable, then return (``run --once``)."""
    started = time.monotonic()
    while not service.stopping:
        now = time.monotonic()
        service.step(now)
        if service.retrying:
            raise StorageError("the object store is unavailable; unfinished files resume on the next run")
        settled = now - started > stable_seconds + TICK_SECONDS
        if settled and service.watcher.queue_length() == 0:
            return
        time.sleep(TICK_SECONDS)


def _http_server(evi: App, listen: Listen) -> HttpServer:
    # Imported here: the web stack loads only when the service serves HTTP (not for `run --once`, nor the CLI).
    from evidock.api.factory import create_app  # noqa: PLC0415
    from evidock.api.server import HttpServer  # noqa: PLC0415

    return HttpServer(create_app(evi), listen, trusted_proxies=evi.settings.web.trusted_proxies)


def serve(settings: Settings, *, once: bool = False, http: Listen | None = None) -> None:
    """Run the service until SIGTERM/SIGINT (``once``: until what is there now is taken).

    With ``http``, the HTTP API listens beside the loop (evidock.api.server) and stops with it.
    """
    vkey, created = ("", False) if os.environ.get(SIGNING_KEY_ENV) else init_key(settings)
    # The bucket is checked by the service, not here: an object store that is down at start
    # must not keep the station (and its pages) down; ingest waits and retries.
    with open_app(settings, ensure_bucket=once) as evi:
        if created:
            # An unattended first start: the station makes its own key and logs it.
            evi.log_key(vkey)
            log.warning("created the log signing key %s; verifier key: %s", settings.log.key_file, vkey)
        service = Service(evi)
        signal.signal(signal.SIGTERM, service.stop)
        signal.signal(signal.SIGINT, service.stop)
        server = _http_server(evi, http) if http is not None else None
        if server is not None:
            server.start()  # before the loop: a port that cannot be bound stops the start, loudly
        service.start()
        log.info("watching %s", ", ".join(str(f) for f in settings.watch.folders))
        try:
            if once:
                _drain(service, settings.watch.stable_seconds)
                return
            while not service.stopping:
                service.step(time.monotonic())
                time.sleep(TICK_SECONDS)
        finally:
            if server is not None:
                server.stop()
            service.shutdown()
