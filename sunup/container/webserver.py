"""The pod's web server: the app's `web.locations` served on the pod's port, as locally.

Locally, each app's web server is a server of the router's nginx (`sunup.router.render`): static
files from each location's root, the rest passed to the web instances, the hold server
(`sunup.router.hold`) answering while they are down. In a pod, `sunup run-instance` for web runs
that same server alone, rendered by the same renderer from a `RouterSite` with the one app and no
routes, listening on the pod's port (``0.0.0.0:8080``) instead of a unix socket; nginx is an
instance of the run's own `Supervisor` (restarted with backoff if it dies), and the hold server
runs in its event loop.

Only when it is needed and possible: the app has a location with a `root` (static files), and
nginx is in the image (`sunup.router.runner.find_nginx`). Otherwise the pod's port is copied to the
app's PORT (`sunup.container.forwarder`), and a missing nginx is one warning line.
"""

from __future__ import annotations

import os
import pwd
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sunup.plan.model import AppPlan
from sunup.router.address import RouterAddress
from sunup.router.hold import Down, HoldServer
from sunup.router.render import render_app_servers
from sunup.router.site import AppSite, RouterSite
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.launch import InstanceSpec

#: The pod's web server among the run's instances (no application can have this name).
WEB_SERVER = InstanceId("@web-server", "nginx", 0)
#: Seconds nginx has after SIGQUIT to finish its requests.
STOP_GRACE = 15.0
NGINX_MISSING = (
    "nginx is not installed in the image: web.locations (static files) are not served, every request "
    "goes to the app (Debian: apt-get install nginx-light)"
)


@dataclass(frozen=True, slots=True)
class WebServer:
    """What the pod's nginx serves, and how it is run."""

    site: RouterSite
    #: The pod's port nginx listens on (all addresses).
    listen: int
    nginx: str

    @property
    def config(self) -> Path:
        return self.site.folder / "nginx.conf"

    def describe(self) -> str:
        return (
            f"port {self.listen} served by nginx (web.locations), the rest to {', '.join(self.site.apps[0].upstreams)}"
        )


def serves_files(app: AppPlan) -> bool:
    """Whether `app`'s web.locations serve static files (a location with a root)."""
    return any(location.root is not None for location in app.web.locations)


def web_server(app: AppPlan, *, root: Path, upstream: str, listen: int, nginx: str, state: Path) -> WebServer:
    """The web server of `app`: its files under `root`, its instance at `upstream`
    (``127.0.0.1:8000`` or ``unix:/path``), nginx's files under `state`. Pure but for this
    process's user (started as root, as in a test, nginx's workers stay root, as the router's)."""
    folder = state / "router"
    site = RouterSite(
        address=RouterAddress(http_port=listen, https_port=0, bind="0.0.0.0"),
        folder=folder,
        logs=state / "logs" / "router",
        hold_socket=folder / "hold.sock",
        apps=(
            AppSite(
                name=app.name,
                root=root,
                locations=app.web.locations,
                upstreams=(upstream,),
                protocol=app.web.protocol or "http",
            ),
        ),
        routes=(),
        user=pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None,
    )
    return WebServer(site, listen, nginx)


def write(server: WebServer) -> None:
    """nginx.conf, its folders and the links it reaches static files through."""
    from sunup.atomicfile import write_atomically
    from sunup.router.runner import make_links

    site = server.site
    for sub in ("temp", "cache"):
        (site.folder / sub).mkdir(parents=True, exist_ok=True)
    site.logs.mkdir(parents=True, exist_ok=True)
    make_links(site)
    write_atomically(server.config, render_app_servers(site, f"0.0.0.0:{server.listen}"), durable=False)


def nginx_spec(server: WebServer, *, log_path: Path, path: str) -> InstanceSpec:
    """nginx as an instance of the run's supervisor: foreground, SIGQUIT to stop gracefully."""
    folder = server.site.folder
    errors = server.site.logs / "error.log"
    argv = (server.nginx, "-c", str(server.config), "-p", str(folder), "-e", str(errors))
    return InstanceSpec(
        id=WEB_SERVER,
        start=" ".join(argv),
        environment={"PATH": path},
        cwd=folder,
        log_path=log_path,
        argv=argv,
        port=server.listen,
        stop_signal=int(signal.SIGQUIT),
        grace=STOP_GRACE,
    )


def hold_server(server: WebServer, describe: Callable[[str], Down]) -> HoldServer:
    """The hold server nginx sends requests to while the app's instance does not answer."""
    upstreams = server.site.apps[0].upstreams
    return HoldServer(server.site.hold_socket, lambda _app: upstreams, describe)
