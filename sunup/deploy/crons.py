"""Crons of an app, run on its web instance as the platform runs them (spec §3, Crons).

- each cron fires at the times of its `spec` (5 fields, `H` hashed from the cron's name) in the
  app's `timezone`;
- one cron at a time per app: a cron that comes due while another runs waits for it, it is not
  skipped (each cron is queued at most once);
- cancel: `commands.stop` when given, else SIGTERM to the cron's process group; SIGKILL after
  `shutdown_timeout`; a cron running past `timeout` is cancelled;
- output goes to the web instance's `cron.log`, with UTC timestamps.

The fire times come from `sunup.config.crons.fire_times` (pure); this module only acts on them.
Time is read through a `WallClock` so tests can run schedules without waiting for the minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import signal
import zoneinfo
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sunup.config.crons import fire_times
from sunup.deploy.logfile import TimestampedLog
from sunup.deploy.namespace import Enter, no_namespace
from sunup.plan.model import AppPlan, CronPlan


class WallClock(Protocol):
    def now(self) -> datetime.datetime:
        """The current time, timezone-aware."""
        ...

    async def sleep_until(self, when: datetime.datetime) -> None: ...


class SystemClock:
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    async def sleep_until(self, when: datetime.datetime) -> None:
        await asyncio.sleep(max(0.0, (when - self.now()).total_seconds()))


@dataclass(frozen=True, slots=True)
class CronRun:
    """A finished run of a cron."""

    name: str
    started: datetime.datetime
    duration: float
    #: Exit status, or minus the signal number that ended it.
    status: int
    cancelled: bool

    def describe(self) -> str:
        how = "cancelled" if self.cancelled else "finished"
        ended = f"exit status {self.status}" if self.status >= 0 else f"signal {-self.status}"
        return f"cron {self.name} {how} after {self.duration:.1f} s ({ended})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "started": self.started.isoformat(),
            "duration": round(self.duration, 3),
            "status": self.status,
            "cancelled": self.cancelled,
        }


@dataclass(frozen=True, slots=True)
class CronStatus:
    name: str
    spec: str
    next_run: datetime.datetime | None
    running_since: datetime.datetime | None
    queued: bool
    last: CronRun | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "running_since": self.running_since.isoformat() if self.running_since else None,
            "queued": self.queued,
            "last": self.last.to_json() if self.last else None,
        }


Environment = Callable[[], Mapping[str, str]]


class CronScheduler:
    """Runs the crons of one app in its web instance's environment, one at a time."""

    def __init__(
        self,
        app: AppPlan,
        *,
        environment: Environment,
        cwd: Path,
        log_path: Path,
        clock: WallClock | None = None,
        enter: Enter | None = None,
    ) -> None:
        self.app = app
        self._enter = enter or no_namespace
        self._environment = environment
        self._cwd = cwd
        self._log = TimestampedLog(log_path)
        self._clock = clock or SystemClock()
        self._zone = _zone(app.timezone)
        self._crons = {cron.name: cron for cron in app.crons}
        self._queue: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._running: tuple[str, datetime.datetime, asyncio.subprocess.Process] | None = None
        self._cancel_requested = False
        self._last: dict[str, CronRun] = {}
        #: Finished runs of each cron, and an event set (and replaced) at each finish.
        self._finished: dict[str, int] = dict.fromkeys(self._crons, 0)
        self._changed = asyncio.Event()
        self._paused = False
        self._closed = False
        self._next: dict[str, datetime.datetime | None] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every cron (call from the event loop)."""
        if self._tasks:
            return
        self._tasks.append(asyncio.ensure_future(self._worker()))
        for cron in self._crons.values():
            self._tasks.append(asyncio.ensure_future(self._timer(cron)))

    def run_now(self, name: str) -> None:
        """Queue `name` to run as soon as no other cron runs (`sunup cron:run`)."""
        if name not in self._crons:
            raise KeyError(name)
        self._enqueue(name)

    async def run(self, name: str) -> CronRun | None:
        """Queue `name` and wait for that run to end; None when the scheduler stops first."""
        if name not in self._crons:
            raise KeyError(name)
        ahead = self._running is not None and self._running[0] == name
        target = self._finished[name] + (2 if ahead else 1)
        self._enqueue(name)
        while self._finished[name] < target:
            if self._closed:
                return None
            await self._changed.wait()
        return self._last[name]

    def dequeue(self, name: str) -> bool:
        """Drop `name` from the queue; True when it was waiting there."""
        if name in self._queue:
            self._queue.remove(name)
            return True
        return False

    def pause(self) -> None:
        """Start no more crons (queued ones stay queued): a deploy is coming."""
        self._paused = True

    def running(self) -> tuple[str, datetime.datetime] | None:
        """The running cron and when it started."""
        return None if self._running is None else self._running[:2]

    async def cancel(self, name: str | None = None) -> bool:
        """Cancel the running cron (only if it is `name`, when given); True when one was cancelled."""
        running = self._running
        if running is None or (name is not None and running[0] != name):
            return False
        await self._terminate(self._crons[running[0]], running[2], reason="cancelled")
        return True

    async def wait_idle(self, report: Callable[[str, float], None] | None = None) -> None:
        """Wait until no cron runs (a deploy waits so), calling `report(name, seconds)` while one does."""
        while self._running is not None:
            name, started, _process = self._running
            if report is not None:
                report(name, (self._clock.now() - started).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=5.0)

    async def close(self) -> None:
        """Stop scheduling and cancel a running cron."""
        self._closed = True
        self._wake()
        for task in self._tasks:
            task.cancel()
        if self._running is not None:
            await self.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def status(self) -> list[CronStatus]:
        running = self._running
        return [
            CronStatus(
                name=cron.name,
                spec=cron.spec,
                next_run=self._next.get(cron.name) or self.next_run(cron),
                running_since=running[1] if running and running[0] == cron.name else None,
                queued=cron.name in self._queue,
                last=self._last.get(cron.name),
            )
            for cron in self._crons.values()
        ]

    def next_run(self, cron: CronPlan) -> datetime.datetime | None:
        try:
            return next(fire_times(cron.spec, cron.name, self._clock.now().astimezone(self._zone)))
        except (StopIteration, ValueError, KeyError):
            return None

    # -- the loops --------------------------------------------------------------------------

    def _enqueue(self, name: str) -> None:
        if name not in self._queue:
            self._queue.append(name)
            self._wakeup.set()

    async def _timer(self, cron: CronPlan) -> None:
        times = fire_times(cron.spec, cron.name, self._clock.now().astimezone(self._zone))
        for when in times:
            self._next[cron.name] = when
            await self._clock.sleep_until(when)
            if self._running is not None and self._running[0] == cron.name:
                self._log.write(f"cron {cron.name} is due but still running; it will run again once done")
            self._enqueue(cron.name)

    async def _worker(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue and not self._paused:
                name = self._queue.popleft()
                await self._run(self._crons[name])

    async def _run(self, cron: CronPlan) -> None:
        started = self._clock.now()
        self._log.write(f"Running cron {cron.name}: {cron.start}")
        self._idle.clear()
        self._cancel_requested = False
        argv, preexec = self._enter(["/bin/sh", "-c", cron.start])
        process = await asyncio.create_subprocess_exec(
            *argv,
            preexec_fn=preexec,
            cwd=self._cwd,
            env=dict(self._environment()),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        self._running = (cron.name, started, process)
        copier = asyncio.ensure_future(self._copy_output(process))
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), timeout=cron.timeout)
        except TimeoutError:
            self._log.write(f"cron {cron.name} ran past its timeout of {cron.timeout} s")
            await self._terminate(cron, process, reason="timed out")
            await process.wait()
        finally:
            _kill_group(process.pid, signal.SIGKILL)  # nothing the cron left behind runs on
            with contextlib.suppress(asyncio.CancelledError):
                await copier
            run = CronRun(
                name=cron.name,
                started=started,
                duration=(self._clock.now() - started).total_seconds(),
                status=process.returncode if process.returncode is not None else -9,
                cancelled=self._cancel_requested,
            )
            self._last[cron.name] = run
            self._finished[cron.name] += 1
            self._running = None
            self._idle.set()
            self._wake()
        self._log.write(run.describe())

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _copy_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            self._log.write(raw.decode("utf-8", "replace").rstrip("\n"))

    async def _terminate(self, cron: CronPlan, process: asyncio.subprocess.Process, *, reason: str) -> None:
        self._cancel_requested = True
        self._log.write(f"cron {cron.name} {reason}: stopping it")
        if cron.stop:
            argv, preexec = self._enter(["/bin/sh", "-c", cron.stop])
            stopper = await asyncio.create_subprocess_exec(
                *argv, preexec_fn=preexec, cwd=self._cwd, env=dict(self._environment()), start_new_session=True
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopper.wait(), timeout=cron.shutdown_timeout)
        else:
            _kill_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), timeout=cron.shutdown_timeout)
        except TimeoutError:
            self._log.write(f"cron {cron.name} still runs {cron.shutdown_timeout} s later: SIGKILL")
            _kill_group(process.pid, signal.SIGKILL)
            await process.wait()


def _kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _zone(name: str) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return datetime.UTC
