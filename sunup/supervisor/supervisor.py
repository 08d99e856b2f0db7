"""The supervisor: one runner per instance, one event loop, observers, and waiting on states.

    supervisor = Supervisor(specs, isolation=isolation, settings=settings, observers=[print])
    supervisor.start()                     # every instance, all at once
    await supervisor.ready(settle=1.0)     # [] or the instances that failed to come up
    supervisor.restart([InstanceId("app", "queue", 0)])
    supervisor.add([spec]); supervisor.start([spec.id])   # a group grows while it runs
    supervisor.stop([spec.id]); await supervisor.stopped([spec.id]); supervisor.discard([spec.id])
    await supervisor.stop_all()            # SIGTERM everywhere in parallel, SIGKILL after the grace
    supervisor.close()

Waiting is event-driven: every event wakes the waiters, which re-check their condition; a
waiter that needs time to pass (the settle time of `ready`) sets its own deadline.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sunup.isolation import Isolation
from sunup.supervisor import lifecycle as lc
from sunup.supervisor.child import seal_inherited_fds
from sunup.supervisor.clock import Clock, LoopClock
from sunup.supervisor.console import Console
from sunup.supervisor.events import Event, Observer
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.launch import InstanceSpec, SpecMaker
from sunup.supervisor.logcapture import LogFile
from sunup.supervisor.runner import InstanceRunner, Launch
from sunup.supervisor.settings import SupervisorSettings

#: Lines of output shown when an instance fails to come up.
FAILURE_LINES = 10


@dataclass(frozen=True, slots=True)
class StartFailure:
    """An instance that did not stay up: why, and what it printed last."""

    instance: InstanceId
    reason: str
    output: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.instance.app,
            "name": self.instance.name,
            "reason": self.reason,
            "output": list(self.output),
        }


class Supervisor:
    def __init__(
        self,
        specs: Sequence[InstanceSpec],
        *,
        isolation: Isolation,
        settings: SupervisorSettings | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        clock: Clock | None = None,
        observers: Iterable[Observer] = (),
        console: Console | None = None,
        draw: Callable[[], float] = random.random,
        spec_maker: SpecMaker | None = None,
    ) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self.clock = clock or LoopClock(self.loop)
        self.settings = settings or SupervisorSettings()
        self.isolation = isolation
        #: Makes the specs of instances added later (`sunup.control.scaling`); None: it cannot grow.
        self.spec_maker = spec_maker
        self._observers = list(observers)
        self._waiters: set[asyncio.Future[None]] = set()
        self._console = console
        self._draw = draw
        self.runners: dict[InstanceId, InstanceRunner] = {}
        for spec in specs:
            self.runners[spec.id] = self._runner(spec)

    def _runner(self, spec: InstanceSpec) -> InstanceRunner:
        grace = self.settings.grace if spec.grace is None else spec.grace
        return InstanceRunner(
            spec,
            loop=self.loop,
            clock=self.clock,
            isolation=self.isolation,
            settings=lc.StepSettings(grace=grace, policy=self.settings.policy),
            notify=self._notify,
            log=LogFile(spec.log_path, self.settings.log_limit),
            console=self._console,
            draw=self._draw,
        )

    def add(self, specs: Iterable[InstanceSpec]) -> None:
        """Supervise more instances (stopped until `start`): a group grows."""
        for spec in specs:
            if spec.id in self.runners:
                raise ValueError(f"{spec.id.key} is supervised already")
            if self._console is not None:
                self._console.add(spec.id)
            self.runners[spec.id] = self._runner(spec)

    def discard(self, ids: Iterable[InstanceId]) -> None:
        """Forget stopped instances: a group shrinks."""
        for instance in list(ids):
            runner = self.runners[instance]
            if runner.status.state is not lc.InstanceState.STOPPED:
                raise ValueError(f"{instance.key} is {runner.status.state.value}, not stopped")
            del self.runners[instance]
            runner.close()

    def observe(self, observer: Observer) -> None:
        self._observers.append(observer)

    def _notify(self, event: Event) -> None:
        for observer in self._observers:
            try:
                observer(event)
            except Exception as exc:  # one broken observer must not stop the others
                print(f"sunup: observer {observer!r} failed: {exc!r}", file=sys.stderr)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    # Commands.

    def _select(self, ids: Iterable[InstanceId] | None) -> list[InstanceRunner]:
        if ids is None:
            return list(self.runners.values())
        return [self.runners[i] for i in ids]

    def start(self, ids: Iterable[InstanceId] | None = None) -> None:
        """Start the instances (all by default). Their processes are forked together by a few
        threads (`child.fork_pool`) where no Python code runs in the child: a fork waits for the
        child's exec, and those waits overlap. Everything else stays on the loop's thread."""
        seal_inherited_fds()
        batch: list[tuple[InstanceRunner, Launch, Future[None]]] = []
        for runner in self._select(ids):
            runner.deferred = batch
            try:
                runner.feed(lc.Start())
            finally:
                runner.deferred = None
        for runner, launch, forked in batch:
            forked.result()  # Launch.run keeps what it raises in `launch.error`
            runner.launched(launch)

    def stop(self, ids: Iterable[InstanceId] | None = None) -> None:
        for runner in self._select(ids):
            runner.feed(lc.Stop())

    def restart(self, ids: Iterable[InstanceId] | None = None) -> None:
        for runner in self._select(ids):
            runner.feed(lc.Restart())

    def state(self, instance: InstanceId) -> lc.InstanceState:
        return self.runners[instance].status.state

    # Waiting.

    async def wait_for(
        self,
        condition: Callable[[], bool],
        timeout: float | None = None,
        *,
        wake_at: Callable[[], float | None] | None = None,
    ) -> bool:
        """Wait until `condition()` holds (True) or `timeout` seconds pass (False).

        `condition` is checked after every event, and at the loop time `wake_at()` returns.
        """
        end = None if timeout is None else self.loop.time() + timeout
        while not condition():
            now = self.loop.time()
            if end is not None and now >= end:
                return False
            extra = wake_at() if wake_at else None
            deadlines = [t for t in (end, extra) if t is not None]
            waiter: asyncio.Future[None] = self.loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, None if not deadlines else max(0.0, min(deadlines) - now))
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(waiter)
        return True

    async def stopped(self, ids: Iterable[InstanceId] | None = None, timeout: float | None = None) -> bool:
        runners = self._select(ids)
        return await self.wait_for(lambda: all(r.status.state is lc.InstanceState.STOPPED for r in runners), timeout)

    async def stop_all(self) -> None:
        """Stop every instance in parallel and wait until every process is gone."""
        self.stop()
        await self.stopped()

    async def ready(
        self, ids: Iterable[InstanceId] | None = None, *, settle: float | None = None, timeout: float | None = None
    ) -> list[StartFailure]:
        """Wait until each instance has run `settle` seconds, or one of them has failed.

        Returns the failures ([] when all are up). An instance counts as failed once its start
        command has exited since it was started. On timeout, the instances still not up fail.
        """
        runners = self._select(ids)
        hold = self.settings.settle if settle is None else settle

        def pending() -> list[InstanceRunner]:
            now = self.clock.monotonic()
            return [
                r
                for r in runners
                if r.status.wanted
                and r.status.last_exit is None
                and not (r.status.state is lc.InstanceState.RUNNING and now - (r.status.started or now) >= hold)
            ]

        def failed() -> list[InstanceRunner]:
            return [r for r in runners if r.status.wanted and r.status.last_exit is not None]

        def next_settle() -> float | None:
            times = [r.status.started + hold for r in pending() if r.status.started is not None]
            return min(times) if times else None

        await self.wait_for(lambda: bool(failed()) or not pending(), timeout, wake_at=next_settle)
        failures = [self._failure(r, None) for r in failed()]
        if not failures:
            failures = [self._failure(r, f"not up after {timeout:g} s ({r.status.state.value})") for r in pending()]
        return failures

    def _failure(self, runner: InstanceRunner, reason: str | None) -> StartFailure:
        last = runner.status.last_exit
        if reason is None:
            reason = f"{last.describe()} after {last.uptime:.1f} s" if last else runner.status.state.value
        lines = runner.output.tail.decode(errors="replace").splitlines()[-FAILURE_LINES:]
        return StartFailure(runner.spec.id, reason, tuple(lines))

    # Reading.

    def snapshot(self, ids: Iterable[InstanceId] | None = None) -> list[dict[str, Any]]:
        return [runner.snapshot() for runner in self._select(ids)]

    def close(self) -> None:
        for runner in self.runners.values():
            runner.close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
