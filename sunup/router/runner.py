"""Running the router's nginx: started, supervised, reloaded and stopped like a service.

    router = Router(folder, logs, isolation=..., settings=..., observers=...)
    await router.start(site)        # ports checked, nginx.conf written, nginx ready
    await router.update(new_site)   # written again and reloaded (SIGHUP) when it changed
    await router.stop()             # SIGQUIT: nginx finishes the requests it has, then ends

nginx runs in the foreground (``daemon off``) under a `Supervisor` of its own, like the
services' servers: its own cgroup, PR_SET_PDEATHSIG, restarted with backoff if it dies. It reads
only its own configuration in ``<state>/router`` (never /etc/nginx) and logs to
``<state>/logs/router`` (``sunup logs access`` / ``error``). A reload starts new workers with
the new configuration while the old ones finish their requests: no connection is dropped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.isolation import Isolation, Limits
from sunup.router.address import is_free
from sunup.router.render import links, render
from sunup.router.site import RouterSite
from sunup.supervisor.events import Event, ExitedEvent
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.launch import InstanceSpec
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.supervisor import Supervisor

#: The "app" of the router's instance: no application can have this name.
ROUTER_APP = "@router"
ROUTER_INSTANCE = InstanceId(ROUTER_APP, "nginx", 0)
READY_TIMEOUT = 10.0
#: Seconds nginx has after SIGQUIT to finish its requests.
STOP_GRACE = 15.0


def find_nginx() -> str | None:
    """The nginx program: $SUNUP_NGINX, else on PATH, else Debian's /usr/sbin/nginx."""
    chosen = os.environ.get("SUNUP_NGINX") or shutil.which("nginx")
    if chosen:
        return chosen
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


class Router:
    def __init__(
        self,
        nginx: str,
        *,
        isolation: Isolation,
        settings: SupervisorSettings,
        observers: tuple[Callable[[Event], None], ...] = (),
    ) -> None:
        self.nginx = nginx
        self._isolation = isolation
        self._settings = settings
        self._observers = observers
        self.supervisor: Supervisor | None = None
        self.site: RouterSite | None = None
        self._written: str | None = None

    @property
    def pid(self) -> int | None:
        if self.supervisor is None:
            return None
        return self.supervisor.runners[ROUTER_INSTANCE].status.pid

    async def start(self, site: RouterSite) -> None:
        """Write `site`'s configuration and start nginx; return once it listens. RuntimeFailure
        naming the port when one is taken, or with nginx's own words when it fails."""
        address = site.address
        ports = [("HTTP", address.http_port, "--http-port")]
        if site.certificate is not None:
            ports.append(("HTTPS", address.https_port, "--https-port"))
        for what, port, option in ports:
            if not is_free(port, address.bind):
                raise RuntimeFailure(
                    f"the router's {what} port {port} on {address.bind} is taken by another program",
                    hint=f"choose another: sunup up {option} N (kept in {site.folder.parent / 'router.json'})",
                )
        self._write(site)
        errors = site.logs / "error.log"
        spec = InstanceSpec(
            id=ROUTER_INSTANCE,
            start=f"{self.nginx} -c {site.folder / 'nginx.conf'}",
            environment={"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")},
            cwd=site.folder,
            log_path=site.logs / "nginx.log",
            argv=(self.nginx, "-c", str(site.folder / "nginx.conf"), "-p", str(site.folder), "-e", str(errors)),
            port=address.http_port,
            stop_signal=int(signal.SIGQUIT),
            grace=STOP_GRACE,
            limits=Limits(pids=self._settings.pids_limit),
        )
        exited: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        def on_exit(event: Event) -> None:
            if isinstance(event, ExitedEvent) and not exited.done():
                exited.set_result(event.describe())

        self.supervisor = Supervisor([spec], isolation=self._isolation, settings=self._settings)
        for observer in self._observers:
            self.supervisor.observe(observer)
        self.supervisor.observe(on_exit)
        before = _size(errors)
        self.supervisor.start()
        try:
            await self._ready(address.bind, address.http_port, exited)
        except BaseException:
            await self.stop()
            raise
        finally:
            if not exited.done():
                exited.cancel()
        if exited.done() and not exited.cancelled():
            await self.stop()
            raise RuntimeFailure(
                f"the router (nginx) {exited.result()} as it started: {_tail(errors, before)}",
                hint=f"its log: {errors}",
            )

    async def _ready(self, host: str, port: int, exited: asyncio.Future[str]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT
        delay = 0.005
        while not exited.done():
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                if loop.time() > deadline:
                    raise RuntimeFailure(
                        f"the router (nginx) did not listen on {host}:{port} in {READY_TIMEOUT:g} s"
                    ) from None
                await asyncio.wait({exited}, timeout=delay)
                delay = min(delay * 2, 0.1)
            else:
                writer.close()
                return

    def update(self, site: RouterSite) -> bool:
        """Serve `site` from now on: its configuration written and nginx reloaded when it changed
        (True then)."""
        if self.supervisor is None:
            return False
        if not self._write(site):
            return False
        pid = self.pid
        if pid is not None:
            os.kill(pid, signal.SIGHUP)
        return True

    def _write(self, site: RouterSite) -> bool:
        """Write the configuration and the links it reaches files through; False when nothing changed."""
        text = render(site)
        self.site = site
        for sub in ("temp", "cache"):
            (site.folder / sub).mkdir(parents=True, exist_ok=True)
        site.logs.mkdir(parents=True, exist_ok=True)
        make_links(site)
        if text == self._written:
            return False
        from sunup.atomicfile import write_atomically

        write_atomically(site.folder / "nginx.conf", text, durable=False)
        self._written = text
        return True

    async def stop(self) -> None:
        supervisor, self.supervisor = self.supervisor, None
        if supervisor is not None:
            await supervisor.stop_all()
            supervisor.close()


def make_links(site: RouterSite) -> None:
    """The links of the configuration, made anew (a build moved: they point to the new one)."""
    farm = site.folder / "roots"
    wanted = links(site)
    if farm.exists():
        for existing in sorted(farm.rglob("*"), reverse=True):
            if existing.is_symlink() and wanted.get(existing) != Path(os.readlink(existing)):
                existing.unlink()
    for link, target in wanted.items():
        if link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target, target_is_directory=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tail(path: Path, start: int) -> str:
    """The lines nginx wrote to `path` from `start` (its reason), or a note when there are none."""
    try:
        with path.open("rb") as handle:
            handle.seek(start)
            text = handle.read(8192).decode("utf-8", "replace").strip()
    except OSError:
        return "it wrote nothing"
    lines = [line.split("] ", 1)[-1] for line in text.splitlines() if line.strip()]
    return "; ".join(lines[-3:]) or "it wrote nothing"
