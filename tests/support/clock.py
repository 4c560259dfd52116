"""A clock the test moves: for stores and policies that take ``clock=`` (a callable giving
Unix seconds), so that expiry, cooldowns and windows are tested without waiting.

    def test_codes_expire(clock):              # the fixture: starts at the current whole second
        store = Store(..., clock=clock)
        clock.advance(CODE_TTL_S + 1)          # or clock.now += ...
"""

from __future__ import annotations

import time

import pytest


class Clock:
    """Unix time that moves only when told: ``clock()`` is ``clock.now``."""

    def __init__(self, now: float | None = None) -> None:
        self.now = float(int(time.time()) if now is None else now)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds``; returns the new time."""
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()
