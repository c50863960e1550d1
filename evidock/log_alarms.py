"""Alarms about the log itself that a person must act on: a planted or broken checkpoint.

The service runs unattended, so what its checkpoint readers reject is raised
loudly: a critical log line and, when ``alerts.webhook_url`` is set, a JSON
POST (the same webhook as the art. 26 alerts). The log carries on regardless:
a rejected object is skipped, never obeyed (storage.checkpoints). The
``evidock_checkpoints_rejected`` metric and `evidock verify` report the same objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from evidock.settings import Settings
from retention.alerts import post_json
from storage.checkpoints import RejectedCheckpoint

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
