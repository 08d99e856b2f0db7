"""One supervisor process for one project: the lock, isolation, the instances, the control socket.

`serve` starts the plan's services first (`sunup.supervisor.services`: prepared, supervised,
ready and provisioned), gives each instance the credentials of its relationships, and stops the
services after the instances. It runs until SIGTERM, SIGINT or SIGHUP (the handlers only set an
event; the loop does the work), or a `shutdown` request; it then stops every instance in
parallel and returns. A second signal during the stop skips the rest of the grace (SIGKILL now).
Whatever was set up is undone in reverse order, also when starting fails half-way. Used in the
foreground by `sunup up`, and in the background through `python -m sunup.supervisor` by
`sunup up -d`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sunup.control.handlers import Handlers
from sunup.control.server import ControlServer
from sunup.isolation import open_isolation
from sunup.plan.model import GroupPlan, ProjectPlan
from sunup.supervisor.console import Console
from sunup.supervisor.events import Event, StateChangedEvent
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.launch import ExtraEnvironment, instance_specs, no_extra_environment
from sunup.supervisor.lifecycle import GraceExpired, InstanceState
from sunup.supervisor.logcapture import LogFile, Timestamps
from sunup.supervisor.services import start_services
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.shims import write_shims
from sunup.supervisor.statedir import StateDir, SupervisorLock
from sunup.supervisor.supervisor import Supervisor

if TYPE_CHECKING:
    from sunup.plan.relationships import AccessMap

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class EventLog:
    """An observer writing one timestamped line per event to supervisor.log (trimmed like app.log)."""

    def __init__(self, path: Path, with_app: bool, limit: int) -> None:
        self._file = LogFile(path, limit)
        self._with_app = with_app
        self._stamps = Timestamps()

    def say(self, text: str) -> None:
        self._file.write(self._stamps.prefix() + text.encode() + b"\n")

    def __call__(self, event: Event) -> None:
        self.say(f"{event.instance.label(with_app=self._with_app)}: {event.describe()}")

    def close(self) -> None:
        self._file.close()


async def serve(
    plan: ProjectPlan,
    project_root: Path,
    *,
    state: StateDir,
    settings: SupervisorSettings,
    foreground: bool,
    say: Callable[[str], None],
    ready: Callable[[], None] = lambda: None,
    extra_environment: ExtraEnvironment = no_extra_environment,
    host_environment: Mapping[str, str] | None = None,
    deployment: DeploymentSteps | None = None,
) -> None:
    """Supervise every instance of `plan` until told to stop. `say` prints one message line.

    With a `deployment`, its build comes first (instances run in its app folders, with its
    toolchain's environment), and its hooks and crons run once the instances are started; it is
    closed (crons stopped) before the instances stop.
    """
    lock = SupervisorLock(state)
    lock.acquire()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    stopping: list[Supervisor] = []

    def on_signal() -> None:
        if done.is_set():
            # A second signal: no more grace.
            for supervisor in stopping:
                for runner in supervisor.runners.values():
                    if runner.status.state is InstanceState.STOPPING:
                        runner.feed(GraceExpired())
        done.set()

    async with contextlib.AsyncExitStack() as cleanup:
        cleanup.callback(lock.release)
        log = EventLog(state.supervisor_log, len(plan.apps) > 1, settings.log_limit)
        cleanup.callback(log.close)
        cleanup.callback(log.say, "supervisor stopped")
        log.say(f"supervisor {os.getpid()} starting")
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_signal)
            cleanup.callback(loop.remove_signal_handler, sig)
        isolation = open_isolation(state.root)
        cleanup.callback(isolation.close)
        if isolation.warning:
            say(f"warning: {isolation.warning}")
        stale = isolation.clear_stale()
        if stale:
            say(f"cleared {', '.join(stale)}: left by a previous sunup that did not stop")
        write_shims(state.bin, sys.executable)
        state.run.mkdir(exist_ok=True)
        if deployment is not None:
            await deployment.build()
            extra_environment = _with_toolchain(deployment, extra_environment)
        services = await start_services(plan, state, isolation, settings, say=say, observers=(log,))
        cleanup.push_async_callback(services.stop)
        if plan.services:
            extra_environment = _with_relationships(plan, services.access, extra_environment, say)
        specs = instance_specs(
            plan,
            project_root,
            state,
            host_environment=os.environ if host_environment is None else host_environment,
            extra_environment=extra_environment,
            app_dirs=deployment.app_dirs() if deployment is not None else None,
        )
        console = Console([s.id for s in specs]) if foreground else None
        observers: list[Callable[[Event], None]] = [log]
        if console is not None:
            observers.append(_console_filter(console))
        supervisor = Supervisor(specs, isolation=isolation, settings=settings, observers=observers, console=console)
        stopping.append(supervisor)
        cleanup.callback(supervisor.close)
        cleanup.push_async_callback(supervisor.stop_all)
        handlers = Handlers(supervisor, plan, project_root, done.set, services=services.supervisor)
        server = ControlServer(state.socket, handlers)
        await server.start()
        cleanup.push_async_callback(server.close)
        if not done.is_set():
            supervisor.start()
            for spec in specs:
                if spec.port is not None:
                    say(f"{spec.id.label(with_app=len(plan.apps) > 1)} listens on http://127.0.0.1:{spec.port}")
            ready()
            if deployment is not None:
                webs = [s for s in specs if s.id.group == "web" and s.id.index == 0]
                hooks = asyncio.create_task(
                    deployment.after_start({s.id.app: s.environment for s in webs}, {s.id.app: s.cwd for s in webs})
                )
                finish = _Finish(deployment, hooks)
                cleanup.push_async_callback(finish)
            await done.wait()
            if deployment is not None:
                await finish()
        log.say("stopping every instance")
        await supervisor.stop_all()


class DeploymentSteps(Protocol):
    """What a deployment does around the instances (`sunup.deploy.deployment.Deployment`)."""

    async def build(self) -> None: ...

    def app_dirs(self) -> Mapping[str, Path]: ...

    def environment(self, group: GroupPlan) -> Mapping[str, str]: ...

    async def after_start(
        self, web_environment: Mapping[str, Mapping[str, str]], web_cwd: Mapping[str, Path]
    ) -> None: ...

    async def close(self) -> None: ...


class _Finish:
    """Ends a deployment once: its hooks cancelled if they still run, then `close()` (crons)."""

    def __init__(self, deployment: DeploymentSteps, hooks: asyncio.Task[None]) -> None:
        self._deployment = deployment
        self._hooks: asyncio.Task[None] | None = hooks

    async def __call__(self) -> None:
        hooks, self._hooks = self._hooks, None
        if hooks is None:
            return
        hooks.cancel()
        try:
            await hooks
        except asyncio.CancelledError:
            pass
        except Exception:  # the stop goes on whatever the hooks did
            traceback.print_exc()
        await self._deployment.close()


def _with_toolchain(deployment: DeploymentSteps, extra: ExtraEnvironment) -> ExtraEnvironment:
    """`extra` plus what the app's build toolchain adds (its PATH goes first)."""

    def environment(group: GroupPlan, instance: InstanceId) -> Mapping[str, str]:
        return {**deployment.environment(group), **extra(group, instance)}

    return environment


def _with_relationships(
    plan: ProjectPlan, access: AccessMap, extra: ExtraEnvironment, say: Callable[[str], None]
) -> ExtraEnvironment:
    """`extra` plus each instance's PLATFORM_RELATIONSHIPS and service variables (spec §5)."""
    from sunup.plan.relationships import relationships_environment

    said: set[str] = set()

    def environment(group: GroupPlan, instance: InstanceId) -> Mapping[str, str]:
        found = relationships_environment(group, plan, access)
        for warning in found.warnings:
            if warning not in said:
                said.add(warning)
                say(f"warning: {warning}")
        return {**found.variables, **extra(group, instance)}

    return environment


def _console_filter(console: Console) -> Callable[[Event], None]:
    """Show state changes to running / backoff / stopped and every other event; skip noise."""

    def observe(event: Event) -> None:
        if isinstance(event, StateChangedEvent) and event.status.state is InstanceState.STARTING:
            return
        console.event(event)

    return observe
