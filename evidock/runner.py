"""The service: watch the dock folders and ingest, with scheduled jobs, until SIGTERM.

The loop runs in one thread: it polls the watcher and hands stable files to the
ingest pool (``ingest.parallel``), which ingests up to ``watch.parallel_files``
of them at once; the loop reports what finished. The persisted receipt states
make a stop at any moment safe. SIGTERM/SIGINT let the files in flight finish
and exit; files not yet started are found again at the next start.
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
from sqlalchemy import make_url

from chain.errors import EvidockError
from evidock import leader
from evidock.api.listen import Listen
from evidock.app import App, checkpointer_for, open_app, outside_trust_for, retention_context
from evidock.keys import init_key, load_signer
from evidock.leader import leadership_for
from evidock.log_alarms import checkpoint_alarm, outside_trust_alarm
from evidock.settings import SIGNING_KEY_ENV, NodeRole, Settings
from evidock.text import shown
from ingest.parallel import IngestPool
from ingest.pipeline import Outcome
from ingest.watcher import DockedFile, FolderWatcher
from retention import alerts
from retention import jobs as retention_jobs
from storage import journal
from storage.checkpoints import Checkpointer, LogForked, latest_recorded
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
        self.pool = IngestPool(self.pipeline, s.watch.parallel_files)
        skip = [s.watch.move_to] if s.watch.move_to else []
        self.watcher = FolderWatcher(
            s.watch.folders,
            ignore=s.watch.ignore,
            stable_seconds=s.watch.stable_seconds,
            rescan_seconds=s.watch.rescan_seconds,
            skip_dirs=skip,
            should_skip=self._taken,
        )
        # This node's own jobs (an alert about a quarantined file); always running.
        self.local = BackgroundScheduler(timezone=str(s.timezone))
        # The leader's jobs (checkpoints, their audit, outside trust, art. 26 alerts, the daily purge): a
        # scheduler that exists only while this central node leads (evidock.leader); a station never has one.
        self.scheduler: BackgroundScheduler | None = None
        self.leadership = leadership_for(s.database_url, s.station_id)
        self._leading_lock = threading.Lock()
        self._checkpointer: Checkpointer | None = None
        self.trust = outside_trust_for(evi)
        self.trust_alarm = outside_trust_alarm(s)
        # Playback proxies (derived.proxies), on every node: after ingest, in a thread of the node's own
        # scheduler, ffmpeg under nice; never on the ingest path. One run at a time; a stop ends ffmpeg and
        # the job waits for the next start.
        self.proxies = evi.proxy_worker() if s.derived.proxies else None
        if self.proxies is not None:
            self.proxies.pause_while = self.ingest_busy
            self.local.add_job(
                self.make_proxies,
                "interval",
                seconds=s.derived.poll_seconds,
                id="proxies",
                coalesce=True,
                max_instances=1,
                next_run_time=datetime.now(UTC),
            )
        self.stopping = False
        self.retry_seconds = s.watch.retry_seconds  # after a storage error (server down), wait this long
        self.bucket_ready = False  # the bucket was checked (or created) with Object Lock since start
        self._retry_at = 0.0
        self._rescan_due = False
        self._checkpoint_lock = threading.Lock()
        self._last_checkpoint = (-1, 0.0)  # (size, monotonic time)
        self._announced: str | None = None  # the leader this node last logged

    @property
    def retrying(self) -> bool:
        return self._retry_at > 0

    def _taken(self, file: DockedFile) -> bool:
        """In flight now, or finished before: not a candidate again."""
        return self.pool.busy(file.path) or self.pipeline.is_finished(file)

    def stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current step", signum)
        self.stopping = True

    @property
    def checkpointer(self) -> Checkpointer:
        """Signs with this central node's key (made on first use: a station never loads one)."""
        if self._checkpointer is None:
            self._checkpointer = checkpointer_for(self.evi, on_rejected=checkpoint_alarm(self.evi.settings))
        return self._checkpointer

    def start(self) -> None:
        s = self.evi.settings
        if self.proxies is not None:
            try:
                self.proxies.start()
            except EvidockError as exc:
                log.error("proxy jobs left running could not be put back to wait: %s", exc)
        self.watcher.start()
        bucket_ready = self._ensure_bucket(time.monotonic())  # first: the leader audits the objects in it
        self.local.start()
        if s.role is NodeRole.CENTRAL:
            self.follow_leadership()  # now: a single central node leads from its start
            self.local.add_job(
                self.follow_leadership, "interval", seconds=leader.POLL_SECONDS, id="leadership", coalesce=True
            )
        else:
            log.info(
                "%s is a station: it holds no signing key; a central node signs its entries", self.evi.journal.station
            )
        if bucket_ready:
            self._resume()

    def follow_leadership(self) -> None:
        """Start the leader's jobs when this central node becomes the leader, stop them when it no longer is."""
        with self._leading_lock:
            if self.stopping and self.scheduler is None:
                return
            leads = self.leadership.lead()
            if leads and self.scheduler is None:
                self._start_leading()
            elif not leads and self.scheduler is not None:
                self._stop_leading(wait=False)
                log.error("%s no longer leads: its checkpoints and jobs stopped", self.evi.journal.station)
            elif not leads and self._announced != (who := self.leadership.leader()):
                self._announced = who
                log.info("%s stands by: %s leads", self.evi.journal.station, who or "(nobody yet)")

    def _start_leading(self) -> None:
        s = self.evi.settings
        scheduler = BackgroundScheduler(timezone=str(s.timezone))
        scheduler.add_job(self.checkpoint, "interval", seconds=CHECKPOINT_POLL_SECONDS, id="checkpoint", coalesce=True)
        if self.trust.policy.active:  # its own job: a witness or TSA that hangs never holds up signing
            scheduler.add_job(
                self.outside_trust, "interval", seconds=CHECKPOINT_POLL_SECONDS, id="outside-trust", coalesce=True
            )
        scheduler.add_job(
            self.audit_checkpoints,
            "interval",
            seconds=s.log.checkpoint_every_seconds,
            id="checkpoint-audit",
            coalesce=True,
            next_run_time=datetime.now(UTC),  # once at start too, without holding up the start
        )
        # Art. 26 alerts and the daily purge live in the catalog's persistent job store (missed runs catch up).
        retention_jobs.register(s.station_id, retention_context(self.evi))
        retention_jobs.add_jobstore(scheduler, self.evi.catalog.engine)
        scheduler.start(paused=True)  # a job taken over from another leader runs only once it has this node's key
        retention_jobs.install(
            scheduler,
            s.station_id,
            alerts_every_minutes=s.alerts.check_every_minutes,
            daily_at=s.purge.daily_at,
            tz=s.timezone,
        )
        scheduler.resume()
        self._last_checkpoint = (-1, 0.0)  # sign what the previous leader left unanchored, at once
        self.scheduler = scheduler
        self._announced = s.station_id
        log.warning("%s leads: it signs checkpoints and runs the scheduled jobs", s.station_id)

    def _stop_leading(self, *, wait: bool) -> None:
        retention_jobs.unregister(self.evi.settings.station_id)  # a job already due finds no context: skipped
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            scheduler.shutdown(wait=wait)

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
        self.pool.close()
        self.collect(time.monotonic())
        self.local.shutdown(wait=True)
        with self._leading_lock:
            leading = self.scheduler is not None
            self._stop_leading(wait=True)
            if leading:
                self.checkpoint(force=True)  # no unanchored tail when the leader stops
                if self.trust.policy.active:
                    self.outside_trust()  # the last checkpoint too, once; what does not answer waits for the next start
            self.leadership.release()
        self.trust.close()

    def checkpoint(self, *, force: bool = False) -> None:
        """Sign and anchor a checkpoint every N new entries or T seconds (if anything was added).

        Only while this node leads: asked again right before signing, so a leader cut off from the
        catalog stops signing beside the one that took over.
        """
        log_settings = self.evi.settings.log
        with self._checkpoint_lock:
            if self.evi.settings.role is not NodeRole.CENTRAL or not self.leadership.lead():
                return
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

    def outside_trust(self) -> None:
        """Ask the witnesses and TSAs about the newest checkpoint; alarm when one waits too long for them."""
        try:
            latest = latest_recorded(self.evi.catalog)
            if latest is not None:
                self.trust.gather(latest, now=self.evi.now())
            self.trust_alarm(self.trust.waiting(), self.evi.now())
        except EvidockError as exc:
            log.error("gathering cosignatures and timestamps failed, retried later: %s", exc)

    def ingest_busy(self) -> bool:
        """Files are arriving or being ingested: playback proxies wait (their ffmpeg is held)."""
        return not self.pool.idle() or self.watcher.queue_length() > 0

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
        """One pass of the loop; returns the number of files finished since the last pass.

        Nothing raised here stops the service: an error about one file quarantines
        that file's receipt (``Pipeline.run``); a storage error (object store or
        catalog) and anything unforeseen pause ingest for ``watch.retry_seconds``.
        """
        done = self.collect(now)
        if now < self._retry_at:
            return done
        try:
            if self._rescan_due:  # after a pause: the file that failed is a candidate again (its receipt resumes)
                self.watcher.rescan(now)
                self._rescan_due = False
            if not self._ensure_bucket(now):
                return done
            for file in self.watcher.poll(now):
                if self.stopping:
                    break
                self.pool.submit(file)
        except StorageError as exc:
            self._stop_taking(now, "storage unavailable", exc)
        except Exception as exc:
            log.exception("unexpected error in the ingest loop; pausing %.0f s", self.retry_seconds)
            self._stop_taking(now, "unexpected error", exc)
        if self._retry_at and now >= self._retry_at:
            self._retry_at = 0.0
            self._resume()
        return done

    def collect(self, now: float) -> int:
        """Report the files the pool finished; a run stopped by an error pauses ingest. How many finished."""
        done = 0
        for finished in self.pool.take_finished():
            if finished.error is None:
                if finished.outcome is not None:
                    done += 1
                    self._report(finished.outcome)
                continue
            storage = isinstance(finished.error, StorageError)
            if not storage:
                log.error("unexpected error ingesting %r", str(finished.path), exc_info=finished.error)
            if self._retry_at <= now:  # the first error pauses; those of files already in flight add nothing
                self._stop_taking(now, "storage unavailable" if storage else "unexpected error", finished.error)
        return done

    def _stop_taking(self, now: float, what: str, exc: Exception) -> None:
        """Pause; files not yet started wait too, and the next scan finds them (their receipts resume)."""
        self._pause(now, what, exc)
        self.pool.cancel_queued()
        # Not now: a rescan asks the catalog which files are done, and the catalog may be what failed.
        self._rescan_due = True

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
        self.local.add_job(_post_alert, args=(alerts.webhook_url, payload, alerts.webhook_timeout_seconds))

    def _resume(self) -> None:
        """Unfinished receipts (a crash, a storage error) go to the pool, unless their file is in flight."""
        try:
            self.pool.resume(self.pipeline.unfinished())
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
        if settled and service.watcher.queue_length() == 0 and service.pool.idle():
            service.collect(now)  # the files that finished since this pass began
            if service.retrying:
                raise StorageError("the object store is unavailable; unfinished files resume on the next run")
            return
        time.sleep(TICK_SECONDS)


def _http_server(evi: App, listen: Listen) -> HttpServer:
    # Imported here: the web stack loads only when the service serves HTTP (not for `run --once`, nor the CLI).
    from evidock.api.factory import create_app  # noqa: PLC0415
    from evidock.api.server import HttpServer  # noqa: PLC0415

    return HttpServer(create_app(evi), listen, trusted_proxies=evi.settings.web.trusted_proxies)


def settings_line(settings: Settings) -> str:
    """What the service works with, logged at its start: a node pointed at the wrong server must show it.

    The endpoint, bucket and catalog (its password masked), the role, and which signing key a central
    node holds: its key name and id (the verifier key's ``name+id``; public), never the key itself.
    """
    s3 = settings.s3
    catalog = make_url(settings.database_url).render_as_string(hide_password=True)
    if settings.role is NodeRole.STATION:
        key = "no signing key (a central node signs)"
    else:
        signer = load_signer(settings)
        source = f"${SIGNING_KEY_ENV}" if os.environ.get(SIGNING_KEY_ENV) else str(settings.log.key_file)
        key = f"signing key {signer.name}+{signer.key_id.hex()} (from {source})"
    return (
        f"{settings.station_id}: role {settings.role.value}, S3 endpoint {s3.endpoint} (from {s3.endpoint_source}), "
        f"bucket {s3.bucket}, catalog {catalog}, {key}"
    )


def serve(settings: Settings, *, once: bool = False, http: Listen | None = None) -> None:
    """Run the service until SIGTERM/SIGINT (``once``: until what is there now is taken).

    With ``http``, the HTTP API listens beside the loop (evidock.api.server) and stops with it.
    """
    central = settings.role is NodeRole.CENTRAL
    vkey, created = ("", False) if os.environ.get(SIGNING_KEY_ENV) or not central else init_key(settings)
    # The bucket is checked by the service, not here: an object store that is down at start
    # must not keep the station (and its pages) down; ingest waits and retries.
    with open_app(settings, ensure_bucket=once) as evi:
        if created:
            # An unattended first start: the station makes its own key and logs it.
            evi.log_key(vkey)
            log.warning("created the log signing key %s; verifier key: %s", settings.log.key_file, vkey)
        log.info("%s", settings_line(settings))
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
