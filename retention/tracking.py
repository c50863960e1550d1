"""Where each recording stands against art. 26 (第二十六条), and the compliance figures.

A recording is *stored* when the catalog has it (``ingested_at``: the INGEST
entry and the locked, verified object commit together) and *labelled* when its
first LABEL entry was written (案号, 当事人, 承办人). Both are due by the same
second: 23:59:59 local of the 2nd working day after the local date on which the
recording ended (``retention.deadlines.storage_deadline``).

**Which end.** The device's end time (``end_raw``, else ``start_raw``) when it
has one, but never later than the station's ingest time: a recording cannot
end after the station received it, and a device clock set years ahead must not
push its deadline away. A clock set *behind* makes a recording look late; the
clock checks flag such a device separately.

Pure: values in, values out; the caller passes ``now``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from retention.calendar import WorkingCalendar
from retention.deadlines import SHANGHAI, Status, StatusKind, deadline_status, storage_deadline

__all__ = [
    "ComplianceRow",
    "RecordingDeadline",
    "Tracked",
    "describe",
    "recording_deadline",
    "recording_end",
    "summarise",
]


def recording_end(
    *, end_raw: dt.datetime | None, start_raw: dt.datetime | None, ingested_at: dt.datetime
) -> dt.datetime:
    """The end time the art. 26 deadline runs from (see the module docstring)."""
    claimed = end_raw or start_raw or ingested_at
    return min(claimed, ingested_at)


@dataclass(frozen=True)
class RecordingDeadline:
    """A recording's art. 26 deadline and how storage and labelling stand against it."""

    ended_at: dt.datetime  # the end the deadline runs from (aware)
    due: dt.datetime  # 23:59:59 local of the 2nd working day after the local end date
    storage: Status
    label: Status
    provisional: bool  # the calculation touched a year without a published holiday schedule
    warnings: tuple[str, ...]

    @property
    def working_days_late(self) -> int:
        """The larger of storage's and labelling's working days late (0 if neither is late)."""
        return max(self.storage.working_days_late or 0, self.label.working_days_late or 0)

    @property
    def late(self) -> bool:
        late_kinds = (StatusKind.LATE, StatusKind.OVERDUE)
        return self.storage.kind in late_kinds or self.label.kind in late_kinds

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "ended_at": self.ended_at.astimezone(tz).isoformat(),
            "due": self.due.astimezone(tz).isoformat(),
            "storage": _status_json(self.storage),
            "label": _status_json(self.label),
            "provisional": self.provisional,
            "warnings": list(self.warnings),
        }


def _status_json(status: Status) -> dict[str, Any]:
    return {
        "status": status.kind.value,
        "text": describe(status),
        "working_days_left": status.working_days_left,
        "working_days_late": status.working_days_late,
    }


def describe(status: Status) -> str:
    """A status as a person reads it: "on time", "due soon (1 working day left)", "late (2 working days)"."""

    def days(n: int | None) -> str:
        return f"{n} working day{'s' if n != 1 else ''}"

    match status.kind:
        case StatusKind.ON_TIME:
            return "on time"
        case StatusKind.DUE_SOON:
            return f"due soon ({days(status.working_days_left)} left)"
        case StatusKind.PENDING:
            return f"pending ({days(status.working_days_left)} left)"
        case StatusKind.OVERDUE:
            return f"overdue ({days(status.working_days_late)} late)"
        case StatusKind.LATE:
            return f"late ({days(status.working_days_late)} late)"


def recording_deadline(
    *,
    ended_at: dt.datetime,
    stored_at: dt.datetime | None,
    labelled_at: dt.datetime | None,
    now: dt.datetime,
    calendar: WorkingCalendar,
    due_soon_working_days: int = 1,
    tz: ZoneInfo = SHANGHAI,
) -> RecordingDeadline:
    """The deadline of a recording that ended at ``ended_at`` and where it stands at ``now``."""
    deadline = storage_deadline(ended_at, calendar, tz)
    storage = deadline_status(
        deadline.due, stored_at, now, calendar, due_soon_working_days=due_soon_working_days, tz=tz
    )
    label = deadline_status(
        deadline.due, labelled_at, now, calendar, due_soon_working_days=due_soon_working_days, tz=tz
    )
    warnings = tuple(sorted(set(deadline.warnings) | set(storage.warnings) | set(label.warnings)))
    return RecordingDeadline(ended_at, deadline.due, storage, label, bool(warnings), warnings)


@dataclass(frozen=True)
class Tracked:
    """One recording with the facts the compliance report groups by."""

    recording: str
    device: str | None
    officer: str | None
    case_number: str | None  # 案号 of the current label; None if unlabelled
    deadline: RecordingDeadline
    open_findings: frozenset[int]  # ids of the open findings (art. 7, 18) about it


@dataclass(frozen=True)
class ComplianceRow:
    """Art. 26 figures for one device, officer or case."""

    group: str  # "device", "officer" or "case"
    key: str | None  # the device id, officer id or case number (None: unknown / unlabelled)
    recordings: int
    stored_on_time: int
    labelled_on_time: int
    late: int  # stored or labelled after the due second, or still unlabelled past it
    working_days_late: int  # summed over the late recordings (the larger of storage and label)
    overdue: int  # still unlabelled after the due second
    open_findings: int  # distinct open findings about these recordings

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarise(tracked: Iterable[Tracked], group: str, key: Callable[[Tracked], str | None]) -> list[ComplianceRow]:
    """Figures per value of ``key`` (e.g. the device), sorted by that value (None last)."""
    buckets: dict[str | None, list[Tracked]] = {}
    for item in tracked:
        buckets.setdefault(key(item), []).append(item)
    rows = []
    for value, items in buckets.items():
        late = [t for t in items if t.deadline.late]
        rows.append(
            ComplianceRow(
                group=group,
                key=value,
                recordings=len(items),
                stored_on_time=sum(t.deadline.storage.kind is StatusKind.ON_TIME for t in items),
                labelled_on_time=sum(t.deadline.label.kind is StatusKind.ON_TIME for t in items),
                late=len(late),
                working_days_late=sum(t.deadline.working_days_late for t in late),
                overdue=sum(t.deadline.label.kind is StatusKind.OVERDUE for t in items),
                open_findings=len(frozenset().union(*(t.open_findings for t in items))),
            )
        )
    return sorted(rows, key=lambda r: (r.key is None, r.key or ""))
