"""What `cron:run`, `cron:cancel` and a deploy ask of the cron scheduler, and one real minute."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.config import read_config
from sunup.deploy.crons import CronScheduler
from sunup.plan.model import AppPlan
from sunup.plan.resolve import HostFacts, resolve_project

BOUND = 20.0


def _app(make_project: Callable[..., Path], crons: str) -> tuple[AppPlan, Path]:
    root = make_project(
        {
            ".upsun/config.yaml": (
                "applications:\n  app:\n    type: python:3.12\n"
                "    web: {commands: {start: 'sleep 100'}}\n"
                "    crons:\n" + crons
            )
        }
    )
    loaded = read_config(root)
    assert not loaded.diagnostics.has_errors(), [d.message for d in loaded.diagnostics.errors]
    return resolve_project(loaded, HostFacts.for_project(root)).apps[0], root


def _scheduler(app: AppPlan, root: Path) -> CronScheduler:
    env = {"PATH": os.environ["PATH"]}
    return CronScheduler(app, environment=lambda: env, cwd=root, log_path=root / "cron.log")


GATED = (
    "      gated: {spec: '0 0 1 1 *', commands: {start: 'echo run >> runs; touch started; "
    "while [ ! -e go ]; do sleep 0.02; done; rm -f go started'}}\n"
    "      quick: {spec: '0 0 1 1 *', commands: {start: 'echo quick >> runs; exit 4'}}\n"
)


async def _until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(BOUND):
        while not condition():
            await asyncio.sleep(0.02)
    assert condition(), what


def test_run_waits_for_its_own_run(make_project: Callable[..., Path]) -> None:
    """run() of a cron that already runs waits for the next run, and returns that run's result."""
    app, root = _app(make_project, GATED)

    async def scenario() -> None:
        scheduler = _scheduler(app, root)
        scheduler.start()
        scheduler.run_now("gated")
        await _until((root / "started").exists, "the first run")
        waiter = asyncio.ensure_future(scheduler.run("gated"))
        (root / "go").touch()  # the first run ends; the waiter's run starts
        await _until(lambda: (root / "runs").read_text().count("run") == 2 and (root / "started").exists(), "run 2")
        assert not waiter.done()
        (root / "go").touch()
        async with asyncio.timeout(BOUND):
            result = await waiter
        assert result is not None and result.status == 0 and not result.cancelled
        quick = await scheduler.run("quick")
        assert quick is not None and quick.status == 4
        await scheduler.close()

    asyncio.run(scenario())


def test_pause_holds_queued_crons_and_close_releases_waiters(make_project: Callable[..., Path]) -> None:
    """A paused scheduler lets the running cron end (reporting it while waiting) and starts no
    queued one; dequeue drops a queued cron; a waiter gets None when the scheduler closes."""
    app, root = _app(make_project, GATED)

    async def scenario() -> None:
        scheduler = _scheduler(app, root)
        scheduler.start()
        scheduler.run_now("gated")
        await _until((root / "started").exists, "the gated cron")
        scheduler.run_now("quick")
        scheduler.pause()
        reports: list[tuple[str, float]] = []
        idle = asyncio.ensure_future(scheduler.wait_idle(lambda name, seconds: reports.append((name, seconds))))
        await _until(lambda: bool(reports), "wait_idle to report the running cron")
        assert not idle.done() and reports[0][0] == "gated"
        (root / "go").touch()
        async with asyncio.timeout(BOUND):
            await idle
        assert scheduler.running() is None
        assert "quick" not in (root / "runs").read_text()  # queued, not started while paused
        assert [s.queued for s in scheduler.status() if s.name == "quick"] == [True]
        assert scheduler.dequeue("quick") and not scheduler.dequeue("quick")
        waiter = asyncio.ensure_future(scheduler.run("quick"))
        await asyncio.sleep(0.05)
        await scheduler.close()
        async with asyncio.timeout(BOUND):
            assert await waiter is None

    asyncio.run(scenario())


@pytest.mark.slow
def test_every_minute_cron_runs_in_real_time(make_project: Callable[..., Path]) -> None:
    """A cron with `* * * * *` runs at the next full minute of the wall clock, by itself."""
    app, root = _app(make_project, "      tick: {spec: '* * * * *', commands: {start: 'date +%S > ran'}}\n")

    async def scenario() -> None:
        scheduler = _scheduler(app, root)
        scheduler.start()
        log = root / "cron.log"
        async with asyncio.timeout(65):  # the next minute starts within 60 s
            # Its end logged, not only its file written: the run may still be going on then.
            while not (log.exists() and "cron tick finished" in log.read_text()):
                await asyncio.sleep(0.2)
        await scheduler.close()

    asyncio.run(scenario())
    assert (root / "ran").read_text().strip() in {"00", "01", "02"}  # on the minute
    assert "cron tick finished" in (root / "cron.log").read_text()
