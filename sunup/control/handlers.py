"""What each control command does (docs/control-protocol.md lists them with their arguments).

Instance selection arguments, shared by most commands, mirror the CLI's options:
``app`` (-A), ``web`` (--web), ``worker`` (--worker, ``queue`` or ``app--queue``), ``index``
(-I), or ``instances`` (a list of keys like ``app.queue.0``, what the shims send). With
``services`` true, `ps`, `start`, `stop`, `restart`, `wait` and `logs` act on the servers of the
plan's services instead (``service`` names one).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sunup import __version__
from sunup.control.protocol import FAILED, SELECTION, UNKNOWN_COMMAND, ProtocolError, Request
from sunup.errors import SelectionError
from sunup.plan.model import ProjectPlan
from sunup.plan.selection import select_groups
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.lifecycle import InstanceState
from sunup.supervisor.services import service_instance
from sunup.supervisor.supervisor import Supervisor

#: Extra seconds a waiting command allows beyond the stop grace.
WAIT_MARGIN = 30.0


class Handlers:
    def __init__(
        self,
        supervisor: Supervisor,
        plan: ProjectPlan,
        project_root: Path,
        shutdown: Callable[[], None],
        services: Supervisor | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.services = services
        self.plan = plan
        self.project_root = project_root
        self._shutdown = shutdown
        self._commands = {
            "ping": self.ping,
            "ps": self.ps,
            "start": self.start,
            "stop": self.stop,
            "restart": self.restart,
            "wait": self.wait,
            "logs": self.logs,
            "env": self.env,
            "shutdown": self.shutdown,
        }

    async def __call__(self, request: Request) -> Any:
        handler = self._commands.get(request.command)
        if handler is None:
            raise ProtocolError(
                UNKNOWN_COMMAND, f"unknown command {request.command!r}", hint=f"commands: {', '.join(self._commands)}"
            )
        return await handler(request.args)

    # Selection.

    def target(self, args: dict[str, Any]) -> tuple[Supervisor, list[InstanceId]]:
        """The supervisor and instances a command acts on: the app instances selected by `args`,
        or with ``"services": true`` the service servers (all, or the one named by ``service``)."""
        if not args.get("services"):
            return self.supervisor, self.select(args)
        if self.services is None:
            return self.supervisor, []
        name = args.get("service")
        if name is None:
            return self.services, list(self.services.runners)
        instance = service_instance(str(name))
        if instance not in self.services.runners:
            known = ", ".join(i.group for i in self.services.runners) or "none"
            raise ProtocolError(SELECTION, f"no service {name!r} runs a server", hint=f"services: {known}")
        return self.services, [instance]

    def select(self, args: dict[str, Any], *, default_web: bool = False) -> list[InstanceId]:
        known = self.supervisor.runners
        keys = args.get("instances")
        if keys is not None:
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ProtocolError(SELECTION, "'instances' must be a list of instance keys")
            try:
                chosen = [InstanceId.parse_key(k) for k in keys]
            except ValueError:
                raise ProtocolError(SELECTION, f"not instance keys: {keys}") from None
            missing = [i.key for i in chosen if i not in known]
            if missing:
                raise ProtocolError(SELECTION, f"no instance {', '.join(missing)} in this supervisor")
            return chosen
        app, worker, index = args.get("app"), args.get("worker"), args.get("index")
        web = bool(args.get("web")) or ((default_web or index is not None) and worker is None)
        if not (app is None or isinstance(app, str)) or not (worker is None or isinstance(worker, str)):
            raise ProtocolError(SELECTION, "'app' and 'worker' must be strings")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
            raise ProtocolError(SELECTION, "'index' must be a number, 0 or more")
        try:
            groups = select_groups(self.plan, app, web=web, worker=worker)
        except SelectionError as exc:
            raise ProtocolError(SELECTION, exc.message, exc.hint) from None
        chosen = []
        for group in groups:
            members = [i for i in known if i.app == group.app and i.group == group.name]
            if index is not None:
                if index >= len(members):
                    count = len(members)
                    plural = "s" if count != 1 else ""
                    raise ProtocolError(
                        SELECTION,
                        f"{group.instance_name} has {count} instance{plural}; there is no instance {index}",
                        hint=f"-I takes 0 to {count - 1}" if count else "it has no start command",
                    )
                members = [InstanceId(group.app, group.name, index)]
            chosen.extend(sorted(members, key=lambda i: i.index))
        return chosen

    def _timeout(self) -> float:
        return self.supervisor.settings.grace + WAIT_MARGIN

    # Commands.

    async def ping(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "version": __version__,
            "protocol": 1,
            "pid": os.getpid(),
            "project": str(self.project_root),
            "isolation": self.supervisor.isolation.backend,
            "instances": len(self.supervisor.runners),
        }

    async def ps(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        supervisor, chosen = self.target(args)
        return supervisor.snapshot(chosen)

    async def start(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        supervisor, chosen = self.target(args)
        supervisor.start(chosen)
        return supervisor.snapshot(chosen)

    async def stop(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        supervisor, chosen = self.target(args)
        supervisor.stop(chosen)
        if args.get("wait", True) and not await supervisor.stopped(chosen, self._timeout()):
            raise ProtocolError(FAILED, "some instances did not stop in time")
        return supervisor.snapshot(chosen)

    async def restart(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        supervisor, chosen = self.target(args)
        supervisor.restart(chosen)
        if args.get("wait", True):
            runners = [supervisor.runners[i] for i in chosen]
            settled = (InstanceState.RUNNING, InstanceState.BACKOFF)
            await supervisor.wait_for(lambda: all(r.status.state in settled for r in runners), self._timeout())
        return supervisor.snapshot(chosen)

    async def wait(self, args: dict[str, Any]) -> dict[str, Any]:
        settle, timeout = args.get("settle"), args.get("timeout")
        for name, value in (("settle", settle), ("timeout", timeout)):
            if value is not None and (not isinstance(value, (int, float)) or value < 0):
                raise ProtocolError(SELECTION, f"'{name}' must be a number of seconds")
        supervisor, chosen = self.target(args)
        failures = await supervisor.ready(chosen, settle=settle, timeout=timeout)
        return {"failures": [f.to_json() for f in failures], "instances": supervisor.snapshot(chosen)}

    async def logs(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        supervisor, chosen = self.target(args)
        return [{"app": i.app, "name": i.name, "path": str(supervisor.runners[i].spec.log_path)} for i in chosen]

    async def env(self, args: dict[str, Any]) -> dict[str, Any]:
        chosen = self.select(args, default_web=True)
        if not chosen:
            raise ProtocolError(SELECTION, "no instance matches")
        instance = chosen[0]
        spec = self.supervisor.runners[instance].spec
        return {
            "app": instance.app,
            "name": instance.name,
            "key": instance.key,
            "environment": dict(spec.environment),
            "cwd": str(spec.cwd),
        }

    async def shutdown(self, args: dict[str, Any]) -> dict[str, Any]:
        """Tell the supervisor to stop (it stops crons, instances, then services); reply once
        every instance is stopped."""
        self._shutdown()
        await self.supervisor.stopped()
        return {"stopped": len(self.supervisor.runners)}
