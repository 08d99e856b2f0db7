"""`serve`: one supervisor process, with a deployment around the instances."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from sunup.control.client import ControlClient
from sunup.plan.model import GroupPlan
from sunup.supervisor.daemon import serve
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.statedir import StateDir
from sunup.supervisor.testing import group_plan, project_plan
from tests.supervisor.harness import run


class FakeDeployment:
    """Records the calls the supervisor makes, in order."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir
        self.calls: list[str] = []
        self.web_environment: Mapping[str, Mapping[str, str]] = {}

    async def build(self) -> None:
        self.calls.append("build")

    def app_dirs(self) -> Mapping[str, Path]:
        return {"app": self.build_dir}

    def environment(self, group: GroupPlan) -> Mapping[str, str]:
        return {"PATH": "/toolchain/bin", "TOOL": group.name}

    async def after_start(
        self, web_environment: Mapping[str, Mapping[str, str]], web_cwd: Mapping[str, Path], web_enter: object = None
    ) -> None:
        self.calls.append(f"after_start {web_cwd['app']}")
        self.web_environment = web_environment

    async def close(self) -> None:
        self.calls.append("close")


def test_deployment_steps_surround_the_instances(tmp_path: Path) -> None:
    """Build first; instances run in the build folder with the toolchain's PATH first; hooks after
    the start; the deployment is closed before the instances stop."""
    build_dir = tmp_path / "build"
    build_dir.mkdir()
    plan = project_plan(group_plan("web", "exec sleep 1000"), group_plan("queue", "exec sleep 1000"))
    state = StateDir(tmp_path / ".sunup")
    deployment = FakeDeployment(build_dir)

    async def scenario() -> None:
        started = asyncio.Event()
        supervisor = asyncio.create_task(
            serve(
                plan,
                tmp_path,
                state=state,
                settings=SupervisorSettings(grace=2),
                foreground=False,
                say=lambda _: None,
                ready=started.set,
                deployment=deployment,
                host_environment={"PATH": "/usr/bin:/bin"},
            )
        )
        await asyncio.wait_for(started.wait(), 10)
        client = ControlClient(state.socket)
        queue = await asyncio.to_thread(client.call, "env", worker="queue")
        assert queue["cwd"] == str(build_dir)
        assert queue["environment"]["PATH"].startswith(f"/toolchain/bin:{state.bin}:")
        assert queue["environment"]["TOOL"] == "queue"
        await asyncio.to_thread(client.call, "shutdown")
        await asyncio.wait_for(supervisor, 20)
        assert deployment.calls == ["build", f"after_start {build_dir}", "close"]
        assert deployment.web_environment["app"]["PLATFORM_APP_DIR"] == str(build_dir)

    run(scenario())
    assert not os.path.exists(state.socket)
