"""The service's log (`evidock run`): every line stamped with the station's time, the scheduler quiet.

Other commands log to the terminal of the person who typed them, who knows when
that was; a station's log is read days later, so each of its lines starts with
the local time and its UTC offset (``2026-11-20T08:06:19.123+08:00``).

APScheduler logs every run of every job at INFO ("Running job …", "… executed
successfully"), and the checkpoint job looks every 5 seconds whether one is due:
at INFO those were 72 of 92 lines. Its loggers are held at WARNING (a missed run,
a job that raised still show); the jobs say themselves what they did (a
checkpoint signed, an alert sent, a purge). ``EVIDOCK_LOG_LEVEL=DEBUG`` shows all.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from evidock.text import OneLineFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SCHEDULER_LOGGER = "apscheduler"
MIGRATION_LOGGER = "alembic"  # its "Context impl" lines at every open; storage.migrations says what changed


class StampedFormatter(OneLineFormatter):
    """One line per record, starting with the time in ``zone`` (ISO 8601, milliseconds, offset)."""

    def __init__(self, zone: ZoneInfo) -> None:
        super().__init__(FORMAT)
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return stamp(record.created, self.zone)


def stamp(created: float, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(created, zone).isoformat(timespec="milliseconds")


def configure(zone: ZoneInfo) -> None:
    """Stamp the lines of the CLI's own handlers (``evidock.cli.main``) and quiet the scheduler."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, OneLineFormatter):  # ours; a test runner's capture keeps its own
            handler.setFormatter(StampedFormatter(zone))
    if root.getEffectiveLevel() > logging.DEBUG:
        logging.getLogger(SCHEDULER_LOGGER).setLevel(logging.WARNING)
        logging.getLogger(MIGRATION_LOGGER).setLevel(logging.WARNING)
