"""Times as people type or send them: without an offset, a time is the station's local time.

Stored and compared in UTC (docs/time-model.md); ``settings.timezone``
(Asia/Shanghai unless configured) is how a bare ``2026-11-20T08:00`` is read.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def utc(moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` in UTC; one without an offset is read as local time in ``zone``."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)).astimezone(UTC)
