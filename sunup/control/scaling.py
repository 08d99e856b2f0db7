"""`scale`: instance counts changed while sunup runs (`sunup resources:set --count queue:3`).

    → {"command": "scale", "args": {"counts": {"app:queue": 3}}}
    ← {"groups": [{"app": "app", "group": "queue", "before": 1, "after": 3}],
       "instances": [ps rows of the scaled groups]}

New instances (the next numbers) get their own `instance` and `tmp` folders, share the group's
`storage`, and start at once. Removed instances (the highest numbers) stop gracefully — SIGTERM,
the grace, SIGKILL — and their `tmp` files are deleted; their `instance` files are kept. The
group's peers file lists the new members before anything starts or stops. One request is applied
at a time; the reply comes once the removed instances have stopped. The handlers' plan (and, through
`on_plan`, the running release's, which a redeploy starts again) gets the new counts.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sunup.control.protocol import FAILED, SELECTION, ProtocolError
from sunup.plan.sizing import MAX_COUNT
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.peers import peers_document, write_group_peers

if TYPE_CHECKING:
    from sunup.control.handlers import Handlers
    from sunup.mounts.layout import MountLayout
    from sunup.plan.model import GroupPlan, ProjectPlan

#: Extra seconds the stop of removed instances may take beyond the grace.
STOP_MARGIN = 30.0


class Scaling:
    """The `scale` command of one supervisor; acts on the instances the handlers act on."""

    def __init__(
        self,
        handlers: Handlers,
        state_root: Path,
        layout: MountLayout | None = None,
        on_plan: Callable[[ProjectPlan], None] | None = None,
    ) -> None:
        self._handlers = handlers
        self._state_root = state_root
        self._layout = layout
        self._on_plan = on_plan
        self._lock = asyncio.Lock()

    async def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        wanted = self._counts(args)
        async with self._lock:
            changes = [await self._scale(group, count) for group, count in wanted]
            plan = with_counts(self._handlers.plan, {(g.app, g.name): count for g, count in wanted})
            self._handlers.plan = plan
            if self._on_plan is not None:
                self._on_plan(plan)
        supervisor = self._handlers.supervisor
        chosen = [i for i in sorted(supervisor.runners) if any((i.app, i.group) == (g.app, g.name) for g, _ in wanted)]
        return {"groups": changes, "instances": supervisor.snapshot(chosen)}

    def _counts(self, args: dict[str, Any]) -> list[tuple[GroupPlan, int]]:
        counts = args.get("counts")
        if not isinstance(counts, dict) or not counts:
            raise ProtocolError(SELECTION, "'counts' must map app:group keys to instance counts")
        plan = self._handlers.plan
        found: list[tuple[GroupPlan, int]] = []
        for key, count in counts.items():
            app_name, _, name = str(key).partition(":")
            app = plan.app(app_name)
            group = app.group(name) if app is not None else None
            if group is None or group.commands is None:
                raise ProtocolError(SELECTION, f"no group {key!r} with a start command in this supervisor")
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_COUNT:
                raise ProtocolError(SELECTION, f"the count of {key!r} must be a whole number from 1 to {MAX_COUNT}")
            found.append((group, count))
        return found

    async def _scale(self, group: GroupPlan, count: int) -> dict[str, Any]:
        supervisor = self._handlers.supervisor
        members = sorted(i for i in supervisor.runners if (i.app, i.group) == (group.app, group.name))
        before = len(members)
        change = {"app": group.app, "group": group.name, "before": before, "after": count}
        if count > before:
            maker, app = supervisor.spec_maker, self._handlers.plan.app(group.app)
            if maker is None or app is None:
                raise ProtocolError(FAILED, "this supervisor cannot add instances", hint="sunup redeploy")
            added = [maker.spec(app, group, index) for index in range(before, count)]
            supervisor.add(added)
            self._write_peers(group)
            supervisor.start([s.id for s in added])
        elif count < before:
            removed = [InstanceId(group.app, group.name, index) for index in range(count, before)]
            self._write_peers(group, leaving=removed)
            supervisor.stop(removed)
            if not await supervisor.stopped(removed, supervisor.settings.grace + STOP_MARGIN):
                raise ProtocolError(FAILED, f"{group.instance_name}: the removed instances did not stop in time")
            supervisor.discard(removed)
            if self._layout is not None:
                for instance in removed:
                    self._layout.wipe_instance_tmp(group, instance.index)
        return change

    def _write_peers(self, group: GroupPlan, leaving: list[InstanceId] | None = None) -> None:
        runners = self._handlers.supervisor.runners
        specs = [r.spec for i, r in runners.items() if i not in (leaving or [])]
        write_group_peers(self._state_root, peers_document(group.app, group.name, group.instance_name, specs))


def with_counts(plan: ProjectPlan, counts: dict[tuple[str, str], int]) -> ProjectPlan:
    """`plan` with the instance count of each (app, group) of `counts` replaced."""

    def group(g: GroupPlan) -> GroupPlan:
        count = counts.get((g.app, g.name))
        if count is None:
            return g
        return dataclasses.replace(g, resources=dataclasses.replace(g.resources, count=count))

    apps = tuple(dataclasses.replace(a, groups=tuple(group(g) for g in a.groups)) for a in plan.apps)
    return dataclasses.replace(plan, apps=apps)
