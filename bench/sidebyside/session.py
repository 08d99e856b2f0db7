"""One scenario run against one manager: a work folder, a marker, the launched manager, and the
teardown that leaves nothing behind (even when the scenario fails half-way)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sidebyside import procfs
from sidebyside.drivers.base import Driver, Launched, alive, release
from sidebyside.procfs import Proc, Tracker
from sidebyside.program import Program


@dataclass(frozen=True, slots=True)
class Metric:
    #: Row label in the table.
    label: str
    unit: str
    lower_is_better: bool = True


@dataclass(frozen=True, slots=True)
class Measurement:
    metric: Metric
    manager: str
    value: float | None
    #: Shown instead of, or beside, the value: "never", "hung", "error: ...".
    note: str = ""


@dataclass(frozen=True, slots=True)
class Options:
    quick: bool = False
    #: The sizes of the start scenario (`--size`); default 1, 5, 50, 200 (quick: 1, 5, 50).
    sizes: tuple[int, ...] = ()
    #: Starts per size in the start scenario; the figure is their median.
    repeats: int = 0

    def pick(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @property
    def start_sizes(self) -> tuple[int, ...]:
        return self.sizes or ((1, 5, 50) if self.quick else (1, 5, 50, 200))

    @property
    def start_repeats(self) -> int:
        return self.repeats or self.pick(5, 3)


@contextmanager
def opened(driver: Driver) -> Iterator[Session]:
    """A session that is closed (everything killed and removed) however the block ends."""
    session = Session(driver)
    try:
        yield session
    finally:
        session.close()


class Session:
    """The manager under test, started at most once at a time, and cleaned up by `close`."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.marker = uuid.uuid4().hex
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bench-{driver.name}-"))
        self.tracker = Tracker(self.marker)
        #: Every manager started, the current one last.
        self.launches: list[Launched] = []
        self._stoppers: list[threading.Thread] = []

    def launch(self, programs: Sequence[Program]) -> Launched:
        """Start the manager (again: whatever an earlier one left runs on, as it would for a user).

        The first launch of a session is preceded by the driver's untimed warm-up.
        """
        if not self.launches:
            self.driver.warm_up(programs, self.workdir, self.marker)
        launched = self.driver.launch(programs, self.workdir, self.marker)
        self.launches.append(launched)
        return launched

    @property
    def current(self) -> Launched:
        assert self.launches, "launch() first"
        return self.launches[-1]

    def manager_pid(self) -> int | None:
        return self.driver.manager_pid(self.current)

    def wait_manager(self, timeout: float = 60.0) -> int:
        """The supervising process's pid once it exists (sunup's daemon comes up after the client)."""
        deadline = time.monotonic() + timeout
        while True:
            pid = self.manager_pid()
            if pid is not None:
                return pid
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{self.driver.name}: no manager process after {timeout:g} s")
            time.sleep(0.01)

    def wait_instances(self, match: Callable[[tuple[str, ...]], bool], count: int, timeout: float) -> float:
        """Seconds from the launch until `count` processes match; raises on timeout."""
        held, procs, when = self.tracker.wait_for(
            lambda ps: sum(1 for p in ps if match(p.cmdline)) >= count, timeout, interval=0.005
        )
        if not held:
            found = sum(1 for p in procs if match(p.cmdline))
            raise RuntimeError(f"{self.driver.name}: {found} of {count} instances after {timeout:g} s")
        return when - self.current.started_at

    def helpers(self, match: Callable[[tuple[str, ...]], bool]) -> list[Proc]:
        """The run's processes that are neither instances, nor the manager itself, nor a client
        the driver started (sunup's `up -d` while it waits)."""
        own = {self.manager_pid(), *(launched.process.pid for launched in self.launches)}
        return [p for p in self.tracker.scan() if not match(p.cmdline) and p.pid not in own]

    def stop_async(self) -> float:
        """Ask the manager to stop everything, in the background; returns the time it was asked."""
        launched = self.current
        asked = time.monotonic()
        thread = threading.Thread(target=self.driver.stop, args=(launched,), daemon=True)
        thread.start()
        self._stoppers.append(thread)
        return asked

    def manager_gone(self, pid: int | None, timeout: float) -> float | None:
        """The time the manager `pid` was seen gone, None if it still runs after `timeout`."""
        deadline = time.monotonic() + timeout
        while alive(pid):
            if time.monotonic() >= deadline:
                return None
            self.current.process.poll()
            time.sleep(0.005)
        return time.monotonic()

    def restart(self) -> None:
        """Stop the current manager the way its users do and make sure it and its instances are
        gone (killed by the marker after 30 s: honcho may hang on its pipes), for the next timed
        launch of the same session; the warm-up is not redone."""
        pid = self.driver.manager_pid(self.current)
        self.driver.stop(self.current)
        self.manager_gone(pid, timeout=30)
        procfs.kill_marked(self.marker)
        held, procs, _ = self.tracker.wait_for(lambda ps: not ps, 30, interval=0.005)
        if not held:
            raise RuntimeError(f"{self.driver.name}: {len(procs)} processes left 30 s after the stop")
        release(self.current)

    def close(self) -> None:
        """Stop the manager, kill every process of the run, release the manager's leftovers."""
        try:
            if self.launches:
                pid = self.driver.manager_pid(self.current)
                if alive(pid):
                    self.stop_async()
                    self.manager_gone(pid, timeout=5)
            procfs.kill_marked(self.marker)
            for launched in self.launches:
                release(launched)
            for thread in self._stoppers:
                thread.join(timeout=30)
            procfs.kill_marked(self.marker)
            self.driver.cleanup(self.workdir)
        finally:
            procfs.kill_marked(self.marker)
            shutil.rmtree(self.workdir, ignore_errors=True)
