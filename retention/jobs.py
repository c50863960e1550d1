"""Scheduled retention jobs: the art. 26 alert check and the daily purge, in a persistent job store.

APScheduler 3 keeps these two jobs in the catalog database
(``SQLAlchemyJobStore`` on the catalog's engine, table ``apscheduler_jobs``),
so their next run times survive a restart. Runs missed while the service was
down are caught up when it starts again: ``misfire_grace_time=None`` (no run
is too late to make) with ``coalesce=True`` (however many were missed, they
run **once**). ``max_instances=1``: a slow run is never overlapped.

A stored job is a reference to a module-level function plus picklable
arguments, so the jobs are ``alerts_job(key)`` and ``daily_job(key)``; the
running service ``register``s its ``RetentionContext`` under ``key`` before
the scheduler starts. ``install`` adds a job only when the store does not have
it yet: re-adding would reset its next run time and lose a missed run. When
the configured interval or time changed, the job is rescheduled.

One scheduler per catalog: only the leading central node has one (evidock.runner
with evidock.leader); a second scheduler on the same database would run the jobs
twice (the purge tolerates that: one PURGE entry per recording, enforced by the
tombstone's primary key; the alerts would be sent twice).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Final
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from chain.errors import EvidockError
from retention import alerts, evidence
from retention.context import RetentionContext
from retention.purge import purge

__all__ = [
    "ALERTS_JOB",
    "DAILY_JOB",
    "JOBSTORE",
    "add_jobstore",
    "alerts_job",
    "daily_job",
    "install",
    "register",
    "unregister",
]

log = logging.getLogger(__name__)

JOBSTORE: Final = "catalog"  # alias of the persistent job store
JOBS_TABLE: Final = "apscheduler_jobs"
ALERTS_JOB: Final = "retention-alerts"
DAILY_JOB: Final = "retention-daily"

_contexts: dict[str, RetentionContext] = {}
_lock = threading.Lock()


def register(key: str, ctx: RetentionContext) -> None:
    """Make ``ctx`` the context of the stored jobs whose argument is ``key``."""
    with _lock:
        _contexts[key] = ctx


def unregister(key: str) -> None:
    with _lock:
        _contexts.pop(key, None)


def _context(key: str) -> RetentionContext | None:
    with _lock:
        found = _contexts.get(key)
    if found is None:
        log.warning("retention job for %r ran but no service registered that key; skipped", key)
    return found


def alerts_job(key: str) -> None:
    """The scheduled art. 26 check (``retention.alerts.run``)."""
    ctx = _context(key)
    if ctx is None:
        return
    try:
        alerts.run(ctx, now=ctx.now())
    except EvidockError as exc:
        log.error("alert check failed, retried at the next run: %s", exc)


def daily_job(key: str) -> None:
    """The scheduled daily retention job: purge expired recordings, renew permanent evidence."""
    ctx = _context(key)
    if ctx is None:
        return
    now = ctx.now()
    try:
        purge(ctx, now=now, apply=ctx.purge_apply)  # logs its own summary
    except EvidockError as exc:
        log.error("daily purge failed, retried tomorrow: %s", exc)
    try:
        evidence.renew_permanent(ctx, now=now)
    except EvidockError as exc:
        log.error("renewing permanent evidence failed, retried tomorrow: %s", exc)


def add_jobstore(scheduler: Any, engine: Engine) -> None:
    """The persistent job store, in the catalog database (call before ``scheduler.start()``)."""
    scheduler.add_jobstore(SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE), JOBSTORE)


def install(
    scheduler: Any,
    key: str,
    *,
    alerts_every_minutes: int,
    daily_at: dt.time,
    tz: ZoneInfo,
) -> None:
    """Add the two jobs to the (started) scheduler's persistent store unless they are there already."""
    wanted = {
        ALERTS_JOB: (alerts_job, IntervalTrigger(minutes=alerts_every_minutes, timezone=tz)),
        DAILY_JOB: (daily_job, CronTrigger(hour=daily_at.hour, minute=daily_at.minute, timezone=tz)),
    }
    for job_id, (func, trigger) in wanted.items():
        existing = scheduler.get_job(job_id, jobstore=JOBSTORE)
        if existing is None:
            scheduler.add_job(
                func,
                trigger,
                args=[key],
                id=job_id,
                jobstore=JOBSTORE,
                coalesce=True,
                misfire_grace_time=None,
                max_instances=1,
            )
            log.info("scheduled %s: %s", job_id, trigger)
            continue
        if tuple(existing.args) != (key,):
            existing.modify(args=[key])
        if str(existing.trigger) != str(trigger):
            scheduler.reschedule_job(job_id, jobstore=JOBSTORE, trigger=trigger)
            log.info("rescheduled %s: %s (was %s)", job_id, trigger, existing.trigger)
