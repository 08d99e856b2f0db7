"""What the supervisor tells its observers: frozen event values, one per thing that happened.

Every state change of an instance is a `StateChangedEvent`; the others explain a change (why a
process ended, what was killed). Observers are plain callables given to the `Supervisor`; the
console reporter, the supervisor log and the control server's waiters are observers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sunup.supervisor.exitstatus import ExitStatus
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.lifecycle import InstanceState, InstanceStatus


@dataclass(frozen=True, slots=True)
class StateChangedEvent:
    instance: InstanceId
    #: Wall-clock time of the change.
    at: float
    previous: InstanceState
    status: InstanceStatus
    reason: str

    def describe(self) -> str:
        because = f" ({self.reason})" if self.reason else ""
        return f"{self.previous.value} → {self.status.state.value}{because}"


@dataclass(frozen=True, slots=True)
class ExitedEvent:
    """The main process of an instance ended; `expected` when a stop asked for it."""

    instance: InstanceId
    at: float
    pid: int
    exit: ExitStatus
    expected: bool

    def describe(self) -> str:
        return f"pid {self.pid} ended: {self.exit.describe()} after {self.exit.uptime:.1f} s"


#: How many pids a message lists before it only counts them.
LISTED_PIDS = 10


@dataclass(frozen=True, slots=True)
class LeftoversEvent:
    """The start command ended but left processes running; they were killed before a restart."""

    instance: InstanceId
    at: float
    pid: int
    leftovers: tuple[int, ...]
    #: It ended at once with status 0: the start command most likely runs in the background.
    backgrounded: bool

    def describe(self) -> str:
        # A fork bomb can leave thousands: the line names a few and counts the rest.
        pids = ", ".join(str(p) for p in self.leftovers[:LISTED_PIDS])
        if len(self.leftovers) > LISTED_PIDS:
            pids = f"{len(self.leftovers)} processes ({pids}, ...)"
        if self.backgrounded:
            return (
                f"the start command (pid {self.pid}) returned at once and left {pids} running: "
                "it seems to put itself in the background (`cmd &`, a daemon mode); run it in the "
                "foreground so sunup can supervise it"
            )
        return f"pid {self.pid} ended and left {pids} running; they were killed"


@dataclass(frozen=True, slots=True)
class EscalatedEvent:
    """The instance ignored its stop signal for the whole grace: SIGKILL went to its whole tree."""

    instance: InstanceId
    at: float
    pid: int | None
    grace: float
    #: The stop signal it ignored.
    signal: str = "SIGTERM"

    def describe(self) -> str:
        who = f"pid {self.pid}" if self.pid else "its processes"
        return f"{who} ignored {self.signal} for {self.grace:g} s; sent SIGKILL"


@dataclass(frozen=True, slots=True)
class ProblemEvent:
    """Something went wrong around an instance (spawn, isolation, post_start)."""

    instance: InstanceId
    at: float
    message: str

    def describe(self) -> str:
        return self.message


Event = StateChangedEvent | ExitedEvent | LeftoversEvent | EscalatedEvent | ProblemEvent
Observer = Callable[[Event], None]
