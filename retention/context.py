"""What the retention jobs and commands work with: the catalog, the log, the store and the rules.

``RetentionContext`` is built once by the composition root (``evidock.app``)
from the settings; the functions in ``retention.labelling``, ``evidence``,
``lifecycle``, ``compliance``, ``alerts`` and ``purge`` take it plus an
explicit ``now``, so tests control time.

    chain.errors.EvidockError
    └── retention.errors.RetentionError
        └── CustodyError       a label, evidence, case or purge request is refused (bad input,
                               unknown recording, missing second approver); nothing was changed
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from retention.calendar import WorkingCalendar
from retention.errors import RetentionError
from retention.policy import RetentionPolicy
from storage.catalog import Catalog
from storage.journal import Journal
from storage.objects import ObjectStore, StoredVersion
from storage.recording_facts import RecordingFacts
from storage.schema import CASE_NUMBER_LENGTH, PERSON_LENGTH

__all__ = ["AlertOptions", "CustodyError", "RetentionContext", "checked_text", "retention_basis", "version_of"]

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


class CustodyError(RetentionError):
    """A custody request (label, evidence, case, purge) is refused; nothing was changed."""


@dataclass(frozen=True)
class AlertOptions:
    """How the alert check judges and where it reports (config.toml ``[alerts]``)."""

    due_soon_working_days: int = 1  # working days
    case_due_soon_days: int = 7  # calendar days
    webhook_url: str | None = None
    webhook_timeout_seconds: float = 10.0  # seconds


@dataclass(frozen=True)
class RetentionContext:
    catalog: Catalog
    journal: Journal
    store: ObjectStore
    calendar: WorkingCalendar
    policy: RetentionPolicy
    tz: ZoneInfo  # the bureau's zone: art. 26 days are local days
    alerts: AlertOptions
    purge_apply: bool  # whether the daily job purges (True) or only reports
    now: Callable[[], dt.datetime]  # the clock, for scheduled jobs; commands pass now explicitly


def checked_text(what: str, value: str, *, limit: int = PERSON_LENGTH) -> str:
    """A person's name, a staff id or a case number: trimmed, non-empty, one line, not too long."""
    text = value.strip()
    if not text:
        raise CustodyError(f"{what} is empty")
    if _CONTROL.search(text):
        raise CustodyError(f"{what} {text[:80]!r} contains control characters")
    if len(text) > limit:
        raise CustodyError(f"{what} is {len(text)} characters long; at most {limit} are kept")
    return text


def checked_case_number(value: str) -> str:
    return checked_text("case number (案号)", value, limit=CASE_NUMBER_LENGTH)


def retention_basis(facts: RecordingFacts) -> dt.datetime:
    """The time retention runs from: the recorded end, but never before the ingest time.

    The later of the two is the safe side for retention (longer, never shorter
    than the pipeline's own ``max(end, received)``).
    """
    claimed = facts.end_raw or facts.start_raw or facts.ingested_at
    return max(claimed, facts.ingested_at)


def version_of(facts: RecordingFacts) -> StoredVersion:
    return StoredVersion(facts.object_key, facts.version_id, facts.size)
