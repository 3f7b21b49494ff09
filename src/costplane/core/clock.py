"""The clock seam: decision code reads time only from an observation; drivers own a Clock.

`SimClock` drives replay (time jumps, nothing sleeps); `WallClock` drives the live controller.
Both are passed to constructors, never read from a module global, so tests advance a SimClock
instead of patching `time`.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now_s(self) -> float: ...

    def sleep_until(self, t_s: float) -> None: ...


class SimClock:
    """Simulated time in seconds since epoch; `sleep_until` jumps forward and never goes back."""

    def __init__(self, start_s: float = 0.0) -> None:
        self._now_s = float(start_s)

    def now_s(self) -> float:
        return self._now_s

    def sleep_until(self, t_s: float) -> None:
        self._now_s = max(self._now_s, float(t_s))

    def advance(self, dt_s: float) -> None:
        if dt_s < 0:
            raise ValueError("a simulated clock does not go backwards")
        self._now_s += dt_s


class WallClock:
    """Real UTC time."""

    def now_s(self) -> float:
        return time.time()

    def sleep_until(self, t_s: float) -> None:
        delay = t_s - time.time()
        if delay > 0:
            time.sleep(delay)
