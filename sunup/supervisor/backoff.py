"""The restart policy (spec §3): when to start an instance again after its start command exits.

The first restart is immediate. While the process keeps dying within `window` seconds of
starting, each further restart waits twice as long as the one before (from `base`), with jitter,
never more than `cap`. A run that lasted `window` seconds or more resets the count. sunup never
gives up.

    quick deaths in a row:  1    2      3      4      5   ...  8+
    delay (no jitter):      0    0.5 s  1 s    2 s    4 s ...  30 s
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    #: The delay before the second restart in a row.
    base: float = 0.5
    #: The longest delay.
    cap: float = 30.0
    #: A run shorter than this counts as a quick death; a longer one resets the count.
    window: float = 10.0
    #: Each delay is multiplied by a factor in [1 - jitter, 1 + jitter].
    jitter: float = 0.2

    def failures_after(self, previous: int, uptime: float) -> int:
        """The count of quick deaths in a row once a run of `uptime` seconds has ended."""
        return previous + 1 if uptime < self.window else 1

    def delay(self, failures: int, draw: float) -> float:
        """Seconds to wait before the next start after `failures` quick deaths in a row.

        `draw` is a random number in [0, 1) that picks the jitter (passed in, so this is pure).
        """
        if failures <= 1:
            return 0.0
        nominal = self.base * 2.0 ** min(failures - 2, 32)
        spread = 1.0 + self.jitter * (2.0 * draw - 1.0)
        return min(self.cap, nominal * spread)
