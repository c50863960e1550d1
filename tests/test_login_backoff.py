"""Failed logins per (user name, client address) with a doubling wait: pure bookkeeping, the time passed in."""

from __future__ import annotations

import pytest

from evidock import login_backoff
from evidock.login_backoff import Backoff, FailureBackoff

RULE = Backoff(attempts=3, forget_seconds=600, first_wait_seconds=10, longest_wait_seconds=60)


def test_the_free_attempts_then_a_wait_that_doubles_up_to_the_longest() -> None:
    limiter = FailureBackoff(RULE)
    assert [limiter.failed("wang.wu", "10.0.0.1", t) for t in (0.0, 1.0)] == [None, None]
    assert limiter.wait("wang.wu", "10.0.0.1", 1.5) is None
    assert limiter.failed("wang.wu", "10.0.0.1", 2.0) == pytest.approx(10)
    assert limiter.wait("wang.wu", "10.0.0.1", 5.0) == pytest.approx(7)
    assert limiter.failed("wang.wu", "10.0.0.1", 12.0) == pytest.approx(20)
    assert limiter.failed("wang.wu", "10.0.0.1", 32.0) == pytest.approx(40)
    assert limiter.failed("wang.wu", "10.0.0.1", 72.0) == pytest.approx(60), "capped at the longest wait"
    assert limiter.wait("wang.wu", "10.0.0.1", 200.0) is None


def test_only_the_same_name_from_the_same_address_waits() -> None:
    limiter = FailureBackoff(RULE)
    for t in range(3):
        limiter.failed("wang.wu", "10.0.0.1", float(t))
    assert limiter.wait("wang.wu", "10.0.0.1", 3.0) is not None
    assert limiter.wait("wang.wu", "10.0.0.2", 3.0) is None, "the person from their own machine"
    assert limiter.wait("zhao.liu", "10.0.0.1", 3.0) is None, "a colleague behind the same address"


def test_a_success_or_a_quiet_spell_forgets_the_pair() -> None:
    limiter = FailureBackoff(RULE)
    for t in range(3):
        limiter.failed("a", "x", float(t))
    limiter.succeeded("a", "x")
    assert limiter.wait("a", "x", 3.0) is None
    assert limiter.failed("a", "x", 4.0) is None, "the count started again"
    for moment in (5.0, 6.0):
        limiter.failed("b", "x", moment)
    assert limiter.failed("b", "x", 6.0 + 600) is None, "failures older than forget_seconds no longer count"


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(login_backoff, "TRACKED", 3)
    limiter = FailureBackoff(Backoff(attempts=1, first_wait_seconds=10))
    for name in ("a", "b", "c", "d"):
        limiter.failed(name, "x", 0.0)
    assert limiter.wait("d", "x", 1.0) is not None
    assert limiter.wait("a", "x", 1.0) is None, "the pair quiet longest is forgotten first"
