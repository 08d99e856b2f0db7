"""The runner of one instance: owns its processes and carries out what `lifecycle.step` decides.

Everything happens in event-loop callbacks, never in a polling loop (only the fork of a batch
of starts may run on a pool thread: `Launch.run`, see `Supervisor.start`): the main
process's pidfd becomes readable when it exits, the output pipe when there is output, the grace
and backoff deadlines are timers of the injected `Clock`. Inputs are queued, so an action that
feeds an input (a spawn feeds `Spawned`) never re-enters `step`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sunup.isolation import InstanceCgroup, Isolation, IsolationError
from sunup.mounts.layout import MountError
from sunup.mounts.layout import prepare as prepare_mounts
from sunup.supervisor import lifecycle as lc
from sunup.supervisor.child import Child, fork_pool, forks_without_python, output_pipe, spawn
from sunup.supervisor.clock import Clock, Timer
from sunup.supervisor.console import Console
from sunup.supervisor.events import (
    EscalatedEvent,
    Event,
    ExitedEvent,
    LeftoversEvent,
    ProblemEvent,
    StateChangedEvent,
)
from sunup.supervisor.exitstatus import ExitStatus
from sunup.supervisor.launch import InstanceSpec, direct_argv, post_start_script, script
from sunup.supervisor.logcapture import LogFile
from sunup.supervisor.output import InstanceOutput

#: A start command that ends with status 0 this soon and leaves processes put itself in the
#: background.
BACKGROUND_WINDOW = 2.0
#: At most this many processes of a stopping instance are watched at once (a pidfd each); the
#: group is read again when they are gone. Thousands of processes outliving their main process
#: used to take a file each, until the supervisor had none left (no `ps`, no kill, no stop).
TREE_WATCH = 32
#: Seconds between two stop signals to a server (a spec with `argv`) that has not stopped yet.
RESEND = 2.0


@dataclass(slots=True)
class Launch:
    """One start, prepared on the event loop's thread; `run` forks it, on any thread when
    `threadable` (vfork and exec: no Python code runs in the child), then the runner's
    `launched` carries on."""

    spec: InstanceSpec
    argv: list[str]
    post_argv: list[str] | None
    env: dict[str, str]
    join: Sequence[str]
    read_end: int
    write_end: int
    child: Child | None = None
    post: Child | None = None
    error: Exception | None = None

    @property
    def threadable(self) -> bool:
        mounts = self.spec.mounts
        return forks_without_python(mounts.namespace if mounts else None, mounts.helper if mounts else None)

    def run(self) -> None:
        spec = self.spec
        namespace = spec.mounts.namespace if spec.mounts is not None else None
        helper = spec.mounts.helper if spec.mounts is not None else None
        options: dict[str, Any] = {"env": self.env, "cwd": spec.cwd, "output": self.write_end}
        options.update(namespace=namespace, helper=helper, join=self.join)
        try:
            self.child = spawn(self.argv, **options)
            if self.post_argv is not None:
                self.post = spawn(self.post_argv, **options)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the environment
            self.error = exc


class InstanceRunner:
    def __init__(
        self,
        spec: InstanceSpec,
        *,
        loop: asyncio.AbstractEventLoop,
        clock: Clock,
        isolation: Isolation,
        settings: lc.StepSettings,
        notify: Callable[[Event], None],
        log: LogFile,
        console: Console | None,
        draw: Callable[[], float],
    ) -> None:
        self.spec = spec
        self.status = lc.InstanceStatus()
        #: Wall-clock time the current process started.
        self.started_wall: float | None = None
        self.output = InstanceOutput(spec.id, loop=loop, clock=clock, log=log, console=console, problem=self._problem)
        self._loop = loop
        self._clock = clock
        self._isolation = isolation
        self._settings = settings
        self._notify = notify
        self._draw = draw
        self._queue: deque[lc.Input] = deque()
        self._busy = False
        self._child: Child | None = None
        self._post: Child | None = None
        self._group: InstanceCgroup | None = None
        self._tree: dict[int, int] = {}
        self._grace: Timer | None = None
        self._retry: Timer | None = None
        #: Forks refused by the process limit since the current start, as last reported.
        self._forks_reported = 0
        #: When the stop signal went (monotonic), for what the escalation says.
        self._stop_sent: float | None = None
        #: While a server stops: the next time its stop signal goes again.
        self._resend: Timer | None = None
        #: Set by the supervisor while it starts a batch: starts go there, to be forked together.
        self.deferred: list[tuple[InstanceRunner, Launch, Future[None]]] | None = None

    # Feeding the lifecycle.

    def feed(self, event: lc.Input) -> None:
        self._queue.append(event)
        if self._busy:
            return
        self._busy = True
        try:
            while self._queue:
                self._apply(self._queue.popleft())
        finally:
            self._busy = False

    def _apply(self, event: lc.Input) -> None:
        previous = self.status
        outcome = lc.step(previous, event, now=self._clock.monotonic(), settings=self._settings, draw=self._draw())
        self.status = outcome.status
        if outcome.status.state is not previous.state:
            self._emit(
                StateChangedEvent(self.spec.id, self._clock.wall(), previous.state, outcome.status, outcome.reason)
            )
        for action in outcome.actions:
            self._act(action)

    def _emit(self, event: Event) -> None:
        self._notify(event)

    def _problem(self, message: str) -> None:
        self._emit(ProblemEvent(self.spec.id, self._clock.wall(), message))

    # Actions.

    def _act(self, action: lc.Action) -> None:
        if isinstance(action, lc.Spawn):
            self._spawn()
        elif isinstance(action, lc.Terminate):
            self._terminate(action.deadline)
        elif isinstance(action, lc.KillTree):
            self._kill_tree()
        elif isinstance(action, lc.ClearTree):
            self._clear_tree()
        elif isinstance(action, lc.AwaitTree):
            self._await_tree()
        elif isinstance(action, lc.ArmRetry):
            self._retry = self._clock.call_at(action.at, self._retry_due)
        elif isinstance(action, lc.CancelTimers):
            self._cancel_timers()
        elif isinstance(action, lc.Release):
            self._release()

    def _spawn(self) -> None:
        launch = self._prepare_launch()
        if launch is None:
            return
        if self.deferred is not None and launch.threadable:
            # Forked by a pool thread while the next instance is prepared here; the supervisor
            # carries on with `launched` once the batch is forked.
            self.deferred.append((self, launch, fork_pool().submit(launch.run)))
            return
        launch.run()
        self.launched(launch)

    def _prepare_launch(self) -> Launch | None:
        """Mounts, cgroup, pipe and argv of a start; None when it failed (said and fed)."""
        spec = self.spec
        namespace = spec.mounts.namespace if spec.mounts is not None else None
        helper = spec.mounts.helper if spec.mounts is not None else None
        try:
            if spec.mounts is not None:
                prepare_mounts(spec.mounts)
        except MountError as exc:
            self._problem(exc.message)
            self.feed(lc.SpawnFailed(exc.message))
            return None
        try:
            self._group = group = self._isolation.prepare(spec.id.key, spec.limits)
            self._forks_reported = 0
        except (IsolationError, OSError) as exc:
            self._problem(f"could not prepare its cgroup: {exc!s}")
            self.feed(lc.SpawnFailed(str(exc)))
            return None
        # With the `sunup-enter` helper, it joins the cgroup itself: a simple start command is
        # exec'd by it with no shell in between (one exec less per instance).
        join = group.procs_files() if namespace is not None and helper is not None else None
        if join is not None:
            argv = direct_argv(spec) or ["/bin/sh", "-c", script(spec)]
            post_argv = ["/bin/sh", "-c", post_start_script(spec)] if spec.post_start else None
        else:
            join = ()
            argv = (
                group.join_argv(spec.argv)
                if spec.argv is not None
                else ["/bin/sh", "-c", script(spec, group.shell_prelude())]
            )
            post_argv = group.join_argv(["/bin/sh", "-c", post_start_script(spec)]) if spec.post_start else None
        read_end, write_end = output_pipe()
        env = {**spec.environment, **group.environment}
        return Launch(spec, argv, post_argv, env, join, read_end, write_end)

    def launched(self, launch: Launch) -> None:
        """Carry on after `launch.run()` (on this thread): watch what started, or say why not."""
        os.close(launch.write_end)
        child = launch.child
        if launch.error is not None or child is None:
            os.close(launch.read_end)
            self._problem(f"could not start: {launch.error}")
            if child is not None:
                # post_start could not start: the main process goes too, reaped at once.
                child.signal_group(signal.SIGKILL)
                child.reap()
            self.feed(lc.SpawnFailed(str(launch.error)))
            return
        self._child, self._post = child, launch.post
        self.output.watch(launch.read_end)
        self._loop.add_reader(child.pidfd, self._on_main_exit, child)
        if self._post is not None:
            self._loop.add_reader(self._post.pidfd, self._on_post_exit, self._post)
        self.started_wall = self._clock.wall()
        self.feed(lc.Spawned(child.pid, ready=self._post is None))

    def _terminate(self, deadline: float) -> None:
        self._stop_sent = self._clock.monotonic()
        self._grace = self._clock.call_at(deadline, self._grace_over)
        self._forks_refused()
        if self.spec.argv is not None:
            self._resend = self._clock.call_at(self._stop_sent + RESEND, self._resend_stop)
        if self.spec.stop_signal != signal.SIGTERM:
            if self._child is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self._child.pid, self.spec.stop_signal)
                    os.kill(self._child.pid, signal.SIGCONT)
            return
        # SIGTERM reaches each process once: a second one would run a shell's TERM trap twice.
        # SIGCONT follows (as systemd does): a stopped process (SIGSTOP, ^Z, a debugger) would
        # otherwise act on its SIGTERM only when SIGKILL comes after the grace.
        if self._group is not None:
            try:
                self._group.kill_all(signal.SIGTERM)
                self._continue(self._group.pids())
                return
            except (IsolationError, OSError) as exc:
                self._problem(str(exc))
        if self._child is not None:
            self._child.signal_group(signal.SIGTERM)
            self._child.signal_group(signal.SIGCONT)

    @staticmethod
    def _continue(pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def _kill_tree(self) -> None:
        stop_signal = signal.Signals(self.spec.stop_signal).name
        # The whole grace, or what it really had when a second stop skipped the rest.
        grace = self._settings.grace
        waited = self._clock.monotonic() - self._stop_sent if self._stop_sent is not None else 0.0
        if waited < grace - 0.05:
            grace = round(waited, 1)
        self._emit(EscalatedEvent(self.spec.id, self._clock.wall(), self.status.pid, grace, stop_signal))
        if self._child is not None:
            self._child.signal_group(signal.SIGKILL)
        self._close_tree_watch()
        self._kill_group()
        if self._child is None:
            self._await_tree()

    def _kill_group(self) -> None:
        if self._group is None:
            return
        try:
            self._group.kill_all()
        except (IsolationError, OSError) as exc:
            self._problem(str(exc))

    def _clear_tree(self) -> None:
        if self._group is None:
            return
        try:
            left = self._group.pids()
        except (IsolationError, OSError) as exc:
            self._problem(str(exc))
            return
        if not left:
            return
        last = self.status.last_exit
        backgrounded = last is not None and last.code == 0 and last.uptime < BACKGROUND_WINDOW
        pid = self._last_pid or 0
        self._emit(LeftoversEvent(self.spec.id, self._clock.wall(), pid, tuple(left), backgrounded))
        self._kill_group()

    def _await_tree(self) -> None:
        """Feed TreeEmpty once every process of the instance has exited (pidfds, no polling)."""
        self._close_tree_watch()
        try:
            left = self._group.pids() if self._group is not None else []
        except (IsolationError, OSError) as exc:
            self._problem(str(exc))
            left = []
        for pid in left:
            if len(self._tree) >= TREE_WATCH:
                break  # the group is read again when these are gone
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue
            self._tree[pid] = fd
            self._loop.add_reader(fd, self._tree_member_gone, pid)
        if not self._tree:
            self.feed(lc.TreeEmpty())

    def _tree_member_gone(self, pid: int) -> None:
        fd = self._tree.pop(pid, None)
        if fd is not None:
            self._loop.remove_reader(fd)
            os.close(fd)
        if not self._tree:
            self._await_tree()

    def _close_tree_watch(self) -> None:
        for fd in self._tree.values():
            self._loop.remove_reader(fd)
            os.close(fd)
        self._tree.clear()

    def _cancel_timers(self) -> None:
        for timer in (self._grace, self._retry, self._resend):
            if timer is not None:
                timer.cancel()
        self._grace = self._retry = self._resend = None
        self._close_tree_watch()

    def _release(self) -> None:
        if self._post is not None:
            self._post.signal_group(signal.SIGKILL)
        if self._group is not None:
            try:
                self._group.remove()
            except (IsolationError, OSError) as exc:
                self._problem(str(exc))
            self._group = None

    def _resend_stop(self) -> None:
        """A server's main process gets its stop signal again while it stops (mariadbd drops a
        SIGTERM that comes while it starts)."""
        self._resend = None
        if self.status.state is not lc.InstanceState.STOPPING or self._child is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._child.pid, self.spec.stop_signal)
            os.kill(self._child.pid, signal.SIGCONT)
        self._resend = self._clock.call_at(self._clock.monotonic() + RESEND, self._resend_stop)

    def _grace_over(self) -> None:
        self._grace = None
        self.feed(lc.GraceExpired())

    def _retry_due(self) -> None:
        self._retry = None
        self.feed(lc.RetryDue())

    # Watching processes and output.

    _last_pid: int | None = None

    def _on_main_exit(self, child: Child) -> None:
        self._loop.remove_reader(child.pidfd)
        wait_status = child.reap()
        self._child = None
        self._last_pid = child.pid
        self.output.drain()
        now = self._clock.monotonic()
        started = self.status.started if self.status.started is not None else now
        # A shell whose child the kernel killed exits 137: ask the cgroup after any failure.
        oom = os.waitstatus_to_exitcode(wait_status) != 0 and self._oom_killed()
        self._forks_refused()
        limits = self.spec.limits
        exit_status = ExitStatus.from_wait_status(
            wait_status,
            at=self._clock.wall(),
            uptime=now - started,
            oom=oom,
            limit_mb=limits.memory_mb if limits is not None else None,
        )
        expected = self.status.state is lc.InstanceState.STOPPING
        self._emit(ExitedEvent(self.spec.id, exit_status.at, child.pid, exit_status, expected))
        if self._post is not None:
            self._post.signal_group(signal.SIGKILL)
        self.feed(lc.Exited(exit_status))

    def _forks_refused(self) -> int | None:
        """Forks the process limit refused since the start; says so once each time it grows."""
        if self._group is None:
            return None
        try:
            refused = self._group.forks_refused()
        except (IsolationError, OSError):
            return None
        if refused > self._forks_reported:
            self._forks_reported = refused
            limit = self.spec.limits.pids if self.spec.limits is not None else None
            self._problem(
                f"hit its process limit{f' of {limit}' if limit else ''}: {refused} fork"
                f"{'s' if refused > 1 else ''} refused since it started"
            )
        return refused

    def _oom_killed(self) -> bool:
        if self._group is None:
            return False
        try:
            return self._group.oom_killed()
        except (IsolationError, OSError):
            return False

    def _on_post_exit(self, child: Child) -> None:
        self._loop.remove_reader(child.pidfd)
        wait_status = child.reap()
        if child is not self._post:
            return
        self._post = None
        code = os.waitstatus_to_exitcode(wait_status)
        if code != 0:
            self._problem(f"post_start failed with status {code}")
        self.feed(lc.Ready())

    # Reading the state.

    def snapshot(self) -> dict[str, Any]:
        """This instance as `sunup ps --json` shows it (docs/ps-json.md)."""
        status = self.status
        now = self._clock.monotonic()
        cpu: float | None = None
        memory: int | None = None
        if self._group is not None and status.pid is not None:
            with contextlib.suppress(IsolationError, OSError):
                stats = self._group.stats()
                cpu, memory = round(stats.cpu_seconds, 3), stats.memory_bytes
        running = status.state in (lc.InstanceState.RUNNING, lc.InstanceState.STARTING)
        uptime = round(now - status.started, 3) if status.started is not None and running else None
        next_retry = None
        if status.retry_at is not None:
            next_retry = self._clock.wall() + max(0.0, status.retry_at - now)
        instance = self.spec.id
        return {
            "app": instance.app,
            "group": instance.group,
            "index": instance.index,
            "name": instance.name,
            "state": status.state.value,
            "pid": status.pid,
            "restarts": status.restarts,
            "last_exit": status.last_exit.to_json() if status.last_exit else None,
            "uptime": uptime,
            "next_retry": next_retry,
            "cpu": cpu,
            "memory": memory,
            "port": self.spec.port,
            "log": str(self.spec.log_path),
            "forks_refused": self._forks_refused(),
        }

    def close(self) -> None:
        """Forget every file descriptor (the supervisor is exiting; processes are gone)."""
        self._cancel_timers()
        self.output.close()
        for child in (self._child, self._post):
            if child is not None:
                self._loop.remove_reader(child.pidfd)
                with contextlib.suppress(OSError):
                    os.close(child.pidfd)
