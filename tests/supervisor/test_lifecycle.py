"""The instance lifecycle as a table: (state, input) → next state and actions, with no I/O."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sunup.supervisor import lifecycle as lc
from sunup.supervisor.backoff import RestartPolicy
from sunup.supervisor.exitstatus import ExitStatus

S = lc.InstanceState
SETTINGS = lc.StepSettings(grace=15.0, policy=RestartPolicy(base=0.5, cap=30.0, window=10.0, jitter=0.2))


def exited(code: int = 1, uptime: float = 0.1) -> lc.Exited:
    return lc.Exited(ExitStatus(code, None, at=0.0, uptime=uptime))


def status(state: lc.InstanceState, **changes: object) -> lc.InstanceStatus:
    base = lc.InstanceStatus(
        state=state,
        wanted=state is not S.STOPPED,
        pid=42 if state in (S.RUNNING, S.STARTING, S.STOPPING) else None,
        started=100.0,
        starts=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def run(current: lc.InstanceStatus, event: lc.Input, now: float = 100.0, draw: float = 0.5) -> lc.Outcome:
    return lc.step(current, event, now=now, settings=SETTINGS, draw=draw)


@pytest.mark.parametrize(
    ("state", "event", "expected_state", "expected_actions"),
    [
        (S.STOPPED, lc.Start(), S.STARTING, (lc.Spawn(),)),
        (S.STOPPED, lc.Restart(), S.STARTING, (lc.Spawn(),)),
        (S.STARTING, lc.Spawned(7), S.RUNNING, ()),
        (S.STARTING, lc.Spawned(7, ready=False), S.STARTING, ()),
        (S.RUNNING, lc.Stop(), S.STOPPING, (lc.Terminate(115.0),)),
        (S.RUNNING, lc.Restart(), S.STOPPING, (lc.Terminate(115.0),)),
        (S.STOPPING, exited(), S.STOPPING, (lc.AwaitTree(),)),
        (S.STOPPING, lc.GraceExpired(), S.STOPPING, (lc.KillTree(),)),
        (S.STOPPING, lc.TreeEmpty(), S.STOPPED, (lc.CancelTimers(), lc.Release())),
        (S.BACKOFF, lc.RetryDue(), S.STARTING, (lc.Spawn(),)),
        (S.BACKOFF, lc.Stop(), S.STOPPED, (lc.CancelTimers(), lc.Release())),
        (S.BACKOFF, lc.Start(), S.STARTING, (lc.CancelTimers(), lc.Spawn())),
    ],
)
def test_transition_table(
    state: lc.InstanceState, event: lc.Input, expected_state: lc.InstanceState, expected_actions: tuple[lc.Action, ...]
) -> None:
    """Each listed (state, input) pair leads to its state with exactly these actions."""
    outcome = run(status(state), event)
    assert outcome.status.state is expected_state
    assert outcome.actions == expected_actions


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (S.STOPPED, lc.Stop()),
        (S.STOPPED, lc.TreeEmpty()),
        (S.RUNNING, lc.Start()),
        (S.RUNNING, lc.RetryDue()),
        (S.RUNNING, lc.GraceExpired()),
        (S.BACKOFF, exited()),
        (S.STARTING, lc.TreeEmpty()),
    ],
)
def test_pairs_outside_the_table_change_nothing(state: lc.InstanceState, event: lc.Input) -> None:
    """An input that means nothing in a state leaves the status as it is and asks for nothing."""
    before = status(state)
    outcome = run(before, event)
    assert outcome.status == before
    assert outcome.actions == ()


def test_every_table_entry_starts_from_a_real_state() -> None:
    """The table is keyed by (state, input type) and covers every state."""
    assert {state for state, _ in lc.TRANSITIONS} == set(S)


def test_first_crash_restarts_at_once() -> None:
    """A process that dies for the first time is started again immediately, after its tree is cleared."""
    outcome = run(status(S.RUNNING), exited(uptime=0.2))
    assert outcome.status.state is S.STARTING
    assert outcome.actions == (lc.ClearTree(), lc.Spawn())
    assert outcome.status.restarts == 1
    assert outcome.status.last_exit is not None and outcome.status.last_exit.code == 1


def test_second_quick_crash_backs_off() -> None:
    """A second death within the window waits base seconds (jitter 0 at draw 0.5) in BACKOFF."""
    outcome = run(status(S.RUNNING, failures=1), exited(uptime=0.2), now=200.0)
    assert outcome.status.state is S.BACKOFF
    assert outcome.actions == (lc.ClearTree(), lc.ArmRetry(200.5))
    assert outcome.status.retry_at == 200.5
    assert "next try in 0.5 s" in outcome.reason


def test_long_run_resets_backoff() -> None:
    """A process that ran longer than the window restarts at once, whatever happened before."""
    outcome = run(status(S.RUNNING, failures=6), exited(uptime=10.5))
    assert outcome.status.state is S.STARTING
    assert outcome.status.failures == 1


def test_restart_while_running_stops_then_starts() -> None:
    """A restart goes through STOPPING and spawns again once the tree is empty."""
    stopping = run(status(S.RUNNING), lc.Restart()).status
    assert stopping.restart_pending
    after = run(replace(stopping, pid=None), lc.TreeEmpty())
    assert after.status.state is S.STARTING
    assert after.actions == (lc.CancelTimers(), lc.Spawn())


def test_stop_during_stopping_cancels_a_pending_restart() -> None:
    """`stop` while a restart is stopping the instance makes it end stopped."""
    stopping = run(status(S.RUNNING), lc.Restart()).status
    stopped = run(stopping, lc.Stop()).status
    assert not stopped.restart_pending
    assert run(stopped, lc.TreeEmpty()).status.state is S.STOPPED


def test_spawn_failure_counts_as_a_quick_death() -> None:
    """A start that cannot even spawn is retried like a crash."""
    first = run(status(S.STARTING, pid=None, failures=0), lc.SpawnFailed("no such folder"))
    assert first.status.state is S.STARTING
    second = run(status(S.STARTING, pid=None, failures=1), lc.SpawnFailed("no such folder"))
    assert second.status.state is S.BACKOFF


def test_ready_after_post_start() -> None:
    """An instance whose post_start runs is STARTING until Ready."""
    starting = run(status(S.STARTING, pid=None), lc.Spawned(9, ready=False)).status
    assert starting.state is S.STARTING and starting.pid == 9
    assert run(starting, lc.Ready()).status.state is S.RUNNING
