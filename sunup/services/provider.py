"""The seam between sunup and one engine: the `ServiceProvider` protocol and its shared machinery.

A provider is bound to one service of the plan and its folder in sunup's state. A supervisor
drives it in four separate steps, so that it owns the server process itself:

    start = await provider.prepare(progress)    # binary check, ports, first-start initialisation
    <run start.process (argv, env, cwd) in the foreground; stop it with its stop_signal>
    await wait_ready(name, provider.probe, timeout=provider.ready_timeout, exited=...)
    credentials = await provider.provision()    # idempotent: schemas, users, grants

`credentials()` tells the same credentials from the state file alone, without the server.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Protocol

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure
from sunup.plan.model import ServicePlan
from sunup.plan.relationships import Credentials
from sunup.services.binaries import Binary, version_warning
from sunup.services.model import Progress, ServiceHome, ServiceProcess, ServiceProgress, ServiceStart, no_progress
from sunup.services.secret import password_for, project_secret
from sunup.services.state import LOOPBACK, ServiceState, load_state, port_is_free, save_state, settle_ports
from sunup.services.tools import tail

#: The marker that a data folder was initialised completely (kept beside it, not inside).
INITIALISED_MARKER = "initialised"


class ServiceProvider(Protocol):
    """What sunup needs from one engine (see the module docstring for the order of calls)."""

    service: ServicePlan
    home: ServiceHome
    #: Seconds a first start (or a start after a crash) may take to become ready.
    ready_timeout: float

    def check(self) -> Binary | None:
        """The server program and its version; `RuntimeFailure` naming the package when missing."""
        ...

    async def prepare(self, progress: Progress = no_progress) -> ServiceStart:
        """Ports, configuration files, and the data folder (initialised on first start)."""
        ...

    async def probe(self) -> str | None:
        """One readiness attempt: None when the server serves clients, else why not."""
        ...

    async def provision(self) -> Mapping[str, Credentials]:
        """Create what the configuration asks for (idempotent); credentials by endpoint."""
        ...

    def credentials(self) -> Mapping[str, Credentials]:
        """Credentials by endpoint from the saved state ({} before the first start)."""
        ...

    def state(self) -> ServiceState | None: ...


class ServerProvider:
    """Shared machinery of providers that run a server: state, ports, passwords, first start."""

    engine: ClassVar[str]
    #: The Debian package holding the server.
    package: ClassVar[str]
    #: Types numbered like the local engine (their versions are compared).
    same_versions: ClassVar[frozenset[str]]
    port_names: ClassVar[tuple[str, ...]] = ("main",)
    ready_timeout: float = 60.0

    def __init__(self, service: ServicePlan, services_dir: Path) -> None:
        self.service = service
        self.services_dir = services_dir
        self.home = ServiceHome.of(services_dir, service.name)

    # -- to be provided by each engine -----------------------------------------------------

    def check(self) -> Binary:
        raise NotImplementedError

    async def initialise(self, state: ServiceState, progress: Progress) -> None:
        """Make a fresh data folder in `self.home.data` (which does not exist yet)."""
        raise NotImplementedError

    def process(self, state: ServiceState) -> ServiceProcess:
        raise NotImplementedError

    async def ping(self, state: ServiceState) -> str | None:
        raise NotImplementedError

    def endpoint_credentials(self, state: ServiceState) -> dict[str, Credentials]:
        raise NotImplementedError

    async def provision(self) -> Mapping[str, Credentials]:
        return self.credentials()

    # -- shared ------------------------------------------------------------------------------

    def password(self, endpoint: str) -> str:
        return password_for(project_secret(self.services_dir), self.service.name, endpoint)

    def state(self) -> ServiceState | None:
        return load_state(self.home)

    def require_state(self) -> ServiceState:
        state = self.state()
        if state is None:
            raise RuntimeFailure(f"service '{self.service.name}' has never been started")
        return state

    def credentials(self) -> Mapping[str, Credentials]:
        state = self.state()
        return self.endpoint_credentials(state) if state else {}

    def sql_credentials(self, state: ServiceState) -> dict[str, Credentials]:
        """One user per endpoint, named after it, with its default schema as path."""
        return {
            e.name: Credentials(LOOPBACK, state.port, e.name, self.password(e.name), e.path)
            for e in self.service.endpoints
        }

    async def probe(self) -> str | None:
        state = self.state()
        if state is None:
            return f"service '{self.service.name}' has never been started"
        return await self.ping(state)

    @property
    def initialised(self) -> bool:
        return (self.home.root / INITIALISED_MARKER).exists()

    def emit(self, progress: Progress, step: str, message: str) -> None:
        progress(ServiceProgress(self.service.name, step, message))

    async def prepare(self, progress: Progress = no_progress) -> ServiceStart:
        binary = self.check()
        if self.initialised and not self.home.data.exists():
            raise RuntimeFailure(
                f"service '{self.service.name}': its data folder {self.home.data} is missing",
                hint=f"put it back to keep its data; to start empty, remove {self.home.root} (sunup makes it anew)",
            )
        warnings: list[str] = []
        warning = version_warning(self.service.name, self.service.type, self.engine, binary, self.same_versions)
        if warning:
            warnings.append(warning)
        previous = self.state()
        if previous is not None and not port_is_free(previous.port) and await self.ping(previous) is None:
            raise RuntimeFailure(
                f"service '{self.service.name}' already runs on port {previous.port} "
                "(a server that a previous sunup left running?)",
                hint=f"stop that server first; its data folder is {self.home.data}",
            )
        ports, port_warnings = settle_ports(self.service.name, previous.ports if previous else None, self.port_names)
        warnings.extend(port_warnings)
        state = ServiceState(
            kind=self.service.kind,
            type=self.service.type,
            ports=ports,
            version=binary.version,
            initialised=self.initialised,
            endpoints=previous.endpoints if previous else (),
        )
        self.home.root.mkdir(parents=True, exist_ok=True)
        self.home.run.mkdir(parents=True, exist_ok=True)
        if not self.initialised:
            if self.home.data.exists():
                self.emit(progress, "cleanup", f"removing the unfinished data folder {self.home.data}")
                shutil.rmtree(self.home.data)
            self.emit(progress, "initialise", f"initialising {self.engine} {binary.version} in {self.home.data}")
            try:
                await self.initialise(state, progress)
            except RuntimeFailure as exc:
                again = f"the next `sunup up` removes the unfinished {self.home.data} and starts again"
                raise RuntimeFailure(exc.message, hint="\n".join(filter(None, (exc.hint, again)))) from None
            write_atomically(self.home.root / INITIALISED_MARKER, binary.version + "\n")
            self.emit(progress, "initialised", f"{self.engine} data folder ready")
            state = state.evolve(initialised=True)
        save_state(self.home, state)
        return ServiceStart(self.process(state), tuple(warnings))


def start_failure(
    provider: ServiceProvider, failure: RuntimeFailure, log_start: int = 0, log_end: int | None = None
) -> RuntimeFailure:
    """`failure` (a server that was not ready) with its cause, its data folder and the end of its log.

    Call it once the server is stopped: a port of the service that is still taken is then held
    by another program, which is said. The log is `provider.home.log_file`, read from `log_start`
    (its size before this start) up to `log_end` when given (its size when the server exited,
    before anything restarted it). The data folder is named and left as it is: a damaged one is
    never removed nor repaired.
    """
    state = provider.state()
    taken = [port for port in (state.ports.values() if state else ()) if not port_is_free(port)]
    message = failure.message
    hints = [failure.hint] if failure.hint else []
    if taken:
        message += f": port {taken[0]} is in use by another program"
        hints.append("free the port, or run `sunup up` again: it picks another port when the port is still taken")
    hints.append(f"its data folder is left as it is: {provider.home.data}")
    log_file = provider.home.log_file
    try:
        with log_file.open("rb") as log:
            log.seek(log_start)
            size = max(log_end - log_start, 0) if log_end is not None else -1
            text = log.read(size).decode("utf-8", "replace")
    except OSError:
        text = ""
    if text.strip():
        hints.append(f"last lines of {log_file}:" + "".join(f"\n  {line}" for line in tail(text).splitlines()))
    return RuntimeFailure(message, hint="\n".join(hints).replace("\n", "\n    "))
