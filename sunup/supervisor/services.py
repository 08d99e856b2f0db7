"""The servers of the plan's services, supervised like instances (docs/services.md, spec §5).

    services = await start_services(plan, state, isolation, settings, say=print)
    services.access             # (service, endpoint) -> Credentials, for relationships
    ...
    await services.stop()       # after the instances

Each service is prepared (data folder initialised on first start), its server started by a
`Supervisor` of its own — own cgroup with the instances' process limit (`SUNUP_PIDS_LIMIT`),
PR_SET_PDEATHSIG, restarted with backoff when it dies, its `stop_signal` then SIGKILL after its
`stop_timeout` — then probed until ready and provisioned
(databases, users and grants per endpoint). All services go through these steps in parallel.
A server that ends (or is not ready in time) fails the whole start once every server is stopped,
with `start_failure`: how it ended, a port another program holds, its data folder (left as it
is), the lines it wrote during this start.
A server left by a supervisor that was killed is in a stale cgroup, which `sunup up` clears
before this runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.isolation import Isolation, Limits
from sunup.plan.model import ProjectPlan
from sunup.plan.relationships import AccessMap, Credentials
from sunup.services import provider_for
from sunup.services.location import services_dir
from sunup.services.model import ServiceProcess, ServiceProgress
from sunup.services.probes import wait_ready
from sunup.services.provider import ServiceProvider, start_failure
from sunup.supervisor.events import Event, ExitedEvent
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.launch import InstanceSpec
from sunup.supervisor.lifecycle import GraceExpired, InstanceState
from sunup.supervisor.phases import timing_message
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.statedir import StateDir
from sunup.supervisor.supervisor import Supervisor

#: The "app" of service instances: no application can have this name.
SERVICES_APP = "@services"


def service_instance(name: str) -> InstanceId:
    return InstanceId(SERVICES_APP, name, 0)


@dataclass
class RunningServices:
    """The services' supervisor (None without servers) and the credentials they provisioned."""

    supervisor: Supervisor | None
    access: AccessMap

    async def stop(self) -> None:
        if self.supervisor is not None:
            await self.supervisor.stop_all()
            self.supervisor.close()
            self.supervisor = None


async def start_services(
    plan: ProjectPlan,
    state: StateDir,
    isolation: Isolation,
    settings: SupervisorSettings,
    *,
    say: Callable[[str], None],
    observers: tuple[Callable[[Event], None], ...] = (),
) -> RunningServices:
    """Prepare, start, probe and provision every service of `plan`; stop them all on failure."""
    if not plan.services:
        return RunningServices(None, {})
    began = asyncio.get_running_loop().time()
    folder = services_dir(state.root)
    providers = {service.name: provider_for(service, folder) for service in plan.services}

    def progress(step: ServiceProgress) -> None:
        say(f"{step.service}: {step.message}")

    starts = await asyncio.gather(*(p.prepare(progress) for p in providers.values()))
    specs: list[InstanceSpec] = []
    for provider, start in zip(providers.values(), starts, strict=True):
        for warning in start.warnings:
            say(f"warning: {warning}")
        if start.process is not None:
            specs.append(_spec(start.process, provider, settings.pids_limit))
    supervisor = Supervisor(specs, isolation=isolation, settings=settings, observers=observers)
    running = RunningServices(supervisor, {})
    exits: dict[str, asyncio.Future[int | None]] = {
        spec.id.group: asyncio.get_running_loop().create_future() for spec in specs
    }
    #: The size of each server's log before it starts, and when it first exited (a restart writes more).
    log_starts = {name: _size(providers[name].home.log_file) for name in exits}
    log_ends: dict[str, int] = {}

    def on_exit(event: Event) -> None:
        if isinstance(event, ExitedEvent):
            name = event.instance.group
            waiter = exits.get(name)
            if waiter is not None and not waiter.done():
                log_ends[name] = _size(providers[name].home.log_file)
                status = event.exit.code if event.exit.signal is None else -event.exit.signal
                waiter.set_result(status)

    not_ready: list[tuple[str, RuntimeFailure]] = []

    async def ready(name: str) -> None:
        provider = providers[name]
        try:
            await wait_ready(name, provider.probe, timeout=provider.ready_timeout, exited=exits[name])
        except RuntimeFailure as exc:
            not_ready.append((name, exc))
            raise
        # From the phase's start: its data prepared (initialised the first time), started, ready.
        say(timing_message(f"service {name} ready", asyncio.get_running_loop().time() - began))

    supervisor.observe(on_exit)
    supervisor.start()
    waits = [asyncio.ensure_future(ready(name)) for name in exits]
    try:
        await asyncio.gather(*waits)
        found = await asyncio.gather(*(p.provision() for p in providers.values()))
    except BaseException:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        _kill_at_once(supervisor, [service_instance(name) for name, _ in not_ready])
        await running.stop()
        if not_ready:  # said once every server is stopped: a port still taken is another program's
            name, failure = not_ready[0]
            raise start_failure(providers[name], failure, log_starts[name], log_ends.get(name)) from None
        raise
    finally:
        for waiter in exits.values():
            waiter.cancel()
    running.access = _access(dict(zip(providers, found, strict=True)))
    return running


def _spec(process: ServiceProcess, provider: ServiceProvider, pids_limit: int | None) -> InstanceSpec:
    """The server's spec: its process count limited as an instance's (a forking server stays in
    its cgroup); no CPU or memory limit."""
    return InstanceSpec(
        id=service_instance(process.service),
        start=" ".join(process.argv),
        environment=dict(process.env),
        cwd=process.cwd,
        log_path=provider.home.log_file,
        argv=tuple(process.argv),
        port=state.port if (state := provider.state()) is not None else None,
        stop_signal=int(process.stop_signal),
        grace=process.stop_timeout,
        limits=Limits(pids=pids_limit),
    )


def _kill_at_once(supervisor: Supervisor, failed: list[InstanceId]) -> None:
    """Stop the servers of `failed` without a grace: each is the copy restarted after the failure,
    which never served anyone (and mariadbd loses a SIGTERM that comes while it starts, so a
    graceful stop would take its whole stop timeout)."""
    supervisor.stop(failed)
    for instance in failed:
        runner = supervisor.runners[instance]
        if runner.status.state is InstanceState.STOPPING:
            runner.feed(GraceExpired())


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _access(found: Mapping[str, Mapping[str, Credentials]]) -> AccessMap:
    return {(name, endpoint): creds for name, by_endpoint in found.items() for endpoint, creds in by_endpoint.items()}
