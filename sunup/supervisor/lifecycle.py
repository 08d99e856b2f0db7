"""The lifecycle of one instance, as data: states, inputs, actions, and a pure `step()`.

    STOPPED ──Start──▶ STARTING ──Spawned(ready)/Ready──▶ RUNNING
       ▲                  │  ▲                               │
       │          Exited  │  │ RetryDue                      │ Exited: clear the tree, then
       │        (crash)   ▼  │                               │ restart at once or back off
       │               BACKOFF ◀─────────────────────────────┘
       │                  │ Stop
       ├──────────────────┘
       │
       └──TreeEmpty── STOPPING ◀──Stop / Restart── STARTING, RUNNING
                     (SIGTERM sent; GraceExpired → SIGKILL of the whole tree)

`step(status, input, now=..., settings=..., draw=...)` returns the next `InstanceStatus` and the
`Action`s the runner must carry out, in order. It does no I/O and reads no clock: `now` is the
runner's monotonic time and `draw` a random number for the backoff jitter. A pair (state, input)
missing from `TRANSITIONS` changes nothing (e.g. Stop while stopped).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from sunup.supervisor.backoff import RestartPolicy
from sunup.supervisor.exitstatus import ExitStatus


class InstanceState(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"
    STOPPED = "stopped"


# Inputs: what happened to the instance, fed to `step`.


@dataclass(frozen=True, slots=True)
class Start:
    """Someone wants the instance running (`sunup up`, `sunup start`, `sv start app`)."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Someone wants the instance stopped (`sunup stop`, `sunup down`, `sv stop app`)."""


@dataclass(frozen=True, slots=True)
class Restart:
    """Someone wants a fresh process (`sunup restart`, `sv restart app`)."""


@dataclass(frozen=True, slots=True)
class Spawned:
    pid: int
    #: False while a `post_start` command runs: the instance is ready when it ends.
    ready: bool = True


@dataclass(frozen=True, slots=True)
class SpawnFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class Ready:
    """`post_start` ended."""


@dataclass(frozen=True, slots=True)
class Exited:
    """The main process ended (it has been reaped)."""

    status: ExitStatus


@dataclass(frozen=True, slots=True)
class TreeEmpty:
    """No process of the instance is left."""


@dataclass(frozen=True, slots=True)
class GraceExpired:
    """The stop grace after SIGTERM is over."""


@dataclass(frozen=True, slots=True)
class RetryDue:
    """The backoff delay is over."""


Input = Start | Stop | Restart | Spawned | SpawnFailed | Ready | Exited | TreeEmpty | GraceExpired | RetryDue


# Actions: what the runner must do.


@dataclass(frozen=True, slots=True)
class Spawn:
    """Start the instance's process (pre_start, start; post_start beside it)."""


@dataclass(frozen=True, slots=True)
class Terminate:
    """SIGTERM to every process of the instance; `GraceExpired` is due at `deadline`."""

    deadline: float


@dataclass(frozen=True, slots=True)
class KillTree:
    """SIGKILL to every process of the instance, until none is left."""


@dataclass(frozen=True, slots=True)
class ClearTree:
    """The main process died on its own: kill what it left behind (and say so) before a restart."""


@dataclass(frozen=True, slots=True)
class AwaitTree:
    """Main process gone during a stop: feed `TreeEmpty` once the rest of the tree has exited."""


@dataclass(frozen=True, slots=True)
class ArmRetry:
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimers:
    """Drop the grace and retry timers."""


@dataclass(frozen=True, slots=True)
class Release:
    """Stopped for good: give back what the instance held (its cgroup, its post_start)."""


Action = Spawn | Terminate | KillTree | ClearTree | AwaitTree | ArmRetry | CancelTimers | Release


@dataclass(frozen=True, slots=True)
class StepSettings:
    grace: float = 15.0
    policy: RestartPolicy = field(default_factory=RestartPolicy)


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    """Everything the lifecycle knows about one instance."""

    state: InstanceState = InstanceState.STOPPED
    #: Whether the instance should run (False after a stop).
    wanted: bool = False
    #: While stopping: start again once the tree is gone (a restart).
    restart_pending: bool = False
    pid: int | None = None
    #: Monotonic time the current process started.
    started: float | None = None
    #: How many times the instance was started again after its first start.
    restarts: int = 0
    starts: int = 0
    #: Quick deaths in a row (see `RestartPolicy`).
    failures: int = 0
    last_exit: ExitStatus | None = None
    #: Monotonic time of the next start while in backoff.
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    status: InstanceStatus
    actions: tuple[Action, ...] = ()
    #: Why the state changed, for people ("exit status 1; next try in 2.0 s").
    reason: str = ""


@dataclass(frozen=True, slots=True)
class _Context:
    now: float
    settings: StepSettings
    draw: float


Rule = Callable[[InstanceStatus, Input, _Context], Outcome]


def _spawn(status: InstanceStatus, reason: str, *, failures: int | None = None) -> Outcome:
    started_before = status.starts > 0
    new = replace(
        status,
        state=InstanceState.STARTING,
        wanted=True,
        restart_pending=False,
        pid=None,
        started=None,
        retry_at=None,
        starts=status.starts + 1,
        restarts=status.restarts + (1 if started_before else 0),
        failures=status.failures if failures is None else failures,
    )
    return Outcome(new, (Spawn(),), reason)


def _start(status: InstanceStatus, _: Input, __: _Context) -> Outcome:
    return _spawn(status, "start requested")


def _start_now(status: InstanceStatus, _: Input, __: _Context) -> Outcome:
    outcome = _spawn(status, "start requested", failures=0)
    return replace(outcome, actions=(CancelTimers(), *outcome.actions))


def _spawned(status: InstanceStatus, event: Input, ctx: _Context) -> Outcome:
    assert isinstance(event, Spawned)
    state = InstanceState.RUNNING if event.ready else InstanceState.STARTING
    new = replace(status, state=state, pid=event.pid, started=ctx.now)
    return Outcome(new, (), f"pid {event.pid}" + ("" if event.ready else "; post_start running"))


def _ready(status: InstanceStatus, _: Input, __: _Context) -> Outcome:
    if status.pid is None:
        return Outcome(status)
    return Outcome(replace(status, state=InstanceState.RUNNING), (), "post_start done")


def _after_death(status: InstanceStatus, ctx: _Context, reason: str, uptime: float) -> Outcome:
    """Restart at once or back off, after the process died on its own."""
    failures = ctx.settings.policy.failures_after(status.failures, uptime)
    delay = ctx.settings.policy.delay(failures, ctx.draw)
    cleared = replace(status, pid=None, started=None, failures=failures)
    if delay <= 0:
        outcome = _spawn(cleared, f"{reason}; restarting")
        return replace(outcome, actions=(ClearTree(), *outcome.actions))
    at = ctx.now + delay
    backoff = replace(cleared, state=InstanceState.BACKOFF, retry_at=at)
    return Outcome(backoff, (ClearTree(), ArmRetry(at)), f"{reason}; next try in {delay:.1f} s")


def _crashed(status: InstanceStatus, event: Input, ctx: _Context) -> Outcome:
    assert isinstance(event, Exited)
    outcome = _after_death(status, ctx, event.status.describe(), event.status.uptime)
    return replace(outcome, status=replace(outcome.status, last_exit=event.status))


def _spawn_failed(status: InstanceStatus, event: Input, ctx: _Context) -> Outcome:
    assert isinstance(event, SpawnFailed)
    return _after_death(status, ctx, f"could not start: {event.reason}", 0.0)


def _stop(status: InstanceStatus, _: Input, ctx: _Context) -> Outcome:
    deadline = ctx.now + ctx.settings.grace
    new = replace(status, state=InstanceState.STOPPING, wanted=False, restart_pending=False)
    return Outcome(new, (Terminate(deadline),), "stop requested")


def _restart(status: InstanceStatus, _: Input, ctx: _Context) -> Outcome:
    outcome = _stop(status, _, ctx)
    new = replace(outcome.status, wanted=True, restart_pending=True, failures=0)
    return Outcome(new, outcome.actions, "restart requested")


def _stop_waiting(status: InstanceStatus, _: Input, __: _Context) -> Outcome:
    new = replace(status, state=InstanceState.STOPPED, wanted=False, retry_at=None)
    return Outcome(new, (CancelTimers(), Release()), "stop requested")


def _stopping_exited(status: InstanceStatus, event: Input, _: _Context) -> Outcome:
    assert isinstance(event, Exited)
    return Outcome(replace(status, pid=None, last_exit=event.status), (AwaitTree(),))


def _stopping_want(wanted: bool) -> Rule:
    def rule(status: InstanceStatus, _: Input, __: _Context) -> Outcome:
        return Outcome(replace(status, wanted=wanted, restart_pending=wanted))

    return rule


def _grace_expired(status: InstanceStatus, _: Input, ctx: _Context) -> Outcome:
    return Outcome(status, (KillTree(),), f"still running {ctx.settings.grace:g} s after SIGTERM: SIGKILL")


def _tree_empty(status: InstanceStatus, _: Input, __: _Context) -> Outcome:
    if status.restart_pending:
        outcome = _spawn(status, "restarting")
        return replace(outcome, actions=(CancelTimers(), *outcome.actions))
    new = replace(status, state=InstanceState.STOPPED, pid=None, started=None, wanted=False)
    return Outcome(new, (CancelTimers(), Release()), "stopped")


def _retry_due(status: InstanceStatus, _: Input, __: _Context) -> Outcome:
    return _spawn(status, "backoff over")


S = InstanceState
#: Every (state, input) pair that does something. Anything else leaves the status unchanged.
TRANSITIONS: Mapping[tuple[InstanceState, type[Input]], Rule] = {
    (S.STOPPED, Start): _start,
    (S.STOPPED, Restart): _start,
    (S.STARTING, Spawned): _spawned,
    (S.STARTING, SpawnFailed): _spawn_failed,
    (S.STARTING, Ready): _ready,
    (S.STARTING, Exited): _crashed,
    (S.STARTING, Stop): _stop,
    (S.STARTING, Restart): _restart,
    (S.RUNNING, Exited): _crashed,
    (S.RUNNING, Stop): _stop,
    (S.RUNNING, Restart): _restart,
    (S.BACKOFF, RetryDue): _retry_due,
    (S.BACKOFF, Start): _start_now,
    (S.BACKOFF, Restart): _start_now,
    (S.BACKOFF, Stop): _stop_waiting,
    (S.STOPPING, Exited): _stopping_exited,
    (S.STOPPING, TreeEmpty): _tree_empty,
    (S.STOPPING, GraceExpired): _grace_expired,
    (S.STOPPING, Start): _stopping_want(True),
    (S.STOPPING, Restart): _stopping_want(True),
    (S.STOPPING, Stop): _stopping_want(False),
}


def step(
    status: InstanceStatus,
    event: Input,
    *,
    now: float,
    settings: StepSettings = StepSettings(),
    draw: float = 0.5,
) -> Outcome:
    """The next status of an instance after `event`, and what the runner must do about it."""
    rule = TRANSITIONS.get((status.state, type(event)))
    if rule is None:
        return Outcome(status)
    return rule(status, event, _Context(now, settings, draw))
