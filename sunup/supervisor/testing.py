"""Helpers for tests of the supervisor, shipped with it: small plans and specs built in code."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sunup.plan.model import (
    AppPlan,
    CommandsPlan,
    GroupKind,
    GroupPlan,
    HooksPlan,
    ProjectPlan,
    ResourcesPlan,
    frozen_map,
)
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.launch import InstanceSpec


def group_plan(
    name: str,
    start: str,
    *,
    app: str = "app",
    count: int = 1,
    pre_start: str | None = None,
    post_start: str | None = None,
    environment: Mapping[str, str] | None = None,
) -> GroupPlan:
    """A web group (name ``web``) or a worker group with one start command."""
    web = name == "web"
    instance_name = app if web else f"{app}--{name}"
    env = {"PLATFORM_APPLICATION_NAME": instance_name, "TYPE": "web" if web else "worker", **(environment or {})}
    return GroupPlan(
        app=app,
        name=name,
        kind=GroupKind.WEB if web else GroupKind.WORKER,
        instance_name=instance_name,
        commands=CommandsPlan(start=start, pre_start=pre_start, post_start=post_start),
        relationships=(),
        mounts=(),
        variables=frozen_map(),
        environment=frozen_map(env),
        access=frozen_map({"ssh": "contributor"}),
        container_profile="HIGH_CPU",
        resources=ResourcesPlan(cpu=0.5, memory_mb=224, count=count, profile="HIGH_CPU"),
        timezone="UTC",
        socket_family="tcp" if web else None,
    )


def project_plan(*groups: GroupPlan, app: str = "app") -> ProjectPlan:
    """A one-app project with these groups (give the web group first)."""
    application = AppPlan(
        name=app,
        type="python:3.12",
        runtime="python",
        version="3.12",
        source_root="",
        hooks=HooksPlan(),
        crons=(),
        dependencies=frozen_map(),
        build_flavor=None,
        timezone="UTC",
        groups=tuple(groups),
    )
    return ProjectPlan(format="upsun", apps=(application,), services=())


def instance_spec(
    start: str,
    folder: Path,
    *,
    group: str = "queue",
    index: int = 0,
    app: str = "app",
    post_start: str | None = None,
    pre_start: str | None = None,
    environment: Mapping[str, str] | None = None,
) -> InstanceSpec:
    """A spec running `start` in `folder`, logging to `folder/logs/<name>/app.log`."""
    instance = InstanceId(app, group, index)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", **(environment or {})}
    return InstanceSpec(
        id=instance,
        start=start,
        environment=env,
        cwd=folder,
        log_path=folder / "logs" / instance.name / "app.log",
        pre_start=pre_start,
        post_start=post_start,
    )


@dataclass(order=True)
class _ManualTimer:
    when: float
    order: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A `Clock` whose time moves only when a test calls `advance` (timers fire then)."""

    def __init__(self, start: float = 1000.0, wall: float = 1_700_000_000.0) -> None:
        self.now = start
        self._wall_offset = wall - start
        self._timers: list[_ManualTimer] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self._wall_offset

    def call_at(self, when: float, callback: Callable[[], None]) -> _ManualTimer:
        timer = _ManualTimer(when, next(self._order), callback)
        heapq.heappush(self._timers, timer)
        return timer

    def pending(self) -> list[float]:
        """When the timers not yet fired nor cancelled are due."""
        return sorted(t.when for t in self._timers if not t.cancelled)

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, in order."""
        target = self.now + seconds
        while self._timers and self._timers[0].when <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self.now = max(self.now, timer.when)
            timer.callback()
        self.now = target
