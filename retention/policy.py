"""Art. 27 (第二十七条) retention: how long a stored recording stays locked.

Art. 27: recordings on dedicated storage are kept **at least 3 months**; those
used as evidence are archived with the case file and kept as long as it is.

What evidock does with that:

* **Ordinary recordings**: S3 Object Lock COMPLIANCE, ``retain_until =
  recording end + max(3 calendar months, retention.minimum_days)``. A
  configured minimum below 92 days is refused: 3 calendar months are 89 to 92
  days long, so only 92 or more guarantees the configured number alone keeps
  the promise.
* **Evidence** (a recording linked to a case): a legal hold, plus a
  retain-until covering the case file's term, ``retention.evidence_years``
  calendar years after the recording's end (e.g. 30 for 定期30年).
* **Permanent evidence** (``retention.evidence_years = "permanent"``, 永久):
  S3 Object Lock has no "forever"; a retain-until is always a date, and a far
  date such as 2999-12-31 would be a silent fiction no one could later correct
  (COMPLIANCE mode cannot be shortened). Instead permanent evidence carries a
  **legal hold**, which has no end date and blocks deletion until released,
  and a **rolling retain-until**: ``now + retention.permanent_window_days``,
  renewed by the periodic job once fewer than
  ``retention.permanent_renew_within_days`` remain (see
  ``permanent_renewal_due``). If the hold were ever released by mistake, the
  rolling retain-until still protects the object for the window.

Retention only ever grows: ``extend`` never returns a date earlier than the
current one, matching what COMPLIANCE mode allows.

Calendar months are counted on local dates (``tz``, default Asia/Shanghai),
clamping to the month's last day (31 Jan + 3 months = 30 Apr; 29 Feb 2028 + 1
year = 28 Feb 2029). Results are aware UTC datetimes, rounded up to a whole
second so that an S3 client that drops fractions can never shorten them.
Pure functions: the caller passes ``now``.
"""

from __future__ import annotations

import calendar as gregorian
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal
from zoneinfo import ZoneInfo

from retention.deadlines import SHANGHAI
from retention.errors import PolicyError

__all__ = [
    "MINIMUM_DAYS_FLOOR",
    "PERMANENT",
    "Category",
    "PurgeDecision",
    "PurgeFacts",
    "RetentionPolicy",
    "add_months",
    "extend",
    "permanent_renewal_due",
    "purge_eligible",
    "retain_until",
]

RETENTION_MONTHS: Final = 3  # calendar months, the art. 27 minimum
MINIMUM_DAYS_FLOOR: Final = 92  # days; the longest 3 calendar months (e.g. 1 Jul to 1 Oct)
PERMANENT: Final = "permanent"  # config value of retention.evidence_years for 永久


def _require_aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), got naive {value}")


def _ceil_to_second(value: dt.datetime) -> dt.datetime:
    if value.microsecond:
        return value.replace(microsecond=0) + dt.timedelta(seconds=1)
    return value


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """``moment`` plus whole calendar months, wall-clock, clamped to the month's end.

    31 Jan + 1 month = 28 Feb (29 in a leap year); 30 Nov + 3 months = 28 Feb;
    31 Aug + 3 months = 30 Nov. Time of day and tzinfo are kept.
    """
    month_index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    day = min(moment.day, gregorian.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


class Category(StrEnum):
    """What a recording is kept as."""

    ORDINARY = "ordinary"  # any stored recording: at least 3 months (art. 27)
    EVIDENCE = "evidence"  # used as evidence (作为证据使用): case term, legal hold

    @property
    def needs_legal_hold(self) -> bool:
        """Evidence is held for as long as it is evidence; ordinary recordings are not."""
        return self == Category.EVIDENCE


@dataclass(frozen=True)
class RetentionPolicy:
    """The ``[retention]`` section of config.toml, checked against art. 27.

    Raises ``PolicyError`` naming the key, the value and the fix when a value
    would keep recordings for less than the regulation requires.
    """

    minimum_days: int = MINIMUM_DAYS_FLOOR  # days; retention.minimum_days
    # years (30 = 定期30年) or "permanent" (永久); retention.evidence_years
    evidence_years: int | Literal["permanent"] = 30
    permanent_window_days: int = 365  # days; retention.permanent_window_days
    permanent_renew_within_days: int = 90  # days; retention.permanent_renew_within_days

    def __post_init__(self) -> None:
        if self.minimum_days < MINIMUM_DAYS_FLOOR:
            raise PolicyError(
                f"config.toml: retention.minimum_days = {self.minimum_days} is below the "
                f"3-month minimum required by art. 27 (第二十七条); "
                f"set it to {MINIMUM_DAYS_FLOOR} or more"
            )
        if self.evidence_years != PERMANENT and (
            isinstance(self.evidence_years, bool) or not isinstance(self.evidence_years, int) or self.evidence_years < 1
        ):
            raise PolicyError(
                f"config.toml: retention.evidence_years = {self.evidence_years!r} is not a "
                f"retention term; set a whole number of years of at least 1 "
                f'(e.g. 30 for 定期30年) or "{PERMANENT}" (永久)'
            )
        if self.permanent_renew_within_days < 1:
            raise PolicyError(
                f"config.toml: retention.permanent_renew_within_days = "
                f"{self.permanent_renew_within_days} must be at least 1; "
                f"set it to more than the renewal job's interval (e.g. 90)"
            )
        if self.permanent_window_days <= self.permanent_renew_within_days:
            raise PolicyError(
                f"config.toml: retention.permanent_window_days = {self.permanent_window_days} "
                f"must be greater than retention.permanent_renew_within_days = "
                f"{self.permanent_renew_within_days}; set it to "
                f"{self.permanent_renew_within_days + 1} or more (e.g. 365)"
            )

    @property
    def permanent(self) -> bool:
        """Whether evidence is kept permanently (永久): legal hold plus rolling retain-until."""
        return self.evidence_years == PERMANENT


def retain_until(
    ended_at: dt.datetime,
    policy: RetentionPolicy,
    category: Category,
    *,
    now: dt.datetime,
    tz: ZoneInfo = SHANGHAI,
) -> dt.datetime:
    """The S3 Object Lock retain-until-date for a recording (aware UTC, whole second).

    ORDINARY: ``ended_at + max(3 calendar months, policy.minimum_days)``.
    EVIDENCE: the later of that and ``ended_at + policy.evidence_years`` calendar
    years, or for permanent evidence ``now + policy.permanent_window_days``
    (rolling; keep the legal hold on too, see the module docstring).
    ``now`` matters only for permanent evidence.
    """
    _require_aware("ended_at", ended_at)
    _require_aware("now", now)
    local_end = ended_at.astimezone(tz)
    # Months are counted on the local calendar (wall clock); fixed numbers of
    # days are absolute time, so a daylight-saving change cannot cut an hour off.
    candidates = [
        add_months(local_end, RETENTION_MONTHS).astimezone(dt.UTC),
        ended_at.astimezone(dt.UTC) + dt.timedelta(days=policy.minimum_days),
    ]
    if category == Category.EVIDENCE:
        if policy.evidence_years == PERMANENT:
            window = dt.timedelta(days=policy.permanent_window_days)
            candidates.append(now.astimezone(dt.UTC) + window)
        else:
            years = add_months(local_end, 12 * policy.evidence_years)
            candidates.append(years.astimezone(dt.UTC))
    return _ceil_to_second(max(candidates))


def extend(current: dt.datetime, proposed: dt.datetime) -> dt.datetime:
    """The retain-until to apply: ``proposed`` if later, else ``current``. Never shortens."""
    _require_aware("current", current)
    _require_aware("proposed", proposed)
    return max(current, proposed)


def permanent_renewal_due(current_until: dt.datetime, policy: RetentionPolicy, *, now: dt.datetime) -> bool:
    """Whether permanent evidence needs its rolling retain-until pushed out now.

    True once ``policy.permanent_renew_within_days`` or fewer remain. The job
    then applies ``extend(current_until, retain_until(..., EVIDENCE, now=now))``.
    """
    _require_aware("current_until", current_until)
    _require_aware("now", now)
    return current_until - now <= dt.timedelta(days=policy.permanent_renew_within_days)


@dataclass(frozen=True)
class PurgeFacts:
    """What the catalog knows about one stored recording, for the purge decision."""

    ended_at: dt.datetime  # end of the recording (aware)
    retain_until: dt.datetime  # retain-until-date recorded for the stored object (aware)
    legal_hold: bool  # a legal hold is recorded on the object
    evidence: bool  # designated as evidence (linked to a case)
    open_case: bool  # linked to a case that is not closed yet


@dataclass(frozen=True)
class PurgeDecision:
    """Whether a recording may be purged, and every reason it may not."""

    eligible: bool
    reasons: tuple[str, ...]  # empty when eligible

    def __bool__(self) -> bool:
        return self.eligible


def purge_eligible(
    facts: PurgeFacts,
    policy: RetentionPolicy,
    *,
    now: dt.datetime,
    tz: ZoneInfo = SHANGHAI,
) -> PurgeDecision:
    """Whether ``facts`` allow a purge at ``now``: expired, no hold, not evidence, no open case.

    "Expired" is checked against both the recorded retain-until and the
    ordinary retention recomputed from ``facts.ended_at`` under ``policy``, so a
    wrong catalog value cannot purge a recording early (art. 28 第二十八条: no
    destruction within the retention period).
    """
    _require_aware("now", now)
    _require_aware("facts.retain_until", facts.retain_until)
    reasons: list[str] = []
    floor = retain_until(facts.ended_at, policy, Category.ORDINARY, now=now, tz=tz)
    until = max(facts.retain_until, floor)
    if now <= until:
        reasons.append(f"retained until {until.astimezone(tz).isoformat()} (art. 27 第二十七条: at least 3 months)")
    if facts.legal_hold:
        reasons.append("legal hold is on")
    if facts.evidence:
        reasons.append("designated as evidence")
    if facts.open_case:
        reasons.append("linked to an open case")
    return PurgeDecision(eligible=not reasons, reasons=tuple(reasons))
