"""Alarms about the log itself that a person must act on: a planted or broken checkpoint, missing outside trust.

The service runs unattended, so what its checkpoint readers reject is raised
loudly: a critical log line and, when ``alerts.webhook_url`` is set, a JSON
POST (the same webhook as the art. 26 alerts). The log carries on regardless:
a rejected object is skipped, never obeyed (storage.checkpoints). The
``evidock_checkpoints_rejected`` metric and `evidock verify` report the same objects.

A checkpoint that waits longer than ``log.max_uncosigned_seconds`` for its
witnesses' quorum (or for a TSA's token) is alarmed the same way, once per
outage; the ``evidock_checkpoint_uncosigned_seconds`` metrics and the web
dashboard show it too, and `evidock verify` fails on it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from evidock.settings import Settings
from retention.alerts import post_json
from storage.checkpoints import RejectedCheckpoint, Side
from storage.outside_trust import Waiting

log = logging.getLogger(__name__)


def checkpoint_alarm(settings: Settings) -> Callable[[RejectedCheckpoint], None]:
    """What the service does, once per object version, on finding a rejected checkpoint."""

    def alarm(rejected: RejectedCheckpoint) -> None:
        summary = f"not a checkpoint of this log signed by its key, skipped: {rejected.describe()}"
        log.critical("LOG INTEGRITY ALARM: %s", summary)
        url = settings.alerts.webhook_url
        if url:
            payload = {"alert": "checkpoint_rejected", "station": settings.station_id, "summary": summary}
            sent = post_json(url, payload | rejected.as_json(), timeout=settings.alerts.webhook_timeout_seconds)
            if sent.startswith("failed"):
                log.error("checkpoint alarm webhook %s", sent)

    return alarm


OUTSIDE_TRUST_ALERTS = {Side.COSIGNATURE: "checkpoint_uncosigned", Side.TIMESTAMP: "checkpoint_untimestamped"}


def outside_trust_alarm(settings: Settings) -> Callable[[list[Waiting], datetime], None]:
    """What the service does after each round of gathering: alarm once when a checkpoint waits too long."""
    limit = settings.log.max_uncosigned_seconds
    raised: dict[Side, int] = {}  # the waiting checkpoint already alarmed, per side
    lock = threading.Lock()

    def alarm(waiting: list[Waiting], now: datetime) -> None:
        overdue = {w.side: w for w in waiting if w.seconds(now) > limit}
        with lock:
            for side in [s for s in raised if s not in overdue]:
                log.warning("outside trust is back: %s no longer waits (%s)", OUTSIDE_TRUST_ALERTS[side], side.value)
                del raised[side]
            fresh = [w for side, w in overdue.items() if raised.get(side) != w.size]
            for w in fresh:
                raised[w.side] = w.size
        for w in fresh:
            summary = f"{w.describe(now)}; limit log.max_uncosigned_seconds = {limit:g} s"
            log.error("OUTSIDE TRUST ALARM: %s", summary)
            url = settings.alerts.webhook_url
            if url:
                payload = {
                    "alert": OUTSIDE_TRUST_ALERTS[w.side],
                    "station": settings.station_id,
                    "summary": summary,
                    "checkpoint_size": w.size,
                    "newest_done": w.newest_done,
                    "waiting_seconds": round(w.seconds(now)),
                    "limit_seconds": limit,
                }
                sent = post_json(url, payload, timeout=settings.alerts.webhook_timeout_seconds)
                if sent.startswith("failed"):
                    log.error("outside trust alarm webhook %s", sent)

    return alarm
