"""Art. 27 retention: the 3-month floor, month arithmetic, evidence, extend, purge."""

from __future__ import annotations

import datetime as dt

import pytest

from chain.errors import EvidockError
from retention.deadlines import SHANGHAI
from retention.errors import PolicyError, RetentionError
from retention.policy import (
    MINIMUM_DAYS_FLOOR,
    PERMANENT,
    Category,
    PurgeFacts,
    RetentionPolicy,
    add_months,
    extend,
    permanent_renewal_due,
    purge_eligible,
    retain_until,
)

UTC = dt.UTC
POLICY = RetentionPolicy()


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the floor ---------------------------------------------------------------


def test_a_minimum_below_three_months_is_refused_with_the_fix() -> None:
    with pytest.raises(PolicyError) as caught:
        RetentionPolicy(minimum_days=30)
    assert str(caught.value) == (
        "config.toml: retention.minimum_days = 30 is below the 3-month minimum required "
        "by art. 27 (第二十七条); set it to 92 or more"
    )
    assert isinstance(caught.value, RetentionError)
    assert isinstance(caught.value, EvidockError)


@pytest.mark.parametrize("days", [-1, 0, 89, 90, 91])
def test_every_minimum_that_can_be_shorter_than_three_months_is_refused(days: int) -> None:
    with pytest.raises(PolicyError, match=f"retention.minimum_days = {days} is below"):
        RetentionPolicy(minimum_days=days)


@pytest.mark.parametrize("days", [92, 93, 365, 3650])
def test_minimums_of_92_days_or_more_are_accepted(days: int) -> None:
    assert RetentionPolicy(minimum_days=days).minimum_days == days


def test_the_floor_is_the_longest_three_calendar_months() -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=UTC)
    spans = {(add_months(day, 3) - day).days for day in (start + dt.timedelta(days=n) for n in range(4 * 366))}
    assert max(spans) == MINIMUM_DAYS_FLOOR == 92
    assert min(spans) == 89  # 31 Jan to 30 Apr in a common year


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (-5, "-5"), ("forever", "'forever'"), (True, "True"), (2.5, "2.5")],
)
def test_a_bad_evidence_term_is_refused(value: object, shown: str) -> None:
    with pytest.raises(PolicyError) as caught:
        RetentionPolicy(evidence_years=value)  # type: ignore[arg-type]  # bad config on purpose
    assert str(caught.value) == (
        f"config.toml: retention.evidence_years = {shown} is not a retention term; set a "
        'whole number of years of at least 1 (e.g. 30 for 定期30年) or "permanent" (永久)'
    )


def test_the_permanent_window_must_exceed_the_renewal_margin() -> None:
    with pytest.raises(PolicyError) as caught:
        RetentionPolicy(permanent_window_days=60, permanent_renew_within_days=90)
    assert str(caught.value) == (
        "config.toml: retention.permanent_window_days = 60 must be greater than "
        "retention.permanent_renew_within_days = 90; set it to 91 or more (e.g. 365)"
    )
    with pytest.raises(PolicyError, match="permanent_renew_within_days = 0 must be at least 1"):
        RetentionPolicy(permanent_renew_within_days=0)


# --- month arithmetic --------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2028-01-31", 1, "2028-02-29"),  # leap year
        ("2026-01-31", 3, "2026-04-30"),
        ("2026-11-30", 3, "2027-02-28"),
        ("2027-11-30", 3, "2028-02-29"),
        ("2026-08-31", 3, "2026-11-30"),
        ("2026-12-31", 2, "2027-02-28"),
        ("2026-10-31", 3, "2027-01-31"),  # across the year, no clamping
        ("2026-12-15", 1, "2027-01-15"),
        ("2028-02-29", 12, "2029-02-28"),  # a year after a leap day
        ("2028-02-29", 48, "2032-02-29"),
        ("2026-03-31", -1, "2026-02-28"),  # backwards
        ("2026-01-15", -1, "2025-12-15"),
        ("2026-05-17", 0, "2026-05-17"),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(start: str, months: int, expected: str) -> None:
    moment = dt.datetime.fromisoformat(f"{start}T10:20:30.000040").replace(tzinfo=SHANGHAI)
    result = add_months(moment, months)
    assert result == dt.datetime.fromisoformat(f"{expected}T10:20:30.000040").replace(tzinfo=SHANGHAI)
    assert result.tzinfo is SHANGHAI


# --- retain_until ------------------------------------------------------------


def test_ordinary_retention_is_the_configured_minimum_when_that_is_longer() -> None:
    ended = utc("2026-01-31T02:00:00")
    now = utc("2026-01-31T03:00:00")
    until = retain_until(ended, POLICY, Category.ORDINARY, now=now)
    assert until == utc("2026-05-03T02:00:00")  # 92 days; 3 months would be 30 Apr
    longer = retain_until(ended, RetentionPolicy(minimum_days=180), Category.ORDINARY, now=now)
    assert longer == ended + dt.timedelta(days=180)


def test_retention_is_never_shorter_than_three_local_calendar_months() -> None:
    # 2026-05-31T16:30Z is 1 Jun 00:30 in Beijing; 3 months is 1 Sep 00:30 local.
    ended = utc("2026-05-31T16:30:00")
    until = retain_until(ended, POLICY, Category.ORDINARY, now=ended)
    assert until >= add_months(ended.astimezone(SHANGHAI), 3)
    assert until == ended + dt.timedelta(days=92)


def test_retain_until_is_utc_and_rounded_up_to_the_second() -> None:
    ended = utc("2026-03-01T02:00:00.250000")
    until = retain_until(ended, POLICY, Category.ORDINARY, now=ended)
    assert until == utc("2026-06-01T02:00:01")
    assert until.tzinfo is UTC


def test_evidence_is_kept_for_the_case_term_in_calendar_years() -> None:
    ended = utc("2028-02-29T02:00:00")  # 10:00 on a leap day in Beijing
    until = retain_until(ended, POLICY, Category.EVIDENCE, now=ended)
    assert until == utc("2058-02-28T02:00:00")
    ten = retain_until(ended, RetentionPolicy(evidence_years=10), Category.EVIDENCE, now=ended)
    assert ten == utc("2038-02-28T02:00:00")


def test_permanent_evidence_gets_a_rolling_window_from_now() -> None:
    permanent = RetentionPolicy(evidence_years=PERMANENT)
    assert permanent.permanent
    ended = utc("2024-01-10T02:00:00")
    now = utc("2026-06-01T08:00:00")
    until = retain_until(ended, permanent, Category.EVIDENCE, now=now)
    assert until == now + dt.timedelta(days=365)
    # Right after the recording the ordinary floor is shorter than the window anyway.
    fresh = retain_until(now, permanent, Category.EVIDENCE, now=now)
    assert fresh == now + dt.timedelta(days=365)


def test_only_evidence_needs_a_legal_hold() -> None:
    assert Category.EVIDENCE.needs_legal_hold
    assert not Category.ORDINARY.needs_legal_hold
    assert Category("evidence") is Category.EVIDENCE


def test_retain_until_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="ended_at must be a timezone-aware datetime"):
        retain_until(dt.datetime(2026, 1, 1), POLICY, Category.ORDINARY, now=utc("2026-01-01"))


# --- extend and renewal --------------------------------------------------------


def test_extend_never_shortens() -> None:
    current = utc("2027-01-01T00:00:00")
    assert extend(current, utc("2026-06-01T00:00:00")) == current
    assert extend(current, current) == current
    assert extend(current, utc("2030-01-01T00:00:00")) == utc("2030-01-01T00:00:00")
    with pytest.raises(ValueError, match="proposed must be a timezone-aware datetime"):
        extend(current, dt.datetime(2030, 1, 1))


def test_permanent_renewal_is_due_inside_the_margin() -> None:
    now = utc("2026-06-01T00:00:00")
    assert permanent_renewal_due(now + dt.timedelta(days=90), POLICY, now=now)
    assert permanent_renewal_due(now - dt.timedelta(days=1), POLICY, now=now)
    assert not permanent_renewal_due(now + dt.timedelta(days=90, seconds=1), POLICY, now=now)


# --- purge ----------------------------------------------------------------------

ENDED = utc("2026-01-10T02:00:00")
LOCKED_UNTIL = utc("2026-04-12T02:00:00")  # ENDED + 92 days
AFTER = utc("2026-06-01T00:00:00")


def facts(
    *,
    retain: dt.datetime = LOCKED_UNTIL,
    legal_hold: bool = False,
    evidence: bool = False,
    open_case: bool = False,
) -> PurgeFacts:
    return PurgeFacts(
        ended_at=ENDED,
        retain_until=retain,
        legal_hold=legal_hold,
        evidence=evidence,
        open_case=open_case,
    )


def test_an_expired_unheld_ordinary_recording_may_be_purged() -> None:
    decision = purge_eligible(facts(), POLICY, now=AFTER)
    assert decision.eligible
    assert decision
    assert decision.reasons == ()


def test_purge_waits_until_after_the_retain_until_second() -> None:
    assert not purge_eligible(facts(), POLICY, now=LOCKED_UNTIL)
    assert purge_eligible(facts(), POLICY, now=LOCKED_UNTIL + dt.timedelta(microseconds=1))


def test_every_reason_against_a_purge_is_given() -> None:
    decision = purge_eligible(
        facts(legal_hold=True, evidence=True, open_case=True),
        POLICY,
        now=utc("2026-03-01T00:00:00"),
    )
    assert not decision
    assert decision.reasons == (
        "retained until 2026-04-12T10:00:00+08:00 (art. 27 第二十七条: at least 3 months)",
        "legal hold is on",
        "designated as evidence",
        "linked to an open case",
    )


@pytest.mark.parametrize(
    ("legal_hold", "evidence", "open_case", "reason"),
    [
        (True, False, False, "legal hold is on"),
        (False, True, False, "designated as evidence"),
        (False, False, True, "linked to an open case"),
    ],
)
def test_each_condition_alone_blocks_a_purge(legal_hold: bool, evidence: bool, open_case: bool, reason: str) -> None:
    blocked = facts(legal_hold=legal_hold, evidence=evidence, open_case=open_case)
    decision = purge_eligible(blocked, POLICY, now=AFTER)
    assert (decision.eligible, decision.reasons) == (False, (reason,))


def test_a_catalog_retain_until_below_the_policy_cannot_purge_early() -> None:
    wrong = facts(retain=utc("2026-01-20T00:00:00"))  # 10 days: a catalog error
    decision = purge_eligible(wrong, POLICY, now=utc("2026-03-01T00:00:00"))
    assert not decision
    assert decision.reasons[0].startswith("retained until 2026-04-12T10:00:00+08:00")


def test_a_longer_recorded_retain_until_is_respected() -> None:
    extended = facts(retain=utc("2027-01-01T00:00:00"))
    assert not purge_eligible(extended, POLICY, now=AFTER)
