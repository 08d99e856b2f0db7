"""Time for the supervisor: a monotonic clock for deadlines, a wall clock for people, timers.

The runner reads time and arms deadlines only through a `Clock`, so tests can pass
`sunup.supervisor.testing.ManualClock` and move time by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Run `callback` once `monotonic()` reaches `when`."""
        ...


class LoopClock:
    """The event loop's own clock and timers (no polling: one timer per deadline)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def monotonic(self) -> float:
        return self._loop.time()

    def wall(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        return self._loop.call_at(when, callback)
