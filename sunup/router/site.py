"""What the router serves, resolved for this machine: the input of `sunup.router.render`.

A `RouterSite` is the plan's routes and web locations with every host fact filled in: the local
URLs' hosts and ports, each app's folder on the host, where its web instances listen, the files
nginx keeps (logs, cache, certificate) and the hold socket of the supervisor. Frozen values only:
`route_sites` makes the routes' part from the plan's routes at the router's address with pure
code, the renderer turns a site into nginx's configuration, and the runner writes that and runs
nginx.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sunup.plan.model import LocationPlan, RedirectPathPlan, RoutePlan, frozen_map
from sunup.plan.routes import LocalRoute, local_routes, resolve_url
from sunup.router.address import RouterAddress


@dataclass(frozen=True, slots=True)
class AppSite:
    """One app's web server: its `web.locations` over its folder, and its web instances."""

    name: str
    #: The app folder on the host (the build the instances run).
    root: Path
    locations: tuple[LocationPlan, ...]
    #: Where the web instances listen, as nginx names a server: ``127.0.0.1:8000`` or
    #: ``unix:/path/web.0.sock``; empty when web has no start command (static files only).
    upstreams: tuple[str, ...]
    #: http, or fastcgi (PHP).
    protocol: str = "http"
    #: Mounts of the web instances (path relative to the app root → folder on the host): static
    #: files under a location's root may live in one (uploads served by nginx).
    mounts: Mapping[str, Path] = field(default_factory=frozen_map)


@dataclass(frozen=True, slots=True)
class RedirectSite:
    """A partial redirect of a route (`redirects.paths`), its target resolved."""

    redirect: RedirectPathPlan
    #: The target with templates resolved (a path, or a full local URL).
    to: str
    #: Seconds the redirect may be cached (the entry's, else the route's); None: no header.
    expires: int | None


@dataclass(frozen=True, slots=True)
class RouteSite:
    """One route at its local URL."""

    route: RoutePlan
    #: ``https://www.localhost:20081/api/``: what PLATFORM_ROUTES is keyed by.
    url: str
    scheme: str
    #: The host name requests carry (``www.localhost``).
    host: str
    #: The route's path ("/", "/api/").
    path: str
    #: A redirect route's target, resolved (a full URL).
    to: str | None = None
    redirects: tuple[RedirectSite, ...] = ()


@dataclass(frozen=True, slots=True)
class RouterSite:
    address: RouterAddress
    #: ``<state>/router``: nginx's configuration, pid file, temporary files and cache.
    folder: Path
    #: ``<state>/logs/router``: access.log and error.log.
    logs: Path
    #: The unix socket of the supervisor's hold server (requests to an app that is down).
    hold_socket: Path
    apps: tuple[AppSite, ...]
    routes: tuple[RouteSite, ...]
    #: The certificate (with its chain) and key of the HTTPS port; None: no HTTPS.
    certificate: Path | None = None
    key: Path | None = None
    #: The user nginx's workers run as (when started as root), else None.
    user: str | None = None
    worker_processes: int = 1
    #: Where the apps' web servers listen (`socket_folder`); None: `folder`.
    sockets: Path | None = None

    def app(self, name: str) -> AppSite | None:
        return next((a for a in self.apps if a.name == name), None)

    def app_socket(self, name: str) -> Path:
        """Where the web server of app `name` listens (the router's upstream for its routes)."""
        return (self.sockets or self.folder) / f"app-{safe_name(name)}.sock"


#: A unix socket's path has at most 107 bytes (sun_path); nginx and asyncio refuse longer ones.
SOCKET_PATH_LIMIT = 107


def socket_folder(folder: Path, names: Iterable[str], short: Path) -> Path:
    """`folder` when the sockets of `names` (``app-<name>.sock``, ``hold.sock``) fit the unix
    socket path limit there, else `short` (a project deep in the file system)."""
    longest = max([len(f"app-{safe_name(n)}.sock") for n in names] + [len("hold.sock")])
    return folder if len(str(folder)) + 1 + longest <= SOCKET_PATH_LIMIT else short


def route_sites(routes: Iterable[RoutePlan], address: RouterAddress) -> tuple[RouteSite, ...]:
    """The plan's routes at their local URLs, partial redirects' targets resolved."""
    return tuple(route_site(local, address) for local in local_routes(routes, address))


def route_site(local: LocalRoute, address: RouterAddress) -> RouteSite:
    """One route at its local URL (`sunup.plan.routes.local_routes`)."""
    route = local.route
    redirects = tuple(
        RedirectSite(
            redirect=r,
            to=resolve_url(r.to, address),
            expires=r.expires if r.expires is not None else route.redirects_expires,
        )
        for r in route.redirects
    )
    return RouteSite(
        route=route,
        url=local.url,
        scheme=route.scheme,
        host=local.host,
        path=route.path,
        to=local.to,
        redirects=redirects,
    )


def safe_name(name: str) -> str:
    """`name` as a part of an nginx identifier or file name (app names are already close)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)
