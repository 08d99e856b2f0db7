"""`sunup run-instance`: one instance of the plan, supervised as `sunup up` supervises it.

The container's command (`sunup.export.kubernetes.RUN_INSTANCE`). The spec of the instance is
made by the local runtime's `SpecMaker` and run by its `Supervisor`, so what the app sees is what
it sees locally:

- the environment of the plan (PLATFORM_*, `env:` variables, PORT) plus the pod's: what the pod
  already has wins (PLATFORM_RELATIONSHIPS and the `<REL>_*` variables from the group's Secret,
  PLATFORM_TREE_ID from the image), with the build's toolchain first on PATH (`record`);
- `.environment` sourced, `pre_start` then `start` in one shell, `post_start` beside it;
- restarts when it exits (immediate, then exponential backoff up to 30 s), and on SIGTERM or
  SIGINT: SIGTERM to the whole process tree, SIGKILL after the grace (15 s, `SUNUP_STOP_GRACE`);
  a second signal kills at once;
- its output on stdout, each line prefixed with its UTC time as in app.log; sunup's own lines
  (`sunup: web.0: running (pid 7)`) in the same stream.

With `--hook` or `--cron`, the command runs that hook or cron once in web instance 0's
environment instead (`oneshot`): the command of the hook Jobs and the CronJobs' Jobs.

Web instances get a `Forwarder` from the pod's port (8080) to their PORT on 127.0.0.1 (or their
SOCKET), so an app that binds loopback, as on the platform, is reached through its Service. When
the app's `web.locations` serve static files and nginx is in the image, nginx serves the pod's
port instead, as the app's web server does locally (`webserver`): static files, the rest to the
instance, the hold server while it is down; without nginx, one warning line.

In a container there are usually no writable cgroups and no mount namespaces: the instance runs
with the process-tree fallback (one warning line says what is lost) and without mount views (the
pod's volumes are the mounts). State (logs of nothing, the isolation ledger) goes to
`$SUNUP_STATE_DIR`, else `$TMPDIR/sunup` (the pod's `/tmp` volume): the root file system is
read-only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sunup.container.forwarder import Forwarder, Target
from sunup.container.oneshot import OneShot, run_once
from sunup.container.record import BuildRecord, build_dir, read_record
from sunup.container.webserver import NGINX_MISSING, WebServer, serves_files, web_server
from sunup.errors import ConfigError, RuntimeFailure, SelectionError
from sunup.php import is_php
from sunup.php.instances import PhpInstances, with_php
from sunup.plan.model import AppPlan, GroupPlan, ProjectPlan
from sunup.router.hold import Down
from sunup.supervisor.events import Event, StateChangedEvent
from sunup.supervisor.launch import (
    INSTANCE_VARIABLE,
    SOCKET_VARIABLE,
    ExtraEnvironment,
    InstanceSpec,
    SpecMaker,
    free_port,
)
from sunup.supervisor.lifecycle import GraceExpired, InstanceState
from sunup.supervisor.logcapture import Timestamps
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.statedir import STATE_VARIABLE, StateDir

if TYPE_CHECKING:
    from sunup.supervisor.supervisor import Supervisor

#: The pod's port a web instance is reached on (`sunup.export.kubernetes.HTTP_PORT`).
DEFAULT_LISTEN = 8080
#: Where the instance's output goes: this process's stdout, opened again (a pipe or a file in a
#: container). It is never cut: the container runtime rotates it.
STDOUT = Path("/dev/stdout")
#: Variables of the pod's environment an instance never gets from it: sunup sets its own.
INTERNAL = frozenset({SOCKET_VARIABLE, INSTANCE_VARIABLE, "SUNUP_ISOLATION_TAG", "SUNUP_PEERS_FILE"})
#: Environment variables that give the HostFacts of the plan, when the pod has them.
FACTS = ("PLATFORM_PROJECT", "PLATFORM_PROJECT_ENTROPY", "PLATFORM_ENVIRONMENT", "PLATFORM_BRANCH")


@dataclass(frozen=True, slots=True)
class Request:
    """Which instance to run, and on which pod port a web instance is reached."""

    app: str
    group: str
    index: int = 0
    #: The pod's port forwarded to the app's PORT (web, tcp); None: the default (8080); 0: none.
    listen: int | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """What `prepare` decided: the spec, the forwarder's target and the warnings to print."""

    spec: InstanceSpec
    target: Target | None
    listen: int | None
    warnings: tuple[str, ...]
    #: nginx serving web.locations on `listen` (then no forwarder), or None.
    web: WebServer | None = None


def load(project_dir: Path, environ: Mapping[str, str]) -> ProjectPlan:
    """The plan of the project at or above `project_dir`, with the pod's ids when it has them.

    Nothing is written (the image is read-only): no schema cache, no local settings."""
    from sunup.config import read_config
    from sunup.config.loader import find_project_root
    from sunup.plan.resolve import HostFacts, resolve_project

    root = find_project_root(project_dir)
    loaded = read_config(root)
    if loaded.diagnostics.has_errors():
        raise ConfigError(loaded)
    facts = HostFacts.for_project(root)
    project = environ.get("PLATFORM_PROJECT") or facts.project
    entropy = environ.get("PLATFORM_PROJECT_ENTROPY") or hashlib.sha256(project.encode()).hexdigest()[:32]
    facts = dataclasses.replace(
        facts,
        project=project,
        project_entropy=entropy,
        environment=environ.get("PLATFORM_ENVIRONMENT") or facts.environment,
        branch=environ.get("PLATFORM_BRANCH") or facts.branch,
        tree_id=environ.get("PLATFORM_TREE_ID") or facts.tree_id,
    )
    return resolve_project(loaded, facts)


def state_dir(environ: Mapping[str, str]) -> StateDir:
    raw = environ.get(STATE_VARIABLE)
    return StateDir(Path(raw).absolute() if raw else Path(environ.get("TMPDIR") or tempfile.gettempdir()) / "sunup")


def choose(plan: ProjectPlan, request: Request) -> tuple[AppPlan, GroupPlan]:
    """The app and group of `request`; SelectionError naming what there is."""
    app = plan.app(request.app)
    if app is None:
        raise SelectionError(
            f"the project has no application '{request.app}'",
            hint=f"its applications: {', '.join(a.name for a in plan.apps)}",
        )
    group = app.group(request.group)
    if group is None:
        raise SelectionError(
            f"'{app.name}' has no instance group '{request.group}'",
            hint=f"its groups: {', '.join(g.name for g in app.groups)}",
        )
    if group.commands is None:
        raise SelectionError(f"'{app.name}' {group.name} has no start command: nothing to run")
    return app, group


def prepare(
    plan: ProjectPlan,
    project_root: Path,
    request: Request,
    *,
    environ: Mapping[str, str],
    state: StateDir,
    record: BuildRecord | None,
    port: Callable[[], int] = free_port,
    nginx: str | None = None,
) -> Prepared:
    """The spec of the requested instance (pure but for `port`, and a PHP app's FPM configuration
    and ini folders, written in the state folder as locally): the plan's environment, the pod's
    on top, the build's toolchain first on PATH; its output on stdout. A web instance whose
    locations serve files gets `nginx` (the program) in front of it, when there is one."""
    app, group = choose(plan, request)
    warnings: list[str] = []
    pod = {k: v for k, v in environ.items() if k not in INTERNAL}
    base = {"PATH": pod.get("PATH", "/usr/local/bin:/usr/bin:/bin")}
    extra: dict[str, str] = {}
    if record is not None:
        extra.update(record.toolchain.environment)
        extra["PLATFORM_TREE_ID"] = record.tree_id
        if record.toolchain.path:
            extra["PATH"] = ":".join(record.toolchain.path)
    extra.update({k: v for k, v in pod.items() if k != "PATH"})
    if group.relationships and not pod.get("PLATFORM_RELATIONSHIPS"):
        names = ", ".join(r.name for r in group.relationships)
        warnings.append(
            f"{group.instance_name} has relationships ({names}) but PLATFORM_RELATIONSHIPS is not in "
            "the environment: the pod lacks its Secret (envFrom)"
        )
    given_port = pod.get("PORT")
    environment: ExtraEnvironment = lambda _group, _instance: extra  # noqa: E731
    if is_php(app.type):
        # PHP-FPM's start script and the app's php.ini folders, as locally (docs/php.md).
        environment = with_php(PhpInstances(state.root, state.bin, plan, warnings.append), environment)
        base["PATH"] = f"{state.bin}:{base['PATH']}"
        state.run.mkdir(parents=True, exist_ok=True)  # where FPM's socket goes
    maker = SpecMaker(
        project_root,
        state,
        base,
        extra_environment=environment,
        app_dirs={app.name: record.app_dir} if record is not None else {},
        port=(lambda: int(given_port)) if given_port and given_port.isdigit() else port,
        layout=None,
        pids_limit=None,
    )
    spec = maker.spec(app, group, request.index)
    spec = dataclasses.replace(spec, log_path=STDOUT)
    target: Target | None = None
    listen = request.listen if request.listen is not None else DEFAULT_LISTEN
    if group.is_web and listen:
        if spec.port is not None:
            target = Target(port=spec.port)
        elif "SOCKET" in spec.environment:
            target = Target(socket=spec.environment["SOCKET"])
        if spec.port == listen:  # the pod set PORT to its own port: the app must bind 0.0.0.0
            target = None
    web = None
    if target is not None and serves_files(app):
        if nginx is None:
            warnings.append(NGINX_MISSING)
        else:
            upstream = target.describe()
            web = web_server(app, root=spec.cwd, upstream=upstream, listen=listen, nginx=nginx, state=state.root)
    return Prepared(spec, target, listen if target is not None else None, tuple(warnings), web)


class StdoutEvents:
    """An observer: sunup's lines about the instance, timestamped like its output, on stdout."""

    def __init__(self, fd: int = 1) -> None:
        self._fd = fd
        self._stamps = Timestamps()

    def say(self, text: str) -> None:
        data = self._stamps.prefix() + f"sunup: {text}\n".encode()
        try:
            os.write(self._fd, data)
        except OSError:
            return

    def __call__(self, event: Event) -> None:
        if isinstance(event, StateChangedEvent) and event.status.state is InstanceState.STARTING:
            return
        self.say(f"{event.instance.name}: {event.describe()}")


async def supervise(prepared: Prepared, *, state: StateDir, settings: SupervisorSettings, say: StdoutEvents) -> int:
    """Run the instance until SIGTERM or SIGINT, then stop it (grace, then SIGKILL); 0 then."""
    from sunup.isolation import open_isolation
    from sunup.supervisor.supervisor import Supervisor

    loop = asyncio.get_running_loop()
    spec = prepared.spec
    done = asyncio.Event()
    signals: list[int] = []

    def on_signal(sig: int) -> None:
        signals.append(sig)
        if done.is_set():
            for runner in supervisor.runners.values():
                if runner.status.state is InstanceState.STOPPING:
                    runner.feed(GraceExpired())
        done.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    loop.add_signal_handler(signal.SIGHUP, lambda: None)
    isolation = open_isolation(state.root)
    try:
        if isolation.warning:
            say.say(f"warning: {isolation.warning}")
        specs = [spec]
        web = prepared.web
        if web is not None:
            from sunup.container.webserver import nginx_spec, write

            write(web)
            specs.append(nginx_spec(web, log_path=STDOUT, path=spec.environment.get("PATH", "/usr/sbin:/usr/bin:/bin")))
        supervisor = Supervisor(specs, isolation=isolation, settings=settings, observers=[say])
        forwarder: Forwarder | None = None
        hold = None
        try:
            if web is not None:
                from sunup.container.webserver import hold_server

                hold = hold_server(web, lambda _app: _down(supervisor, spec))
                await hold.start()
                say.say(f"{spec.id.name}: {web.describe()}")
            elif prepared.target is not None and prepared.listen is not None:
                forwarder = Forwarder(prepared.target, port=prepared.listen)
                try:
                    await forwarder.start()
                except OSError as exc:
                    raise RuntimeFailure(
                        f"{spec.id.name}: cannot listen on port {prepared.listen}: {exc.strerror or exc}",
                        hint="another process of the pod has it; choose another with --listen",
                    ) from None
                say.say(f"{spec.id.name}: port {forwarder.port} forwarded to {prepared.target.describe()}")
            supervisor.start()
            await done.wait()
            say.say(f"{spec.id.name}: {signal.Signals(signals[0]).name} received, stopping")
            await supervisor.stop_all()
        finally:
            if forwarder is not None:
                await forwarder.close()
            if hold is not None:
                await hold.close()
            supervisor.close()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        isolation.close()
    return 0


def _down(supervisor: Supervisor, spec: InstanceSpec) -> Down:
    """Why the instance does not answer (the hold server's 503 page)."""
    status = supervisor.runners[spec.id].status
    last = status.last_exit.describe() if status.last_exit is not None else None
    return Down(spec.id.name, status.state.value, last, "kubectl logs")


def one_shot(plan: ProjectPlan, prepared: Prepared, request: Request, *, hook: str | None, cron: str | None) -> OneShot:
    """The hook or cron of `request`'s app to run once in `prepared`'s environment."""
    app, _group = choose(plan, request)
    env, cwd = prepared.spec.environment, prepared.spec.cwd
    if hook is not None:
        script = {"deploy": app.hooks.deploy, "post_deploy": app.hooks.post_deploy}.get(hook.replace("-", "_"))
        if not script:
            raise SelectionError(f"'{app.name}' has no {hook} hook")
        return OneShot(f"{hook} hook", script, env, cwd)
    found = next((c for c in app.crons if c.name == cron), None)
    if found is None:
        names = ", ".join(c.name for c in app.crons) or "none"
        raise SelectionError(f"'{app.name}' has no cron '{cron}'", hint=f"its crons: {names}")
    return OneShot(
        f"cron {found.name}",
        found.start,
        env,
        cwd,
        stop=found.stop,
        grace=float(found.shutdown_timeout),
        timeout=float(found.timeout),
    )


def run(
    request: Request,
    *,
    project_dir: Path,
    environ: Mapping[str, str],
    grace: float | None = None,
    hook: str | None = None,
    cron: str | None = None,
) -> int:
    """`sunup run-instance`: load, prepare, supervise until told to stop (or, with `hook` or
    `cron`, run that once: `sunup.container.oneshot`); the exit status."""
    state = state_dir(environ)
    state.root.mkdir(parents=True, exist_ok=True)
    plan = load(project_dir, environ)
    from sunup.config.loader import find_project_root

    root = find_project_root(project_dir)
    record = read_record(build_dir(environ), request.app)
    if hook is not None or cron is not None:
        request = dataclasses.replace(request, group="web", index=0, listen=0)
    nginx = None
    if hook is None and cron is None:
        from sunup.router.runner import find_nginx

        nginx = find_nginx()
    prepared = prepare(plan, root, request, environ=environ, state=state, record=record, nginx=nginx)
    say = StdoutEvents()
    for warning in prepared.warnings:
        say.say(f"warning: {warning}")
    if hook is not None or cron is not None:
        job = one_shot(plan, prepared, request, hook=hook, cron=cron)
        if grace is not None:
            job = dataclasses.replace(job, grace=grace)
        return asyncio.run(run_once(job, say.say))
    settings = dataclasses.replace(SupervisorSettings.from_environment(grace), log_limit=sys.maxsize, pids_limit=None)
    return asyncio.run(supervise(prepared, state=state, settings=settings, say=say))
