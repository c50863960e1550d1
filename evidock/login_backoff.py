"""Failed logins and token checks, counted per (user name, client address), with a growing wait.

Counting per user name alone lets anyone lock a person out by typing their
name with wrong passwords; counting per address alone lets one broken script
(a disabled token retried in a loop) lock out everyone behind the same
address. So the key is the pair: the same name from the same address. After
``attempts`` failures in a row (failures older than ``forget_seconds`` start
the count again) the pair waits ``first_wait_seconds``, and every further
failure doubles the wait up to ``longest_wait_seconds``. A success forgets the
pair.

What a wait means is the caller's choice: a password is not even checked
while its pair waits (guessing must be slow); an API token is always checked,
because 256 random bits cannot be guessed and a valid token is never refused
for failures (docs/api.md).

Pure bookkeeping: the caller passes ``now`` (seconds on any steady clock).
Thread-safe; memory is bounded (the pairs quiet longest are forgotten first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

TRACKED = 10_000  # pairs remembered at most: names are attacker-chosen


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5  # failures in a row allowed before the first wait
    forget_seconds: float = 900.0  # a pair quiet this long starts again from zero
    first_wait_seconds: float = 30.0  # the first wait; each further failure doubles it ...
    longest_wait_seconds: float = 900.0  # ... up to this


@dataclass
class _Failures:
    count: int
    last: float
    until: float  # may try again from this moment (<= last: no wait)


class FailureBackoff:
    def __init__(self, backoff: Backoff = Backoff()) -> None:
        self.backoff = backoff
        self._pairs: OrderedDict[tuple[str, str], _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def wait(self, name: str, address: str, now: float) -> float | None:
        """Seconds until ``name`` may try again from ``address``, or None when it may now."""
        with self._lock:
            found = self._pairs.get((name, address))
            if found is None or found.until <= now:
                return None
            return found.until - now

    def failed(self, name: str, address: str, now: float) -> float | None:
        """Count a failure; returns the wait it starts (None while still within the free attempts)."""
        rule = self.backoff
        with self._lock:
            found = self._pairs.pop((name, address), None)
            if found is None or now - found.last >= rule.forget_seconds:
                found = _Failures(count=0, last=now, until=now)
            found.count += 1
            found.last = now
            over = found.count - rule.attempts
            if over >= 0:
                found.until = now + min(rule.first_wait_seconds * 2 ** min(over, 32), rule.longest_wait_seconds)
            self._pairs[(name, address)] = found
            while len(self._pairs) > TRACKED:
                self._pairs.popitem(last=False)
            return found.until - now if found.until > now else None

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._pairs.pop((name, address), None)
