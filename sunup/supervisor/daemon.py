"""One supervisor process for one project: the lock, isolation, the instances, the control socket.

`serve` starts the project in phases (`sunup.supervisor.phases`), each undone in the reverse
order: the build; the plan's services (`sunup.supervisor.services`: prepared, supervised, ready
and provisioned); the instances, made with the credentials of their relationships and
PLATFORM_ROUTES; the router in front of them (`sunup.supervisor.routing`); the control socket;
then the instances are started. Each instance runs in its mount namespace (`sunup.mounts`); `tmp`
mounts are wiped at the start and at the end; `enter` (for `sunup ssh`) and `scale` (instance
counts changed while it runs) are answered by `sunup.control.sessions` and `.scaling`. It runs
until SIGTERM or SIGINT (the handlers only set an event; the loop does the work), or a
`shutdown` request; it then stops every instance in parallel and returns. A second signal
during the stop skips the rest of the grace (SIGKILL now); a signal during the build or the
services' start interrupts them. SIGHUP stops the foreground supervisor (its terminal is gone)
and makes the background one deploy (read the configuration again and apply it). Whatever was set up is undone in
reverse order, also when starting fails half-way. Used in the foreground by `sunup up`, and in
the background through `python -m sunup.supervisor` by `sunup up -d`.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sunup.control.handlers import Handlers
from sunup.control.scaling import Scaling
from sunup.control.server import ControlServer
from sunup.control.sessions import ShellSessions
from sunup.dashboard import Dashboard
from sunup.deploy.deployment import Deployment
from sunup.deploy.progress import Relay
from sunup.deploy.rollout import Deployments, DeploymentSteps, Release, Rollout, project_loader
from sunup.errors import SunupError
from sunup.isolation import Isolation, open_isolation
from sunup.localsettings import read_settings
from sunup.mounts.helper import compile_helper, start_watchdog, stop_watchdog
from sunup.mounts.layout import open_layout
from sunup.php import is_php
from sunup.php.instances import PhpInstances, with_php
from sunup.plan.model import GroupPlan, ProjectPlan
from sunup.supervisor.child import raise_open_file_limit
from sunup.supervisor.console import Console
from sunup.supervisor.events import Event, StateChangedEvent
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.launch import ExtraEnvironment, SpecMaker, no_extra_environment
from sunup.supervisor.lifecycle import GraceExpired, InstanceState
from sunup.supervisor.logcapture import LogFile, Timestamps
from sunup.supervisor.peers import write_peers
from sunup.supervisor.phases import Phase, Timings, run_phases, timing_message
from sunup.supervisor.presence import guard
from sunup.supervisor.routing import RouterOptions, prepare_routing
from sunup.supervisor.services import RunningServices, start_services
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.shims import write_shims
from sunup.supervisor.statedir import StateDir, SupervisorLock
from sunup.supervisor.supervisor import Supervisor

if TYPE_CHECKING:
    from sunup.plan.relationships import AccessMap

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


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
    deployments: Deployments | None = None,
    router: RouterOptions | None = None,
    terminal: str | None = None,
) -> None:
    """Supervise every instance of `plan` until told to stop. `say` prints one message line.

    With a `deployment` (or `deployments`, which makes one per plan and lets `sunup deploy`
    replace the instances: `sunup.deploy.rollout`), its build comes first (instances run in its
    app folders, with its toolchain's environment), and its hooks and crons run once the
    instances are started; it is closed (crons stopped) before the instances stop.
    """
    lock = SupervisorLock(state)
    lock.acquire()
    # `kill -USR2 <supervisor>` writes the stack of every thread to its log (supervisor.log in
    # the background): what a supervisor that seems stuck is doing, without stopping it.
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    stopping: list[Supervisor] = []  # the instances' supervisor (replaced by each deploy)
    servers: list[Supervisor] = []  # the services' supervisor, once they run
    hurry: list[bool] = []  # [True] after a second signal

    def on_signal() -> None:
        if done.is_set():
            # A second signal: no more grace, for the instances and then for the services.
            hurry[:] = [True]
            for supervisor in (*stopping, *servers):
                _kill_stopping(supervisor)
        done.set()

    reload: list[Callable[[], None]] = []  # what SIGHUP does in the background, once running

    def on_hangup() -> None:
        if foreground:  # the terminal is gone: stop, as on Ctrl-C
            on_signal()
        elif done.is_set() or not reload:
            log.say("SIGHUP ignored: the supervisor is " + ("stopping" if done.is_set() else "starting"))
        else:
            reload[0]()

    async with contextlib.AsyncExitStack() as cleanup:
        cleanup.callback(gc.enable)
        cleanup.callback(lock.release)
        log = EventLog(state.supervisor_log, len(plan.apps) > 1, settings.log_limit)
        cleanup.callback(log.close)
        cleanup.callback(log.say, "supervisor stopped")
        log.say(f"supervisor {os.getpid()} starting")
        raised = raise_open_file_limit()
        if raised is not None:
            log.say(f"open files limit raised from {raised[0]} to {raised[1]} (instances and services get {raised[0]})")
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_signal)
            cleanup.callback(loop.remove_signal_handler, sig)
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
        cleanup.callback(loop.remove_signal_handler, signal.SIGHUP)
        isolation = open_isolation(state.root)
        cleanup.callback(isolation.close)
        if isolation.warning:
            say(f"warning: {isolation.warning}")
        stale = isolation.clear_stale()
        if stale:
            say(f"cleared {', '.join(stale)}: left by a previous sunup that did not stop")
        # If this process is killed, its watchdog kills every process of its cgroups (instances'
        # background children, servers, hooks): nothing runs on unsupervised. Stopped last.
        helper = compile_helper(state.root) if isolation.tops else None
        watchdog = start_watchdog(helper, isolation.tops) if helper is not None else None
        if watchdog is not None:
            cleanup.callback(stop_watchdog, watchdog)
        write_shims(state.bin, sys.executable)
        state.run.mkdir(exist_ok=True)
        layout = open_layout(state.root, plan)
        if layout.warning:
            say(f"warning: {layout.warning}")
        layout.wipe_tmp()
        cleanup.callback(layout.wipe_tmp)  # after the instances stop (`tmp` is wiped at down)
        dashboard = Dashboard(state.root)  # its server starts in the dashboard phase
        relay = Relay(dashboard.hub.hearing(say))  # what `sunup deploy` hears, besides `say`
        if deployments is not None:
            deployments = _isolated(deployments, isolation)
        if deployment is None and deployments is not None:
            deployment = deployments(plan, relay)
        routing = prepare_routing(
            plan,
            project_root,
            state,
            router if router is not None else RouterOptions.from_environment(os.environ),
            isolation=isolation,
            settings=settings,
            say=say,
            observers=(log,),
        )
        services = RunningServices(None, {})
        # Set by the instances phase: the rollout (its release replaced by each deploy) and the
        # control handlers.
        made: dict[str, Any] = {}

        async def build() -> None:
            if deployment is not None:
                await deployment.build()

        async def start_services_phase() -> None:
            nonlocal services
            observers = (log, dashboard.hub.observe_services)
            services = await start_services(plan, state, isolation, settings, say=say, observers=observers)
            if services.supervisor is not None:
                servers.append(services.supervisor)

        async def stop_services() -> None:
            if hurry and services.supervisor is not None:
                services.supervisor.stop()
                _kill_stopping(services.supervisor)
            await services.stop()

        def launch(plan: ProjectPlan, deployment: DeploymentSteps | None, port: Callable[[], int]) -> Supervisor:
            extra = extra_environment
            if deployment is not None:
                extra = _with_toolchain(deployment, extra)
            if plan.services:
                extra = _with_relationships(plan, services.access, extra, relay)
            if routing is not None:
                extra = _with_routes(routing.environment(plan), extra)
            if any(is_php(app.type) for app in plan.apps):
                extra = with_php(PhpInstances(state.root, state.bin, plan, say), extra)
            maker = SpecMaker.for_host(
                project_root,
                state,
                host_environment=os.environ if host_environment is None else host_environment,
                extra_environment=extra,
                app_dirs=deployment.app_dirs() if deployment is not None else None,
                port=port,
                layout=layout,
                pids_limit=settings.pids_limit,
            )
            specs = maker.specs(plan)
            write_peers(state.root, specs)
            console = Console([s.id for s in specs]) if foreground else None
            observers: list[Callable[[Event], None]] = [log, dashboard.hub.observe]
            if console is not None:
                observers.append(_console_filter(console))
            return Supervisor(
                specs, isolation=isolation, settings=settings, observers=observers, console=console, spec_maker=maker
            )

        def switch(release: Release) -> None:
            handlers: Handlers = made["handlers"]
            handlers.supervisor, handlers.plan = release.supervisor, release.plan
            stopping[:] = [release.supervisor]
            if routing is not None:
                routing.follow(release.supervisor, release.plan, _app_dirs(release.deployment))

        async def prepare_instances() -> None:
            """The first release's instances made (specs, ports), not started yet; the handlers."""
            rollout = Rollout(
                plan,
                deployment,
                launch=launch,
                relay=relay,
                deployments=deployments,
                load=project_loader(project_root),
                on_switch=switch,
                settings=lambda: read_settings(state.root),
            )
            made["rollout"] = rollout
            stopping.append(rollout.supervisor)

            def deploy_on_hangup() -> None:
                try:
                    run = rollout.begin(build=True)
                except SunupError as exc:
                    log.say(f"SIGHUP ignored: {exc.message}")
                else:
                    log.say(f"SIGHUP: deploy {run.number} reads the configuration again and applies it")

            reload.append(deploy_on_hangup)
            handlers = Handlers(
                rollout.supervisor, plan, project_root, done.set, services=services.supervisor, rollout=rollout
            )
            made["handlers"] = handlers
            sessions = ShellSessions(handlers)
            cleanup.callback(sessions.close)
            handlers.register("enter", sessions.enter)

            def rescaled(new_plan: ProjectPlan) -> None:
                rollout.release.plan = new_plan  # a redeploy starts the scaled counts again

            handlers.register("scale", Scaling(handlers, state.root, layout, on_plan=rescaled))

        async def stop_instances() -> None:
            log.say("stopping every instance")
            await made["rollout"].close()

        async def close_instances() -> None:
            """The release made but not started when a stop came between (else a no-op: done)."""
            await made["rollout"].close()

        async def start_router() -> None:
            if routing is None:
                return
            await routing.start(made["rollout"].supervisor, plan, _app_dirs(deployment))
            for url in routing.urls():
                say(f"router: {url}")

        async def stop_router() -> None:
            if routing is not None:
                await routing.stop()

        async def start_dashboard() -> None:
            await dashboard.start(made["handlers"], routing.urls if routing is not None else list)

        server: list[ControlServer] = []

        async def start_control() -> None:
            server.append(ControlServer(state.socket, made["handlers"]))
            await server[0].start()
            # A deleted project (its lock and socket gone with it) stops all as SIGTERM does.
            cleanup.callback(
                guard(project_root, state.root, state.lock, stop=on_signal, say=say, log=log.say, terminal=terminal)
            )

        async def stop_control() -> None:
            await server[0].close()

        async def start_instances() -> None:
            made["rollout"].start()

        # In this order; each stopped in the reverse order once started (`sunup.supervisor.phases`):
        # the instances, then the control socket, the router, the services.
        phases = [
            Phase("build", build),
            Phase("services", start_services_phase, stop_services),
            Phase("instances", prepare_instances, close_instances),
            Phase("router", start_router, stop_router),
            Phase("dashboard", start_dashboard, dashboard.stop),
            Phase("control", start_control, stop_control),
            # Stopped first: a deploy it interrupts is reported while the socket still answers.
            Phase("start", start_instances, stop_instances),
        ]
        timings = Timings()
        # What `sunup up` shows of the phases (each service's readiness is said by the services').
        shown = (
            {"build": "build", "start": "instances running"}
            if deployment is not None
            else {"start": "instances running"}
        )

        def on_phase(name: str, seconds: float) -> None:
            if name in shown:
                say(timing_message(shown[name], seconds))

        if not await run_phases(phases, cleanup, done, say=log.say, timings=timings, on_phase=on_phase):
            return
        log.say(f"started: {timings.describe()}")
        gc.enable()  # off from `sunup up` until here (`up`): a start makes objects, no garbage
        ready()
        await done.wait()


def _kill_stopping(supervisor: Supervisor) -> None:
    """SIGKILL now to each instance of `supervisor` that is stopping (its grace skipped)."""
    for runner in supervisor.runners.values():
        if runner.status.state is InstanceState.STOPPING:
            runner.feed(GraceExpired())


def _isolated(deployments: Deployments, isolation: Isolation) -> Deployments:
    """`deployments`, whose builds run in groups of `isolation` (`Deployment.isolation`)."""

    def make(plan: ProjectPlan, say: Callable[[str], None]) -> DeploymentSteps:
        made = deployments(plan, say)
        if isinstance(made, Deployment):
            made.isolation = isolation
        return made

    return make


def _with_toolchain(deployment: DeploymentSteps, extra: ExtraEnvironment) -> ExtraEnvironment:
    """`extra` plus what the app's build toolchain adds (its PATH goes first)."""

    def environment(group: GroupPlan, instance: InstanceId) -> Mapping[str, str]:
        return {**deployment.environment(group), **extra(group, instance)}

    return environment


def _app_dirs(deployment: DeploymentSteps | None) -> Mapping[str, Path]:
    return deployment.app_dirs() if deployment is not None else {}


def _with_routes(routes: Mapping[str, str], extra: ExtraEnvironment) -> ExtraEnvironment:
    """`extra` plus PLATFORM_ROUTES (spec §10: every instance, at run time)."""

    def environment(group: GroupPlan, instance: InstanceId) -> Mapping[str, str]:
        return {**routes, **extra(group, instance)}

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
