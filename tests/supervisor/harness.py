"""Running a real `Supervisor` in a test: real processes, real signals, bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from sunup.isolation import open_isolation
from sunup.supervisor.backoff import RestartPolicy
from sunup.supervisor.clock import Clock
from sunup.supervisor.events import Event
from sunup.supervisor.launch import InstanceSpec
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.supervisor import Supervisor


@contextlib.asynccontextmanager
async def supervising(
    tmp_path: Path,
    specs: Sequence[InstanceSpec],
    *,
    grace: float = 2.0,
    clock: Clock | None = None,
    backend: str | None = None,
    policy: RestartPolicy | None = None,
) -> AsyncIterator[tuple[Supervisor, list[Event]]]:
    """A started supervisor of `specs`; everything is stopped and released on the way out."""
    isolation = open_isolation(tmp_path / "state", backend=backend)
    events: list[Event] = []
    settings = SupervisorSettings(grace=grace, policy=policy or RestartPolicy())
    supervisor = Supervisor(
        specs, isolation=isolation, settings=settings, clock=clock, observers=[events.append], draw=lambda: 0.5
    )
    supervisor.start()
    try:
        yield supervisor, events
    finally:
        supervisor.stop()
        if not await supervisor.stopped(timeout=grace + 10):
            raise AssertionError(f"instances did not stop: {supervisor.snapshot()}")
        supervisor.close()
        isolation.close()


async def until(supervisor: Supervisor, condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Wait (event-driven) until `condition` holds, or fail saying what did not happen."""
    if not await supervisor.wait_for(condition, timeout):
        raise AssertionError(f"timed out after {timeout} s waiting for {what}; instances: {supervisor.snapshot()}")


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def run(coroutine: object) -> None:
    """Run a test coroutine in a fresh event loop."""
    asyncio.run(coroutine)  # type: ignore[arg-type]


def read_pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


def env_with_path() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
