"""What each control command does (docs/control-protocol.md lists them with their arguments).

Instance selection arguments, shared by most commands, mirror the CLI's options:
``app`` (-A), ``web`` (--web), ``worker`` (--worker, ``queue`` or ``app--queue``), ``index``
(-I), or ``instances`` (a list of keys like ``app.queue.0``, what the shims send). With
``services`` true, `ps`, `start`, `stop`, `restart`, `wait` and `logs` act on the servers of the
plan's services instead (``service`` names one).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sunup import __version__
from sunup.control.protocol import FAILED, SELECTION, UNKNOWN_COMMAND, ProtocolError, Request
from sunup.errors import SelectionError, SunupError
from sunup.plan.model import ProjectPlan
from sunup.plan.selection import select_groups
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.lifecycle import InstanceState
from sunup.supervisor.services import service_instance
from sunup.supervisor.supervisor import Supervisor

if TYPE_CHECKING:
    from sunup.deploy.crons import CronScheduler
    from sunup.deploy.rollout import Rollout

#: Extra seconds a waiting command allows beyond the stop grace.
WAIT_MARGIN = 30.0
#: Longest wait of one `deploy-progress` request for something new.
PROGRESS_WAIT = 60.0


class Handlers:
    def __init__(
        self,
        supervisor: Supervisor,
        plan: ProjectPlan,
        project_root: Path,
        shutdown: Callable[[], None],
        services: Supervisor | None = None,
        *,
        rollout: Rollout | None = None,
    ) -> None:
        self.supervisor = supervisor
        #: The deploys and crons (set by the daemon when it deploys).
        self.rollout = rollout
        self.services = services
        self.plan = plan
        self.project_root = project_root
        self._shutdown = shutdown
        self._commands: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "ping": self.ping,
            "ps": self.ps,
            "start": self.start,
            "stop": self.stop,
            "restart": self.restart,
            "wait": self.wait,
            "logs": self.logs,
            "env": self.env,
            "shutdown": self.shutdown,
            "deploy": self.deploy,
            "redeploy": self.redeploy,
            "deploy-progress": self.deploy_progress,
            "crons": self.crons,
            "cron:run": self.cron_run,
            "cron:cancel": self.cron_cancel,
        }

    def register(self, command: str, handler: Callable[[dict[str, Any]], Awaitable[Any]]) -> None:
        """Answer `command` with `handler` (commands kept in modules of their own: scale, enter)."""
        self._commands[command] = handler

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
            try:  # each once: a key repeated 80000 times must not cost 80000 rows
                chosen = list(dict.fromkeys(InstanceId.parse_key(k) for k in keys))
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
        from sunup.supervisor.answering import answering, answers

        webs = [supervisor.runners[i] for i in chosen if i.group == "web"]
        answered = await answers(webs)
        supervisor.restart(chosen)
        if args.get("wait", True):
            runners = [supervisor.runners[i] for i in chosen]
            settled = (InstanceState.RUNNING, InstanceState.BACKOFF)
            await supervisor.wait_for(lambda: all(r.status.state in settled for r in runners), self._timeout())
            if answered:
                await answering(webs, self._timeout())
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

    # Deploys and crons (sunup.deploy.rollout).

    def _rollout(self) -> Rollout:
        if self.rollout is None:
            raise ProtocolError(FAILED, "this supervisor does not deploy", hint="start it with `sunup up`")
        return self.rollout

    async def deploy(self, args: dict[str, Any]) -> dict[str, Any]:
        """Start a deploy (configuration read again, build, instances replaced, hooks); reply with
        its number at once (`deploy-progress` follows it)."""
        return self._begin(build=True)

    async def redeploy(self, args: dict[str, Any]) -> dict[str, Any]:
        """Start a redeploy (no build, no deploy hook: instances restarted, post_deploy)."""
        return self._begin(build=False)

    def _begin(self, *, build: bool) -> dict[str, Any]:
        try:
            run = self._rollout().begin(build=build)
        except SunupError as exc:
            raise ProtocolError(FAILED, exc.message, exc.hint) from None
        return {"deploy": run.number, "kind": run.kind}

    async def deploy_progress(self, args: dict[str, Any]) -> dict[str, Any]:
        """The messages of deploy `deploy` after the first `after`, waiting up to `wait` s for one."""
        number, after, wait = args.get("deploy"), args.get("after", 0), args.get("wait", 10.0)
        if not isinstance(number, int) or not isinstance(after, int) or after < 0:
            raise ProtocolError(SELECTION, "'deploy' and 'after' must be numbers")
        if not isinstance(wait, (int, float)) or wait < 0:
            raise ProtocolError(SELECTION, "'wait' must be a number of seconds")
        run = self._rollout().runs.get(number)
        if run is None:
            raise ProtocolError(SELECTION, f"no deploy {number} in this supervisor")
        return await run.page(after, min(float(wait), PROGRESS_WAIT))

    async def crons(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """Every cron of the plan (or of `app`): spec, next run, running since, last run."""
        app_name = args.get("app")
        if app_name is not None and self.plan.app(str(app_name)) is None:
            raise ProtocolError(SELECTION, f"no application '{app_name}' in the project")
        schedulers = self._rollout().crons()
        items: list[dict[str, Any]] = []
        for app in self.plan.apps:
            if app_name is not None and app.name != app_name:
                continue
            scheduler = schedulers.get(app.name)
            statuses = {s.name: s for s in scheduler.status()} if scheduler else {}
            for cron in app.crons:
                status = statuses.get(cron.name)
                item = {"app": app.name, "timezone": app.timezone, "scheduled": status is not None}
                if status is not None:
                    item.update(status.to_json())
                else:  # the deploy hooks still run: crons start after them
                    item.update({"name": cron.name, "spec": cron.spec, "next_run": None})
                    item.update({"running_since": None, "queued": False, "last": None})
                items.append(item)
        return items

    def _cron(self, args: dict[str, Any]) -> tuple[CronScheduler, str]:
        """The scheduler running cron `name` (of `app`, needed when several apps have one)."""
        name, app_name = args.get("name"), args.get("app")
        if not isinstance(name, str):
            raise ProtocolError(SELECTION, "'name' must be the name of a cron")
        if app_name is not None and self.plan.app(str(app_name)) is None:
            raise ProtocolError(SELECTION, f"no application '{app_name}' in the project")
        apps = [a for a in self.plan.apps if app_name in (None, a.name) and any(c.name == name for c in a.crons)]
        if not apps:
            known = sorted({c.name for a in self.plan.apps for c in a.crons})
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"crons: {', '.join(known) or 'none'}"
            raise ProtocolError(SELECTION, f"no cron '{name}' in the project", hint=hint)
        if len(apps) > 1:
            raise ProtocolError(
                SELECTION, f"several applications have a cron '{name}'", hint=f"choose one with -A: {apps[0].name}"
            )
        scheduler = self._rollout().crons().get(apps[0].name)
        if scheduler is None:
            raise ProtocolError(
                FAILED, f"the crons of '{apps[0].name}' are not scheduled yet", hint="they start after the deploy hooks"
            )
        return scheduler, name

    async def cron_run(self, args: dict[str, Any]) -> dict[str, Any]:
        """Run cron `name` now (once no other cron runs); with `wait` (default), reply when it ended."""
        scheduler, name = self._cron(args)
        if not args.get("wait", True):
            scheduler.run_now(name)
            return {"app": scheduler.app.name, "name": name, "run": None}
        run = await scheduler.run(name)
        if run is None:
            raise ProtocolError(FAILED, f"the crons stopped (a deploy, or sunup stopping) before cron '{name}' ran")
        return {"app": scheduler.app.name, "name": name, "run": run.to_json()}

    async def cron_cancel(self, args: dict[str, Any]) -> dict[str, Any]:
        """Cancel cron `name`: stop it if it runs (stop command or SIGTERM, SIGKILL after its
        shutdown_timeout), drop it if it waits; `cancelled` says which (None: neither)."""
        scheduler, name = self._cron(args)
        if await scheduler.cancel(name):
            last = next(s.last for s in scheduler.status() if s.name == name)
            return {"app": scheduler.app.name, "name": name, "cancelled": "running", "run": last and last.to_json()}
        found = "queued" if scheduler.dequeue(name) else None
        return {"app": scheduler.app.name, "name": name, "cancelled": found, "run": None}
