"""The supervisor's start as an ordered list of phases, each with its start and its stop.

    phases = [Phase("build", build), Phase("services", start_services, stop_services), ...]
    if await run_phases(phases, cleanup, done, say=log.say):
        ...  # everything started: serve until told to stop

Each phase is started in order; once started, its stop is pushed on the supervisor's exit stack,
so the phases stop in the reverse order by construction, also when a later one fails or a stop
signal comes half-way (the phase running then is cancelled: a build or a server's start does
not wait for its end). How long each phase took is kept (`Timings`) and said in supervisor.log.

What `sunup up` shows of that (build, each service ready, instances running, the deploy hooks)
travels as `say` messages made by `timing_message` ("time: <step>: <seconds> s"): the CLI turns
them back into (step, seconds) with `parse_timing`, prints one line for each and, with
`--timings`, a table at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

#: What starts a `say` message carrying one step's duration (`timing_message`).
TIMING_PREFIX = "time: "


def timing_message(step: str, seconds: float) -> str:
    """The message saying that `step` took `seconds` (`parse_timing` reads it back)."""
    return f"{TIMING_PREFIX}{step}: {seconds:.3f} s"


def parse_timing(message: str) -> tuple[str, float] | None:
    """(step, seconds) of a `timing_message`; None for any other message."""
    if not message.startswith(TIMING_PREFIX) or not message.endswith(" s"):
        return None
    step, _, seconds = message.removeprefix(TIMING_PREFIX).removesuffix(" s").rpartition(": ")
    try:
        return (step, float(seconds)) if step else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    start: Callable[[], Awaitable[None]]
    #: Undoes `start`; None: nothing to undo.
    stop: Callable[[], Awaitable[None]] | None = None


@dataclass
class Timings:
    """Seconds each phase took to start, in order."""

    seconds: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{name} {took:.2f} s" for name, took in self.seconds.items())


async def run_phases(
    phases: Sequence[Phase],
    cleanup: contextlib.AsyncExitStack,
    done: asyncio.Event,
    *,
    say: Callable[[str], None],
    timings: Timings | None = None,
    on_phase: Callable[[str, float], None] | None = None,
) -> bool:
    """Start `phases` in order, each one's stop pushed on `cleanup` once it started; False when
    `done` was set before all started (said with the phase it interrupted). `on_phase` gets
    each started phase's name and seconds."""
    for phase in phases:
        began = time.monotonic()
        if done.is_set() or await unless_stopped(done, _started(phase)) is None:
            say(f"stopped during the {phase.name} phase")
            return False
        if phase.stop is not None:
            cleanup.push_async_callback(phase.stop)
        took = time.monotonic() - began
        if timings is not None:
            timings.seconds[phase.name] = took
        if on_phase is not None:
            on_phase(phase.name, took)
    return True


async def _started(phase: Phase) -> bool:
    await phase.start()
    return True


async def unless_stopped(done: asyncio.Event, work: Awaitable[T]) -> T | None:
    """The result of `work`, or None once `done` is set first (`work` is cancelled then)."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(done.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()
