"""The router phase of a supervisor: every request of the project enters through it (spec §10).

    routing = Routing.prepare(plan, project_root, state, ...)   # address, certificate
    routing.environment                     # PLATFORM_ROUTES, for every instance and shell
    await routing.start(release_supervisor, plan)   # hold server, nginx, after the services
    routing.follow(new_supervisor, new_plan)        # at each deploy: the new instances served
    await routing.stop()                    # after the instances

The site (what nginx serves) is made from the plan and the specs of the running release: each
app's folder on the host, where its web instances listen, the web mounts under a location's
root. The hold server answers for an app while its web instances do not (`sunup.router.hold`).
Without nginx on the machine there is no router: a warning says so, and the instances are
reached at their own ports as before.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sunup.plan.model import ProjectPlan
from sunup.plan.routes import LocalRoute, local_routes, platform_routes_variable, primary_route
from sunup.router.address import RouterAddress, router_address
from sunup.router.hold import DEFAULT_HOLD, Down, HoldServer
from sunup.router.runner import Router, find_nginx
from sunup.router.site import AppSite, RouterSite, route_site, socket_folder
from sunup.supervisor.events import Event, StateChangedEvent
from sunup.supervisor.launch import InstanceSpec, app_dir
from sunup.supervisor.lifecycle import InstanceState
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.statedir import StateDir
from sunup.supervisor.supervisor import Supervisor

if TYPE_CHECKING:
    from sunup.isolation import Isolation


#: Seconds past an instance's stop grace during which a reset connection to it counts as one
#: sunup's stop caused.
STOPPED_MARGIN = 10.0


@dataclass(frozen=True, slots=True)
class RouterOptions:
    """What `sunup up` may change: ports and domain (kept), the hold time."""

    http_port: int | None = None
    https_port: int | None = None
    domain: str | None = None
    hold: float = DEFAULT_HOLD
    #: False: no router at all (SUNUP_ROUTER=0).
    enabled: bool = True

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], **given: object) -> RouterOptions:
        hold = given.get("hold")
        if hold is None and environ.get("SUNUP_HOLD_TIMEOUT"):
            hold = float(environ["SUNUP_HOLD_TIMEOUT"])
        return cls(
            http_port=given.get("http_port"),  # type: ignore[arg-type]
            https_port=given.get("https_port"),  # type: ignore[arg-type]
            domain=given.get("domain"),  # type: ignore[arg-type]
            hold=DEFAULT_HOLD if hold is None else float(hold),  # type: ignore[arg-type]
            enabled=environ.get("SUNUP_ROUTER", "1").lower() not in ("0", "no", "off", "false"),
        )


class Routing:
    def __init__(
        self,
        plan: ProjectPlan,
        project_root: Path,
        state: StateDir,
        address: RouterAddress,
        *,
        nginx: str | None,
        isolation: Isolation,
        settings: SupervisorSettings,
        hold: float,
        say: Callable[[str], None],
        observers: tuple[Callable[[Event], None], ...] = (),
    ) -> None:
        self.plan = plan
        self.project_root = project_root
        self.state = state
        self.address = address
        self.routes: tuple[LocalRoute, ...] = local_routes(plan.route_plans, address)
        self._say = say
        self._nginx = nginx
        self._isolation = isolation
        self._settings = settings
        self._observers = observers
        self._hold_time = hold
        self.router: Router | None = None
        self.hold: HoldServer | None = None
        self._supervisor: Supervisor | None = None
        self._app_dirs: Mapping[str, Path] = {}
        #: Web instances' addresses sunup stopped, until when that counts (`_stopped_by_sunup`).
        self._stopping: dict[str, float] = {}

    @property
    def folder(self) -> Path:
        return self.state.root / "router"

    @property
    def sockets(self) -> Path:
        """Where the hold server and the apps' web servers listen: the router's folder, or for a
        project too deep for a unix socket's path, ``$TMPDIR/sunup-<uid>/<digest>``."""
        digest = hashlib.sha256(str(self.state.root).encode()).hexdigest()[:16]
        short = Path(tempfile.gettempdir()) / f"sunup-{os.geteuid()}" / digest
        return socket_folder(self.folder, [app.name for app in self.plan.apps], short)

    @property
    def logs(self) -> Path:
        return self.state.root / "logs" / "router"

    def environment(self, plan: ProjectPlan) -> Mapping[str, str]:
        """What every instance, hook, cron and shell of `plan` gets (never the build)."""
        return {"PLATFORM_ROUTES": platform_routes_variable(local_routes(plan.route_plans, self.address))}

    def urls(self) -> list[str]:
        """The project's URLs, the primary first."""
        primary = primary_route(self.routes)
        found = [r.url for r in self.routes if r.route.type == "upstream"]
        if primary is not None and primary.url in found:
            found.remove(primary.url)
            found.insert(0, primary.url)
        return found

    async def start(self, supervisor: Supervisor, plan: ProjectPlan, app_dirs: Mapping[str, Path]) -> None:
        """The hold server, then nginx serving `supervisor`'s web instances."""
        if self._nginx is None:
            return
        self._supervisor, self.plan, self._app_dirs = supervisor, plan, app_dirs
        self._watch(supervisor)
        self.hold = HoldServer(
            self._socket_folder() / "hold.sock",
            self._addresses,
            self._describe,
            hold=self._hold_time,
            stopped_by_sunup=self._stopped_by_sunup,
        )
        await self.hold.start()
        self.router = Router(self._nginx, isolation=self._isolation, settings=self._settings, observers=self._observers)
        try:
            await self.router.start(self._site())
        except BaseException:
            self.router = None
            await self.stop()  # the hold server
            raise

    def follow(self, supervisor: Supervisor, plan: ProjectPlan, app_dirs: Mapping[str, Path]) -> None:
        """Serve a new release (a deploy): nginx reloaded when what it serves changed."""
        self._supervisor, self.plan, self._app_dirs = supervisor, plan, app_dirs
        self.routes = local_routes(plan.route_plans, self.address)
        self._watch(supervisor)
        if self.router is not None:
            self.router.update(self._site())

    async def stop(self) -> None:
        if self.router is not None:
            await self.router.stop()
            self.router = None
        if self.hold is not None:
            await self.hold.close()
            self.hold = None
        if self.sockets != self.folder:
            shutil.rmtree(self.sockets, ignore_errors=True)

    def _socket_folder(self) -> Path:
        folder = self.sockets
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if folder != self.folder:
            os.chmod(folder.parent, 0o700)  # only this user reaches the project's sockets
        return folder

    # -- what the hold server asks ------------------------------------------------------------

    def _watch(self, supervisor: Supervisor) -> None:
        """Note each web instance sunup stops (`_stopped_by_sunup`)."""

        def observe(event: Event) -> None:
            if (
                isinstance(event, StateChangedEvent)
                and event.instance.group == "web"
                and event.status.state is InstanceState.STOPPING
            ):
                address = _address(supervisor.runners[event.instance].spec)
                if address is not None:
                    self._stopping[address] = time.monotonic() + self._settings.grace + STOPPED_MARGIN

        supervisor.observe(observe)

    def _stopped_by_sunup(self, address: str) -> bool:
        """Whether sunup stopped the instance at `address` a moment ago (it was told to finish
        its requests: one it had not taken yet was reset, not half-done)."""
        until = self._stopping.get(address)
        return until is not None and time.monotonic() < until

    def _webs(self, app: str) -> list[InstanceSpec]:
        if self._supervisor is None:
            return []
        return [r.spec for i, r in self._supervisor.runners.items() if i.app == app and i.group == "web"]

    def _addresses(self, app: str) -> list[str]:
        """Where the app's web instances that are not being stopped listen (one being stopped may
        still accept a connection, and then close it unanswered)."""
        if self._supervisor is None:
            return []
        runners = self._supervisor.runners
        return [
            address
            for spec in self._webs(app)
            if runners[spec.id].status.state is not InstanceState.STOPPING and (address := _address(spec)) is not None
        ]

    def _describe(self, app: str) -> Down:
        with_app = len(self.plan.apps) > 1
        selection = f"-A {app} --web" if with_app else "--web"
        if self._supervisor is None or not self._webs(app):
            return Down(f"{app} web", "not running: it has no start command, or sunup is stopping", None, "sunup ps")
        runner = next(r for i, r in self._supervisor.runners.items() if i.app == app and i.group == "web")
        status = runner.status
        state = status.state.value
        if status.state is InstanceState.BACKOFF and status.retry_at is not None:
            state += " (it is started again after failing)"
        elif status.state is InstanceState.STOPPED and not status.wanted:
            state += " (stopped by a user: sunup start --web starts it)"
        last = status.last_exit.describe() if status.last_exit is not None else None
        return Down(runner.spec.id.label(with_app=with_app), state, last, f"sunup logs {selection}")

    # -- the site -----------------------------------------------------------------------------

    def _site(self) -> RouterSite:
        apps = tuple(self._app_site(app.name) for app in self.plan.apps)
        certificate = key = None
        if any(r.route.scheme == "https" for r in self.routes):
            from sunup.router.certificates import project_certificate

            made = project_certificate(self.folder / "tls", sorted({r.host for r in self.routes}))
            certificate, key = made.certificate, made.key
        return RouterSite(
            address=self.address,
            folder=self.folder,
            logs=self.logs,
            hold_socket=self.sockets / "hold.sock",
            sockets=self.sockets,
            apps=apps,
            routes=tuple(route_site(r, self.address) for r in self.routes),
            certificate=certificate,
            key=key,
            user=pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None,
        )

    def _app_site(self, name: str) -> AppSite:
        app = self.plan.app(name)
        assert app is not None
        webs = self._webs(name)
        first = webs[0] if webs else None
        if first is not None and first.mounts is not None:
            root = first.mounts.build_dir
            mounts = {v.path: v.folder for v in first.mounts.volumes}
        else:
            root = first.cwd if first is not None else self._app_dirs.get(name) or app_dir(self.project_root, app)
            mounts = {}
        return AppSite(
            name=name,
            root=root,
            locations=app.web.locations,
            upstreams=tuple(a for s in webs if (a := _address(s)) is not None),
            protocol=app.web.protocol or "http",
            mounts=mounts,
        )


def _address(spec: InstanceSpec) -> str | None:
    if spec.port is not None:
        return f"127.0.0.1:{spec.port}"
    socket = spec.environment.get("SOCKET")
    return f"unix:{socket}" if socket else None


def prepare_routing(
    plan: ProjectPlan,
    project_root: Path,
    state: StateDir,
    options: RouterOptions,
    *,
    isolation: Isolation,
    settings: SupervisorSettings,
    say: Callable[[str], None],
    observers: tuple[Callable[[Event], None], ...] = (),
) -> Routing | None:
    """The project's routing (its address kept), or None when the router is turned off."""
    if not options.enabled:
        return None
    address = router_address(
        state.root, project_root, http_port=options.http_port, https_port=options.https_port, domain=options.domain
    )
    nginx = find_nginx()
    if nginx is None:
        say(
            "warning: nginx is not installed: no router (routes, web.locations); each web instance is reached "
            "at its own port (Debian: apt-get install nginx-light)"
        )
    return Routing(
        plan,
        project_root,
        state,
        address,
        nginx=nginx,
        isolation=isolation,
        settings=settings,
        hold=options.hold,
        say=say,
        observers=observers,
    )
