"""Crons on the web instance: schedule, one at a time, cancel, timeout (spec §3, Crons)."""

from __future__ import annotations

import asyncio
import datetime
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.config import read_config
from sunup.deploy.crons import CronRun, CronScheduler
from sunup.plan.model import AppPlan
from sunup.plan.resolve import HostFacts, resolve_project

BOUND = 20.0  # seconds any single wait in these tests may take before it fails


def _app(make_project: Callable[..., Path], crons: str, timezone: str = "UTC") -> tuple[AppPlan, Path]:
    root = make_project(
        {
            ".upsun/config.yaml": (
                "applications:\n  app:\n    type: python:3.12\n"
                f"    timezone: {timezone}\n"
                "    web: {commands: {start: 'sleep 100'}}\n"
                "    crons:\n" + crons
            )
        }
    )
    loaded = read_config(root)
    assert not loaded.diagnostics.has_errors(), [d.message for d in loaded.diagnostics.errors]
    return resolve_project(loaded, HostFacts.for_project(root)).apps[0], root


def _scheduler(app: AppPlan, root: Path, clock: object | None = None) -> CronScheduler:
    env = {"PATH": os.environ["PATH"]}
    return CronScheduler(app, environment=lambda: env, cwd=root, log_path=root / "cron.log", clock=clock)  # type: ignore[arg-type]


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + BOUND
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"gave up after {BOUND} s waiting for {what}")
        await asyncio.sleep(0.02)


def _last(scheduler: CronScheduler, name: str) -> CronRun | None:
    """The last finished run of cron `name`."""
    return next(status.last for status in scheduler.status() if status.name == name)


def test_due_crons_wait_for_each_other(make_project: Callable[..., Path]) -> None:
    """Two crons due at once run one after the other, never together, and neither is skipped."""
    app, root = _app(
        make_project,
        "      a: {spec: '0 0 1 1 *', commands: {start: 'echo a-start >> order; sleep 0.5; echo a-end >> order'}}\n"
        "      b: {spec: '0 0 1 1 *', commands: {start: 'echo b-start >> order; echo b-end >> order'}}\n",
    )

    async def scenario() -> None:
        scheduler = _scheduler(app, root)
        scheduler.start()
        scheduler.run_now("a")
        scheduler.run_now("b")
        # Until the scheduler has seen b end (its exit and its log line), not until b wrote its
        # last line: b's shell may still run then, and close() would cancel it unrecorded.
        await _until(lambda: _last(scheduler, "b") is not None, "both crons to end")
        await scheduler.close()

    asyncio.run(scenario())
    assert (root / "order").read_text().split() == ["a-start", "a-end", "b-start", "b-end"]
    log = (root / "cron.log").read_text()
    assert "Running cron a" in log and "cron b finished" in log


def test_cancel_sends_sigterm_to_the_cron(make_project: Callable[..., Path]) -> None:
    """Cancelling a cron without `stop` sends it SIGTERM and records the run as cancelled."""
    app, root = _app(
        make_project,
        "      long: {spec: '0 0 1 1 *', commands: {start: \"trap 'echo got TERM; exit 3' TERM; touch started; sleep 30 & wait\"}}\n",
    )

    async def scenario() -> None:
        scheduler = _scheduler(app, root)
        scheduler.start()
        scheduler.run_now("long")
        await _until((root / "started").exists, "the cron to start")
        assert await scheduler.cancel("long")
        await _until(lambda: scheduler.status()[0].last is not None, "the cron to end")
        last = scheduler.status()[0].last
        assert last is not None and last.cancelled and last.status == 3
        await scheduler.close()

    asyncio.run(scenario())
    assert "got TERM" in (root / "cron.log").read_text()


def test_stop_command_then_sigkill_after_shutdown_timeout(make_project: Callable[..., Path]) -> None:
    """A cron's `commands.stop` runs on cancel; a cron still alive `shutdown_timeout` later is killed."""
    app, root = _app(
        make_project,
        "      stubborn:\n"
        "        spec: '0 0 1 1 *'\n"
        "        shutdown_timeout: 1\n"
        "        commands:\n"
        "          start: \"trap '' TERM; touch started; sleep 30\"\n"
        "          stop: 'touch stop-ran'\n",
    )

    async def scenario() -> float:
        scheduler = _scheduler(app, root)
        scheduler.start()
        scheduler.run_now("stubborn")
        await _until((root / "started").exists, "the cron to start")
        loop = asyncio.get_running_loop()
        began = loop.time()
        await scheduler.cancel()
        await _until(lambda: scheduler.status()[0].last is not None, "the cron to end")
        await scheduler.close()
        return loop.time() - began

    took = asyncio.run(scenario())
    assert (root / "stop-ran").exists()
    assert 0.9 <= took < 5, f"SIGKILL should come 1 s after the stop command, took {took:.2f} s"
    assert "SIGKILL" in (root / "cron.log").read_text()


def test_cron_over_its_timeout_is_cancelled(make_project: Callable[..., Path]) -> None:
    """A cron running past `timeout` is cancelled and its run says so."""
    app, root = _app(make_project, "      slow: {spec: '0 0 1 1 *', timeout: 1, commands: {start: 'sleep 30'}}\n")

    async def scenario() -> None:
        scheduler = _scheduler(app, root)
        scheduler.start()
        scheduler.run_now("slow")
        await _until(lambda: scheduler.status()[0].last is not None, "the cron to be cancelled")
        last = scheduler.status()[0].last
        assert last is not None and last.cancelled and last.duration < 5
        await scheduler.close()

    asyncio.run(scenario())
    assert "past its timeout" in (root / "cron.log").read_text()


class StepClock:
    """A wall clock that jumps to each requested time, and stops at `limit`."""

    def __init__(self, start: datetime.datetime, limit: datetime.datetime) -> None:
        self.current = start
        self.limit = limit
        self.fired: list[datetime.datetime] = []

    def now(self) -> datetime.datetime:
        return self.current

    async def sleep_until(self, when: datetime.datetime) -> None:
        if when > self.limit:
            await asyncio.Event().wait()  # never: the schedule ends here
        self.current = max(self.current, when)
        self.fired.append(when)
        await asyncio.sleep(0)


def test_schedule_follows_spec_and_timezone(make_project: Callable[..., Path]) -> None:
    """A daily cron at 02:30 in Europe/Paris fires at 01:30 UTC in winter, each day."""
    app, root = _app(
        make_project, "      nightly: {spec: '30 2 * * *', commands: {start: 'echo ran >> runs'}}\n", "Europe/Paris"
    )
    start = datetime.datetime(2026, 1, 10, 12, 0, tzinfo=datetime.UTC)
    clock = StepClock(start, start + datetime.timedelta(days=3))

    async def scenario() -> None:
        scheduler = _scheduler(app, root, clock)
        scheduler.start()
        await _until(lambda: len(clock.fired) == 3 and (root / "runs").exists(), "three nightly runs")
        await _until(lambda: scheduler.status()[0].running_since is None, "the last run to end")
        await scheduler.close()

    asyncio.run(scenario())
    assert [t.astimezone(datetime.UTC).strftime("%d %H:%M") for t in clock.fired] == [
        "11 01:30",
        "12 01:30",
        "13 01:30",
    ]


@pytest.mark.parametrize("name", ["drupal", "reports"])
def test_hashed_spec_is_stable_per_cron_name(make_project: Callable[..., Path], name: str) -> None:
    """`H * * * *` fires at the same minute every hour, derived from the cron's name."""
    app, root = _app(make_project, f"      {name}: {{spec: 'H * * * *', commands: {{start: 'true'}}}}\n")
    scheduler = _scheduler(app, root)
    first = scheduler.next_run(app.crons[0])
    again = _scheduler(app, root).next_run(app.crons[0])
    assert first is not None and again is not None and first.minute == again.minute
