"""The `scale` control request in process: a group grows and shrinks, its peers file follows."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from pathlib import Path

import pytest

from sunup.control.handlers import Handlers
from sunup.control.protocol import ProtocolError
from sunup.control.scaling import Scaling
from sunup.isolation import open_isolation
from sunup.mounts.layout import MountLayout
from sunup.mounts.namespace import Mode
from sunup.plan.model import MountPlan, MountScope, ProjectPlan
from sunup.supervisor.launch import SpecMaker
from sunup.supervisor.lifecycle import InstanceState
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.statedir import StateDir
from sunup.supervisor.supervisor import Supervisor
from sunup.supervisor.testing import group_plan, project_plan
from tests.supervisor.harness import alive, run, until

SCRATCH = MountPlan("scratch", "tmp", MountScope.TMP, "scratch", None, "app/app/queue/tmp")


def test_a_group_grows_and_shrinks_while_it_runs(tmp_path: Path) -> None:
    """1 → 3 → 1: two instances are added and started, then stopped and forgotten; the peers file
    lists the members each time; the plan gets the new count; the removed instances' tmp folders
    are deleted."""
    queue = dataclasses.replace(group_plan("queue", "exec sleep 36013"), mounts=(SCRATCH,))
    plan = project_plan(group_plan("web", "exec sleep 36013"), queue)
    state = StateDir(tmp_path / ".sunup")
    state.create()
    layout = MountLayout(state.root, Mode.NONE)
    maker = SpecMaker.for_host(tmp_path, state, host_environment={"PATH": os.environ["PATH"]}, layout=layout)
    peers = state.root / "run" / "peers" / "app" / "queue.json"

    def members() -> list[str]:
        return [i["name"] for i in json.loads(peers.read_text())["instances"]]

    async def scenario() -> None:
        isolation = open_isolation(state.root)
        supervisor = Supervisor(
            maker.specs(plan), isolation=isolation, settings=SupervisorSettings(grace=2), spec_maker=maker
        )
        handlers = Handlers(supervisor, plan, tmp_path, lambda: None)
        seen: list[ProjectPlan] = []
        scale = Scaling(handlers, state.root, layout, on_plan=seen.append)
        supervisor.start()
        try:
            grown = await scale({"counts": {"app:queue": 3}})
            assert grown["groups"] == [{"app": "app", "group": "queue", "before": 1, "after": 3}]
            assert [r["name"] for r in grown["instances"]] == ["queue.0", "queue.1", "queue.2"]
            assert members() == ["queue.0", "queue.1", "queue.2"]
            assert [g.resources.count for g in handlers.plan.apps[0].groups] == [1, 3]
            assert seen[-1] is handlers.plan
            runners = [supervisor.runners[i] for i in sorted(supervisor.runners) if i.group == "queue"]
            await until(supervisor, lambda: all(r.status.state is InstanceState.RUNNING for r in runners), "3 queues")
            pids = [r.status.pid for r in runners[1:]]
            assert all((state.root / "volumes/app/app/queue/tmp" / str(i)).is_dir() for i in (0, 1, 2))
            shrunk = await scale({"counts": {"app:queue": 1}})
            assert shrunk["groups"][0]["after"] == 1
            assert sorted(i.name for i in supervisor.runners) == ["queue.0", "web.0"]
            assert members() == ["queue.0"]
            assert not any(alive(pid) for pid in pids if pid is not None)
            assert not (state.root / "volumes/app/app/queue/tmp/1").exists()
            with pytest.raises(ProtocolError, match="no group"):
                await scale({"counts": {"app:nothing": 2}})
            with pytest.raises(ProtocolError, match="from 1 to 256"):
                await scale({"counts": {"app:queue": 0}})
        finally:
            supervisor.stop()
            await asyncio.wait_for(supervisor.stopped(), 10)
            supervisor.close()
            isolation.close()

    run(scenario())
