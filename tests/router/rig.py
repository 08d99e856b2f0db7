"""Running the router in a test: a site made from a real configuration, the real nginx (through
`sunup.router.runner.Router`), the hold server, tiny real apps, and HTTP(S) requests sent as is.

The router and the hold server run in an event loop of their own thread, so that tests send
requests with plain blocking clients; every wait is bounded and says what it waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import pwd
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sunup.isolation import open_isolation
from sunup.plan.model import ProjectPlan
from sunup.router.address import RouterAddress
from sunup.router.certificates import project_certificate
from sunup.router.hold import Down, HoldServer
from sunup.router.render import links, render
from sunup.router.runner import Router, find_nginx, make_links
from sunup.router.site import AppSite, RouterSite, route_sites, socket_folder
from sunup.supervisor.settings import SupervisorSettings

ECHO = Path(__file__).with_name("echo_app.py")
START_TIMEOUT = 20.0
#: As the supervisor does when run as root: nginx's workers run as the user sunup runs as.
CURRENT_USER = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def free_address() -> RouterAddress:
    http = free_port()
    https = free_port()
    while https == http:
        https = free_port()
    return RouterAddress(http, https)


def make_site(
    plan: ProjectPlan,
    base: Path,
    address: RouterAddress,
    *,
    roots: Mapping[str, Path] | None = None,
    upstreams: Mapping[str, Sequence[str]] | None = None,
    mounts: Mapping[str, Mapping[str, Path]] | None = None,
    ca: Path | None = None,
    user: str | None = CURRENT_USER,
) -> RouterSite:
    """The site of `plan` with its state under `base`: each app's folder from `roots` (else
    ``base/apps/<app>``), its web instances at `upstreams`, its web mounts from `mounts`; with
    `ca`, a certificate from that CA for the routes' hosts (else the files are only named);
    nginx's workers run as `user`."""
    folder = base / "router"
    routes = route_sites(plan.route_plans, address)
    apps = tuple(
        AppSite(
            name=app.name,
            root=(roots or {}).get(app.name, base / "apps" / app.name),
            locations=app.web.locations,
            upstreams=tuple((upstreams or {}).get(app.name, ())),
            protocol=app.web.protocol or "http",
            mounts=dict((mounts or {}).get(app.name, {})),
        )
        for app in plan.apps
    )
    certificate, key = folder / "tls" / "cert.pem", folder / "tls" / "key.pem"
    if any(r.scheme == "https" for r in routes) and ca is not None:
        made = project_certificate(folder / "tls", sorted({r.host for r in routes}), ca=ca)
        certificate, key = made.certificate, made.key
    https = any(r.scheme == "https" for r in routes)
    # A deep tmp folder (pytest's) would pass a unix socket's path limit: as the supervisor does.
    short = Path(tempfile.mkdtemp(prefix="sunup-sockets-"))
    sockets = socket_folder(folder, [a.name for a in apps], short)
    if sockets != short:
        short.rmdir()
    return RouterSite(
        address=address,
        folder=folder,
        logs=base / "logs" / "router",
        hold_socket=sockets / "hold.sock",
        sockets=sockets,
        apps=apps,
        routes=routes,
        certificate=certificate if https else None,
        key=key if https else None,
        user=user,
    )


def nginx_refusal(nginx: str, site: RouterSite) -> str | None:
    """What ``nginx -t`` says against `site`'s configuration (written with its links, the
    folders they point to made), or None when it accepts it."""
    for sub in ("temp", "cache"):
        (site.folder / sub).mkdir(parents=True, exist_ok=True)
    site.logs.mkdir(parents=True, exist_ok=True)
    for target in links(site).values():
        target.mkdir(parents=True, exist_ok=True)
    make_links(site)
    conf = site.folder / "nginx.conf"
    conf.write_text(render(site), encoding="utf-8")
    checked = subprocess.run(
        [nginx, "-t", "-q", "-c", str(conf), "-p", str(site.folder), "-e", str(site.logs / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return checked.stderr or "it failed" if checked.returncode else None


# -- apps -------------------------------------------------------------------------------------


class EchoApp:
    """`echo_app.py` running as a real process; `address` is where it listens, as nginx names it."""

    def __init__(self, name: str, where: str = "tcp") -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(ECHO), name, where], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.process.stdout is not None
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(self.process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(START_TIMEOUT)
        line = found[0] if found else ""
        if not line.startswith("ready "):
            self.stop()
            raise AssertionError(f"the echo app {name} did not start in {START_TIMEOUT:g} s (it said {line!r})")
        shown = line.split(" ", 1)[1].strip()
        self.address = f"unix:{shown}" if where.startswith("unix:") else f"127.0.0.1:{shown}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


# -- the router -------------------------------------------------------------------------------


@dataclass
class Rig:
    """A running router for `site` (nginx and the hold server), in a thread of its own."""

    site: RouterSite
    tmp: Path
    describe: Callable[[str], Down] = field(default=lambda app: Down(f"{app} web.0", "stopped", None, "sunup logs"))
    hold: float = 5.0
    addresses: Callable[[str], Sequence[str]] | None = None
    router: Router | None = None
    hold_server: HoldServer | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def __enter__(self) -> Rig:
        nginx = find_nginx()
        assert nginx is not None, "nginx is not installed (scripts/setup.sh installs it)"
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="router-rig", daemon=True)
        self._thread.start()
        self.isolation = open_isolation(self.tmp / "isolation")

        def addresses(app: str) -> Sequence[str]:
            if self.addresses is not None:
                return self.addresses(app)
            found = self.site.app(app)
            return found.upstreams if found is not None else ()

        async def start() -> None:
            self.hold_server = HoldServer(self.site.hold_socket, addresses, self.describe, hold=self.hold)
            await self.hold_server.start()
            self.router = Router(nginx, isolation=self.isolation, settings=SupervisorSettings(grace=2))
            await self.router.start(self.site)

        try:
            self.run(start(), START_TIMEOUT)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def run(self, coroutine: Any, timeout: float) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            if self.router is not None:
                await self.router.stop()
            if self.hold_server is not None:
                await self.hold_server.close()

        if self._loop is not None:
            try:
                self.run(stop(), 30)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                if self._thread is not None:
                    self._thread.join(10)
                self._loop.close()
                self.isolation.close()

    def url(self, scheme: str, host: str = "localhost", path: str = "/") -> str:
        address = self.site.address
        port = address.https_port if scheme == "https" else address.http_port
        return f"{scheme}://{host}:{port}{path}"


# -- requests ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class _Connection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 whatever the host name (``api.localhost`` need not resolve), the name
    still sent as SNI, checked against the certificate and sent as Host."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PlainConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)


def tls_context(ca: Path) -> ssl.SSLContext:
    """A client context that trusts only sunup's CA `ca`."""
    return ssl.create_default_context(cafile=str(ca))


def fetch(
    url: str,
    *,
    ca: Path | None = None,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30.0,
) -> Answer:
    """One request to `url` (sent to 127.0.0.1), the target sent as written in the URL."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        assert ca is not None, "an https request needs the CA"
        connection = _Connection(parts.hostname, parts.port, timeout=timeout, context=tls_context(ca))
    else:
        connection = _PlainConnection(parts.hostname, parts.port, timeout=timeout)
    target = url[len(f"{parts.scheme}://{parts.netloc}") :] or "/"
    try:
        connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def raw_request(port: int, target: bytes, host: bytes = b"localhost", *, unix: Path | None = None) -> bytes:
    """The whole answer to ``GET <target>`` sent byte for byte (no client normalizes it)."""
    request = b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
    family = socket.AF_UNIX if unix is not None else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(unix) if unix is not None else ("127.0.0.1", port))
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll `condition` (something no event announces) until it holds, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        with contextlib.suppress(Exception):
            threading.Event().wait(delay)
        delay = min(delay * 2, 0.1)


def running_apps(names: Sequence[str]) -> Iterator[dict[str, EchoApp]]:
    """Echo apps by name, stopped on the way out (a generator for fixtures)."""
    apps: dict[str, EchoApp] = {}
    try:
        for name in names:
            apps[name] = EchoApp(name)
        yield apps
    finally:
        for app in apps.values():
            app.stop()
