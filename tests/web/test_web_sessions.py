"""Sessions: pure bookkeeping, the time passed in (failed logins: tests/test_login_backoff.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from evidock.web import sessions
from evidock.web.sessions import SessionStore

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
