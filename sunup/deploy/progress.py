"""What a deploy says while it runs, kept for the `sunup deploy` that asked for it.

The control protocol answers each request once, so `sunup deploy` reads a deploy's messages
page by page (`deploy-progress`): each page waits until there is something new, or the deploy
has ended, or a few seconds have passed. A deploy does not depend on its client: it goes on
when `sunup deploy` is interrupted, and its messages also go where the supervisor's go (the
terminal of `sunup up`, or supervisor.log).

    relay = Relay(say)            # the supervisor's `say`, which deploys can listen to
    run = DeployRun(1, "deploy")
    relay.run = run               # while the deploy runs: every message also goes to `run`
    page = await run.page(after=0, wait=10.0)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DeployOutcome:
    """How a deploy ended: `error` is None when it succeeded."""

    error: str | None = None
    hint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.error is None, "error": self.error, "hint": self.hint}


class DeployRun:
    """The messages of one deploy (or redeploy), in order, and how it ended."""

    def __init__(self, number: int, kind: str) -> None:
        self.number = number
        self.kind = kind
        self.lines: list[str] = []
        self.outcome: DeployOutcome | None = None
        #: Wall-clock times of its start and end (the dashboard's activity log shows them).
        self.started = time.time()
        self.ended: float | None = None
        self._changed = asyncio.Event()

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def say(self, text: str) -> None:
        self.lines.append(text)
        self._wake()

    def finish(self, outcome: DeployOutcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.ended = time.time()
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def page(self, after: int, wait: float) -> dict[str, Any]:
        """The messages after the first `after`, waiting up to `wait` s for one (or the end)."""
        if after >= len(self.lines) and not self.done:
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wait)
        lines = self.lines[after:]
        return {
            "deploy": self.number,
            "kind": self.kind,
            "lines": lines,
            "next": after + len(lines),
            "done": self.done,
            "outcome": self.outcome.to_json() if self.outcome else None,
        }


class Relay:
    """The supervisor's `say`, also heard by the deploy running now (if any)."""

    def __init__(self, say: Say) -> None:
        self._say = say
        self.run: DeployRun | None = None

    def __call__(self, text: str) -> None:
        self._say(text)
        if self.run is not None:
            self.run.say(text)
