"""The disc export (art. 27) as one function: `evidock export disc`, the web's 光盘刻录 page and the API call it.

``export_disc`` builds the ``retention.export`` context (the gate, the
checkpointer, the verifier key, the clock model that corrects device times)
and runs ``retention.export.job.export_disc``; callers only show progress and
the result. The pages and the API run it in a thread (``ExportJobs``): an
export of many gigabytes outlasts an HTTP request. A refusal (no approved
export request, a bad case number) writes nothing, wherever it is started.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from access.errors import InvalidAccessInput
from access.people import Person
from chain.errors import EvidockError
from evidock.app import App, checkpointer_for, outside_trust_for
from evidock.keys import load_vkey
from evidock.text import one_line
from ingest.clock import ClockModel, ClockReport, to_ms
from retention.export import burn as burning
from retention.export.job import CorrectedTimes, Corrector, DiscOrder, ExportContext, ExportOutcome, Progress
from retention.export.job import export_disc as run_export
from retention.export.layout import MEDIA
from storage import findings as findings_db
from storage import journal
from storage.errors import NotFound
from storage.recordings import Recording

log = logging.getLogger(__name__)


def _corrector(evi: App) -> Corrector:
    """Corrected times from the device's clock reports (ingest.clock), one model per device."""
    models: dict[str, ClockModel] = {}

    def correct(rec: Recording) -> CorrectedTimes:
        if rec.device is None or rec.start_raw is None:
            return CorrectedTimes(None, None, None, "no_start_time")
        if rec.device not in models:
            with evi.catalog.read() as conn:
                rows = findings_db.clock_reports_of(conn, rec.device)
            models[rec.device] = ClockModel(
                ClockReport(device=rec.device, device_time=r["device_time"], station_time=r["station_time"])
                for r in rows
            )
        fixed = models[rec.device].correct(rec.device, rec.start_raw)
        end = fixed.corrected + timedelta(milliseconds=rec.duration_ms) if rec.duration_ms is not None else None
        return CorrectedTimes(fixed.corrected, end, to_ms(fixed.offset_used), fixed.basis.value)

    return correct


def configured_out_dir(evi: App) -> Path:
    """config.toml's ``[export] out_dir``, created if missing (owner and group only: images hold evidence)."""
    folder = evi.settings.export.out_dir
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    return folder


def export_disc(evi: App, person: Person, order: DiscOrder, *, progress: Progress) -> ExportOutcome:
    """``person``'s export of ``order``; a refusal (no approved export request, bad input) writes nothing."""
    context = ExportContext(
        catalog=evi.catalog,
        journal=evi.journal,
        gate=evi.gate(),
        checkpointer=checkpointer_for(evi),
        vkey=load_vkey(evi.settings),
        tz=evi.settings.timezone,
        station=evi.settings.station_id,
        correct=_corrector(evi),
        clock=evi.now,
        outside_trust=outside_trust_for(evi),
    )
    try:
        return run_export(context, person, order, now=evi.now(), progress=progress)
    finally:
        if context.outside_trust is not None:
            context.outside_trust.close()


def checked_media(media: str) -> str:
    if media not in MEDIA:
        raise InvalidAccessInput(f"media {media[:20]!r} is not one of {', '.join(MEDIA)}")
    return media


KEPT_JOBS = 100  # finished exports whose status page stays available (the log keeps every export anyway)


@dataclass
class ExportJob:
    """One export started from a page or the API; written by its thread, read by the status page or route."""

    id: str
    owner: str
    order: DiscOrder
    started: datetime
    log_size: int  # the log's size when it started: a failure with the same size wrote nothing
    steps: list[str] = field(default_factory=list)
    total: int = 0  # bytes to write into images, once known
    written: int = 0
    outcome: ExportOutcome | None = None
    error: str | None = None
    logged_before_failure: int = 0  # log entries written before a failure (the reads that happened)
    finished: bool = False

    @property
    def percent(self) -> int:
        return min(100, self.written * 100 // self.total) if self.total else 0

    def as_json(self) -> dict[str, Any]:
        """The job as `GET /api/v1/exports/{id}` answers it; ``result`` as `evidock export disc --json` prints it."""
        result = None
        if self.outcome is not None:
            result = self.outcome.as_json()
            result["how_to_burn"] = [burning.instructions(d.image.path) for d in self.outcome.discs]
        return {
            "id": self.id,
            "request": self.order.request,
            "case_number": self.order.case_number,
            "started": self.started.isoformat(),
            "finished": self.finished,
            "steps": list(self.steps),
            "bytes_written": self.written,
            "bytes_total": self.total,
            "error": self.error,
            "log_entries_before_failure": self.logged_before_failure if self.error else None,
            "result": result,
        }


class ExportJobs:
    """The running and recent exports of this process, bounded in number."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, ExportJob] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, job: ExportJob) -> None:
        with self._lock:
            self._jobs[job.id] = job
            finished = [k for k, j in self._jobs.items() if j.finished]
            for key in finished[: max(0, len(self._jobs) - KEPT_JOBS)]:
                del self._jobs[key]

    def start(self, evi: App, person: Person, order: DiscOrder) -> ExportJob:
        """Run ``person``'s export of ``order`` in a thread; the job shows its progress and result."""
        job = ExportJob(secrets.token_urlsafe(12), person.name, order, evi.now(), _log_size(evi))
        self.add(job)
        threading.Thread(target=_run, args=(evi, person, job), name=f"evidock-export-{job.id}", daemon=True).start()
        return job

    def of(self, person: Person, job_id: str) -> ExportJob:
        """A job of ``person``'s: another person's export is not shown (its page names evidence)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.owner != person.name:
            raise NotFound(f"no export {job_id[:40]!r} of yours on this station (the log keeps every export)")
        return job


def _log_size(evi: App) -> int:
    with evi.catalog.read() as conn:
        return journal.size(conn)


def _run(evi: App, person: Person, job: ExportJob) -> None:
    progress = Progress(
        say=job.steps.append,
        start=lambda total: setattr(job, "total", total),
        advance=lambda n: setattr(job, "written", job.written + n),
    )
    try:
        outcome = export_disc(evi, person, job.order, progress=progress)
        job.total = job.written = sum(d.image.size for d in outcome.discs)  # the estimate was the layout's
        job.outcome = outcome
    except EvidockError as exc:
        job.error = one_line(str(exc))
    except Exception:  # the thread must end with a shown state; the cause goes to the station's log
        log.exception("export %s by %s failed", job.id, job.owner)
        job.error = "the station failed; its log has the cause"
    finally:
        if job.error is not None:
            job.logged_before_failure = _log_size(evi) - job.log_size
        job.finished = True
