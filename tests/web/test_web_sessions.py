"""Sessions and the login limiter: pure bookkeeping, the time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evidock.web import sessions
from evidock.web.sessions import LoginLimiter, SessionStore

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def test_sessions_end_when_idle_or_old_and_on_logout() -> None:
    store = SessionStore(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))
    made = store.new(T0, user="wang.wu")
    assert store.get(made.id, T0 + timedelta(minutes=29)) is made
    assert store.get(made.id, T0 + timedelta(minutes=60)) is None  # idle 31 min since the last request
    kept = store.new(T0, user="wang.wu")
    for minutes in range(20, 12 * 60, 20):  # active all day
        assert store.get(kept.id, T0 + timedelta(minutes=minutes)) is kept
    assert store.get(kept.id, T0 + timedelta(hours=12, minutes=1)) is None  # but not longer than 12 h
    other = store.new(T0, user="zhao.liu")
    store.end(other.id)
    assert store.get(other.id, T0) is None
    assert store.get("", T0) is None
    assert store.get(None, T0) is None


def test_csrf_tokens_differ_per_session_and_compare_safely() -> None:
    store = SessionStore(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))
    a, b = store.new(T0), store.new(T0)
    assert a.id != b.id
    assert a.csrf != b.csrf
    assert len(a.id) >= 43  # 256 random bits
    assert a.csrf_ok(a.csrf)
    assert not a.csrf_ok(b.csrf)
    assert not a.csrf_ok(None)
    assert not a.csrf_ok("")
    assert not a.csrf_ok("é" * 43)


def test_anonymous_sessions_cannot_crowd_out_logged_in_people(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 5)
    store = SessionStore(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))
    people = [store.new(T0, user=f"user{n}") for n in range(2)]
    for n in range(20):
        store.new(T0 + timedelta(seconds=n))
    assert all(store.get(p.id, T0 + timedelta(minutes=1)) is p for p in people)


def test_the_limiter_counts_failures_per_key_within_the_window() -> None:
    limiter = LoginLimiter(attempts=3, window=timedelta(minutes=15))
    keys = ["addr:10.0.0.1", "user:wang.wu"]
    for n in range(3):
        assert limiter.wait(keys, T0 + timedelta(minutes=n)) is None
        limiter.failed(keys, T0 + timedelta(minutes=n))
    assert limiter.wait(keys, T0 + timedelta(minutes=3)) == timedelta(minutes=12)
    assert limiter.wait(["addr:10.0.0.2", "user:wang.wu"], T0 + timedelta(minutes=3)) is not None  # the name
    assert limiter.wait(["addr:10.0.0.1", "user:zhao.liu"], T0 + timedelta(minutes=3)) is not None  # the address
    assert limiter.wait(["addr:10.0.0.2", "user:zhao.liu"], T0 + timedelta(minutes=3)) is None
    assert limiter.wait(keys, T0 + timedelta(minutes=15)) is None  # the first failure left the window
    limiter.succeeded(["user:wang.wu"])
    assert limiter.wait(["user:wang.wu"], T0 + timedelta(minutes=3)) is None
