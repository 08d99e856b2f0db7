"""The rollout: a deploy replaces the running release only once its build succeeded (in process)."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import weakref
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sunup.build.builder import BuildFailure
from sunup.config.diagnostics import Diagnostics
from sunup.deploy.crons import CronScheduler
from sunup.deploy.progress import DeployOutcome, DeployRun, Relay
from sunup.deploy.rollout import DeployBusyError, DeploymentSteps, Rollout
from sunup.isolation import Isolation, open_isolation
from sunup.plan.model import GroupPlan, ProjectPlan
from sunup.supervisor.lifecycle import InstanceState
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.supervisor import Supervisor
from sunup.supervisor.testing import group_plan, instance_spec, project_plan

BOUND = 20.0


class FakeDeployment:
    """A deployment whose build waits for `gate` (when given) and then fails or succeeds."""

    def __init__(self, tree: str, *, gate: asyncio.Event | None = None, fail: bool = False) -> None:
        self.tree = tree
        self.gate = gate
        self.fail = fail
        self.calls: list[str] = []
        self.crons: dict[str, CronScheduler] = {}

    async def build(self) -> None:
        self.calls.append("build")
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise BuildFailure("app", "the build hook", 7, ["broken"], Path("build.log"))

    def app_dirs(self) -> Mapping[str, Path]:
        return {}

    def environment(self, group: GroupPlan) -> Mapping[str, str]:
        return {}

    async def after_start(
        self, web_environment: Mapping[str, Mapping[str, str]], web_cwd: Mapping[str, Path], web_enter: object = None
    ) -> None:
        self.calls.append("after_start")

    async def close(self) -> None:
        self.calls.append("close")

    def trees(self) -> Mapping[str, str]:
        return {"app": self.tree}

    async def wait_for_crons(self) -> None:
        self.calls.append("wait_for_crons")


def plan_with(start: str) -> ProjectPlan:
    return project_plan(group_plan("web", start), group_plan("queue", "exec sleep 1000"))


async def finished(run: DeployRun) -> dict[str, Any]:
    """Read `run`'s pages until it ends; its last page."""
    after = 0
    async with asyncio.timeout(BOUND):
        while True:
            page = await run.page(after, wait=1.0)
            after = page["next"]
            if page["done"]:
                return page


@pytest.fixture
def isolation(tmp_path: Path) -> Iterator[Isolation]:
    """The instances' cgroups, removed with their top-level folders at the end of the test."""
    opened = open_isolation(tmp_path / "state")
    try:
        yield opened
    finally:
        opened.close()


def make_rollout(
    isolation: Isolation,
    tmp_path: Path,
    first: FakeDeployment,
    next_deployments: list[FakeDeployment],
    plans: list[ProjectPlan],
) -> tuple[Rollout, list[str]]:
    said: list[str] = []

    def launch(plan: ProjectPlan, deployment: DeploymentSteps | None, port: Callable[[], int]) -> Supervisor:
        specs = [
            dataclasses.replace(
                instance_spec(g.commands.start, tmp_path, group=g.name), port=port() if g.is_web else None
            )
            for g in plan.apps[0].groups
            if g.commands is not None
        ]
        return Supervisor(specs, isolation=isolation, settings=SupervisorSettings(grace=1))

    rollout = Rollout(
        plans[0],
        first,
        launch=launch,
        relay=Relay(said.append),
        deployments=lambda plan, say: next_deployments.pop(0),
        load=lambda: (SimpleNamespace(diagnostics=Diagnostics()), plans.pop(1)),  # type: ignore[arg-type,return-value]
    )
    return rollout, said


async def running(supervisor: Supervisor) -> dict[str, int]:
    assert await supervisor.wait_for(
        lambda: all(r.status.state is InstanceState.RUNNING for r in supervisor.runners.values()), BOUND
    ), supervisor.snapshot()
    return {i.name: r.status.pid for i, r in supervisor.runners.items() if r.status.pid is not None}


def test_failing_build_leaves_the_running_release(tmp_path: Path, isolation: Isolation) -> None:
    """A deploy whose build fails ends with the build's error; the same instances keep running."""
    first, broken = FakeDeployment("t1"), FakeDeployment("t2", fail=True)

    async def scenario() -> None:
        rollout, _ = make_rollout(
            isolation, tmp_path, first, [broken], [plan_with("exec sleep 1000"), plan_with("exec sleep 1001")]
        )
        rollout.start()
        supervisor = rollout.supervisor
        before = await running(supervisor)
        page = await finished(rollout.begin(build=True))
        assert not page["outcome"]["ok"] and "exited with status 7" in page["outcome"]["error"]
        assert rollout.supervisor is supervisor and await running(supervisor) == before
        assert "close" not in first.calls and "wait_for_crons" not in first.calls
        await rollout.close()

    asyncio.run(scenario())


def test_one_deploy_at_a_time_then_the_new_release_keeps_the_web_port(tmp_path: Path, isolation: Isolation) -> None:
    """A second deploy is refused while one builds; the new release starts once the old stopped,
    its web instance on the old port, and its hooks run."""
    first = FakeDeployment("t1")

    async def scenario() -> None:
        second = FakeDeployment("t2", gate=asyncio.Event())
        rollout, said = make_rollout(
            isolation, tmp_path, first, [second], [plan_with("exec sleep 1000"), plan_with("exec sleep 1001")]
        )
        rollout.start()
        old = rollout.supervisor
        await running(old)
        old_port = next(r.spec.port for r in old.runners.values() if r.spec.port)
        run = rollout.begin(build=True)
        await asyncio.sleep(0)
        with pytest.raises(DeployBusyError):
            rollout.begin(build=False)
        assert second.gate is not None
        second.gate.set()
        page = await finished(run)
        assert page["outcome"]["ok"], page
        assert rollout.supervisor is not old
        assert all(r.status.state is InstanceState.STOPPED for r in old.runners.values())
        await running(rollout.supervisor)
        assert next(r.spec.port for r in rollout.supervisor.runners.values() if r.spec.port) == old_port
        assert first.calls[-2:] == ["wait_for_crons", "close"]
        assert second.calls == ["build", "after_start"]
        assert "stopping the running instances" in said and "stopping the running instances" in run.lines
        await rollout.close()

    asyncio.run(scenario())


def test_deploy_of_an_unchanged_project_keeps_the_instances(tmp_path: Path, isolation: Isolation) -> None:
    """Same plan, same trees: the deploy says nothing changed and stops nothing."""
    first, same = FakeDeployment("t1"), FakeDeployment("t1")

    async def scenario() -> None:
        plan = plan_with("exec sleep 1000")
        rollout, _ = make_rollout(isolation, tmp_path, first, [same], [plan, plan])
        rollout.start()
        supervisor = rollout.supervisor
        before = await running(supervisor)
        page = await finished(rollout.begin(build=True))
        assert page["outcome"]["ok"] and any("nothing changed" in line for line in page["lines"])
        assert rollout.supervisor is supervisor and await running(supervisor) == before
        await rollout.close()

    asyncio.run(scenario())


def test_a_redeploy_frees_the_release_it_replaced(tmp_path: Path, isolation: Isolation) -> None:
    """The replaced supervisor (its runners, their outputs: reference cycles) is freed when the
    redeploy ends, not at the interpreter's next full collection (bench/soak.py saw a supervisor
    grow by ~0.5 MB per redeploy of 200 instances). Automatic collection is off here, so only
    the rollout's own can free it."""
    first = FakeDeployment("t1")

    async def scenario() -> None:
        rollout, _ = make_rollout(isolation, tmp_path, first, [], [plan_with("exec sleep 1000")])
        rollout.start()
        await running(rollout.supervisor)
        old = weakref.ref(rollout.supervisor)
        page = await finished(rollout.begin(build=False))
        assert page["outcome"]["ok"], page
        assert old() is None, "the replaced supervisor is still in memory"
        await running(rollout.supervisor)
        await rollout.close()

    gc.collect()
    gc.disable()
    try:
        asyncio.run(scenario())
    finally:
        gc.enable()


def test_progress_pages_wait_for_news_and_the_end() -> None:
    """A page waits for the next message (or the end) and says where the next one starts."""

    async def scenario() -> None:
        run = DeployRun(1, "deploy")
        relay = Relay(lambda _text: None)
        relay.run = run
        waiting = asyncio.ensure_future(run.page(0, wait=BOUND))
        await asyncio.sleep(0)
        relay("building")
        first = await waiting
        assert first["lines"] == ["building"] and first["next"] == 1 and not first["done"]
        empty = await run.page(1, wait=0.01)
        assert empty["lines"] == [] and not empty["done"]
        run.finish(DeployOutcome(error="broken", hint="see the log"))
        last = await run.page(1, wait=BOUND)
        assert last["done"] and last["outcome"] == {"ok": False, "error": "broken", "hint": "see the log"}

    asyncio.run(scenario())
