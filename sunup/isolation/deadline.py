"""A bounded wait for kernel state that sends no notification.

cgroup v2 tells when a group empties (`cgroup.events` wakes poll(2)) and the v2 backend waits on
that. cgroup v1's freezer state and process lists, and /proc, notify nobody: for those, `Deadline`
re-checks with a short, growing pause (0.5 ms doubling to 20 ms) and gives up at the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: The first and the longest pause between two checks, in seconds.
FIRST_PAUSE = 0.0005
LONGEST_PAUSE = 0.02


@dataclass(slots=True)
class Deadline:
    timeout: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _end: float = field(init=False)
    _pause: float = field(init=False, default=FIRST_PAUSE)

    def __post_init__(self) -> None:
        self._end = self.clock() + self.timeout

    def remaining(self) -> float:
        return max(0.0, self._end - self.clock())

    def expired(self) -> bool:
        return self.clock() >= self._end

    def pause(self) -> None:
        """Wait a little before the next check, never past the deadline."""
        self.sleep(min(self._pause, self.remaining()))
        self._pause = min(self._pause * 2, LONGEST_PAUSE)

    def until(self, done: Callable[[], bool]) -> bool:
        """Check `done` until it holds (True) or the deadline passes (False)."""
        while not done():
            if self.expired():
                return False
            self.pause()
        return True
