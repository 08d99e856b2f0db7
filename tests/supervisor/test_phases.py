"""The supervisor's phases: started in order, stopped in the reverse order, a stop signal
during one cancels it and stops only those that started."""

from __future__ import annotations

import asyncio
import contextlib

from sunup.supervisor.phases import Phase, Timings, parse_timing, run_phases, timing_message


def _phases(events: list[str], *, blocking: str | None = None) -> list[Phase]:
    def make(name: str) -> Phase:
        async def start() -> None:
            events.append(f"start {name}")
            if name == blocking:
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    events.append(f"cancelled {name}")
                    raise

        async def stop() -> None:
            events.append(f"stop {name}")

        return Phase(name, start, stop)

    return [make(name) for name in ("build", "services", "router", "start")]


def test_phases_start_in_order_and_stop_in_reverse() -> None:
    """Every phase starts in its order, then they stop last first; the timings name each."""
    events: list[str] = []
    timings = Timings()

    async def main() -> bool:
        async with contextlib.AsyncExitStack() as cleanup:
            started = await run_phases(_phases(events), cleanup, asyncio.Event(), say=events.append, timings=timings)
            events.append("serving")
        return started

    assert asyncio.run(main())
    assert events == [
        "start build",
        "start services",
        "start router",
        "start start",
        "serving",
        "stop start",
        "stop router",
        "stop services",
        "stop build",
    ]
    assert list(timings.seconds) == ["build", "services", "router", "start"]


def test_a_stop_during_a_phase_cancels_it_and_stops_the_started_ones() -> None:
    """A stop signal while the router starts cancels that start; the services and the build stop;
    nothing later starts."""
    events: list[str] = []

    async def main() -> bool:
        done = asyncio.Event()
        asyncio.get_running_loop().call_later(0.05, done.set)
        async with contextlib.AsyncExitStack() as cleanup:
            return await run_phases(_phases(events, blocking="router"), cleanup, done, say=events.append)

    assert not asyncio.run(main())
    assert events == [
        "start build",
        "start services",
        "start router",
        "cancelled router",
        "stopped during the router phase",
        "stop services",
        "stop build",
    ]


def test_timing_messages_read_back_and_others_do_not() -> None:
    """A step's message gives back its step and seconds (a step may hold ": "); anything else,
    or a malformed one, is not a timing."""
    assert parse_timing(timing_message("service db ready", 1.23456)) == ("service db ready", 1.235)
    assert parse_timing(timing_message("a: b", 0.5)) == ("a: b", 0.5)
    for text in ("build: 0.5 s", "time: build: soon s", "time: : 1 s", "router: https://localhost/"):
        assert parse_timing(text) is None


def test_on_phase_hears_each_started_phase_in_order() -> None:
    """`on_phase` gets every phase that started, with a duration; none after a stop."""
    heard: list[tuple[str, float]] = []
    events: list[str] = []

    async def main() -> bool:
        async with contextlib.AsyncExitStack() as cleanup:
            return await run_phases(
                _phases(events), cleanup, asyncio.Event(), say=events.append, on_phase=lambda *a: heard.append(a)
            )

    assert asyncio.run(main())
    assert [name for name, _ in heard] == ["build", "services", "router", "start"]
    assert all(seconds >= 0 for _, seconds in heard)
