"""What an instance runs: its environment, working folder and shell script, from the plan.

Each instance runs one `/bin/sh -c` script (see `script`): the isolation prelude (joins the
instance's cgroup), `.environment` sourced with `set -a` (spec §6), `pre_start`, then `start` —
`exec`'d when it is a simple command, so the supervised pid is the app itself. `post_start` runs
beside it. The environment is the plan's static one plus the run-time values added here, plus
what `extra_environment` returns for the instance (the seam for relationship credentials).
With a mount layout (`sunup.mounts`), the child enters the instance's mount namespace before its
exec: the app folder read-only, each mount a writable folder (docs/mounts.md). An instance is
limited to its plan's CPU and memory and to a process count (`SUNUP_PIDS_LIMIT`, 4096 by
default). `SpecMaker` makes the spec of any instance, so a group can grow while sunup runs.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sunup.isolation import Limits
from sunup.mounts.layout import InstanceMounts, MountLayout
from sunup.php import uses_fpm
from sunup.plan.model import AppPlan, GroupPlan, ProjectPlan
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.peers import PEERS_VARIABLE, peers_path
from sunup.supervisor.settings import DEFAULT_PIDS_LIMIT
from sunup.supervisor.shellcommand import execs, plain_words
from sunup.supervisor.statedir import StateDir

#: Host variables an instance keeps; everything else comes from the plan (as on the platform).
PASSED_THROUGH = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SHELL")
#: Set in every instance and instance shell: where the supervisor listens, which instance this is.
SOCKET_VARIABLE = "SUNUP_CONTROL_SOCKET"
INSTANCE_VARIABLE = "SUNUP_INSTANCE"

#: Extra environment for one instance (relationship credentials, service variables...).
ExtraEnvironment = Callable[[GroupPlan, InstanceId], Mapping[str, str]]


def no_extra_environment(group: GroupPlan, instance: InstanceId) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """Everything the runner needs to start one instance."""

    id: InstanceId
    start: str
    environment: Mapping[str, str]
    cwd: Path
    log_path: Path
    pre_start: str | None = None
    post_start: str | None = None
    limits: Limits | None = None
    #: `PORT` of a web instance.
    port: int | None = None
    #: Run this program as it is instead of the shell script of `start` (a service's server).
    argv: tuple[str, ...] | None = None
    #: What a stop sends: SIGTERM to every process of the instance, any other signal to its main
    #: process only (PostgreSQL's fast shutdown is SIGINT to the postmaster).
    stop_signal: int = signal.SIGTERM
    #: Seconds from the stop signal to SIGKILL; None: the supervisor's setting.
    grace: float | None = None
    #: Its mounts and mount namespace (None: it runs in its folder as it is).
    mounts: InstanceMounts | None = None


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def app_dir(project_root: Path, app: AppPlan) -> Path:
    """PLATFORM_APP_DIR: the app's source folder (the build folder once builds exist)."""
    return (project_root / app.source_root).resolve() if app.source_root else project_root.resolve()


def _document_root(app: AppPlan, folder: Path) -> Path:
    web = app.config.get("web") or {}
    locations = web.get("locations") or {} if isinstance(web, Mapping) else {}
    root = (locations.get("/") or {}).get("root") if isinstance(locations, Mapping) else None
    return folder / root if isinstance(root, str) and root else folder


@dataclass(frozen=True, slots=True)
class SpecMaker:
    """Makes the spec of any instance of a plan: every one at start, new ones when a group grows."""

    project_root: Path
    state: StateDir
    #: The host variables an instance keeps, PATH with `<state>/bin` first.
    base: Mapping[str, str]
    extra_environment: ExtraEnvironment = no_extra_environment
    app_dirs: Mapping[str, Path] = field(default_factory=dict)
    port: Callable[[], int] = free_port
    #: Where each instance's mounts are; None: no mounts, no namespace (the source folder runs).
    layout: MountLayout | None = None
    #: Most processes (threads included) each instance may have; None: no limit.
    pids_limit: int | None = DEFAULT_PIDS_LIMIT

    @classmethod
    def for_host(
        cls,
        project_root: Path,
        state: StateDir,
        *,
        host_environment: Mapping[str, str],
        extra_environment: ExtraEnvironment = no_extra_environment,
        app_dirs: Mapping[str, Path] | None = None,
        port: Callable[[], int] = free_port,
        layout: MountLayout | None = None,
        pids_limit: int | None = DEFAULT_PIDS_LIMIT,
    ) -> SpecMaker:
        base = {k: host_environment[k] for k in PASSED_THROUGH if k in host_environment}
        base["PATH"] = f"{state.bin}:{base.get('PATH', '/usr/local/bin:/usr/bin:/bin')}"
        return cls(project_root, state, base, extra_environment, dict(app_dirs or {}), port, layout, pids_limit)

    def specs(self, plan: ProjectPlan) -> list[InstanceSpec]:
        """One spec per instance of the plan: web instance(s) first, then each worker's, per app."""
        return [
            self.spec(app, group, index)
            for app in plan.apps
            for group in app.groups
            if group.commands is not None
            for index in range(group.resources.count)
        ]

    def spec(self, app: AppPlan, group: GroupPlan, index: int) -> InstanceSpec:
        """The spec of instance `index` of `group` (which has a start command)."""
        assert group.commands is not None
        state = self.state
        built = self.app_dirs.get(app.name) or app_dir(self.project_root, app)
        mounts = self.layout.instance(group, index, built) if self.layout is not None else None
        folder = mounts.app_dir if mounts is not None else built
        instance = InstanceId(app.name, group.name, index)
        env = {**self.base, **group.environment, "PLATFORM_APP_DIR": str(folder)}
        env[PEERS_VARIABLE] = str(peers_path(state.root, app.name, group.name))
        chosen_port: int | None = None
        if group.is_web:
            env["PLATFORM_DOCUMENT_ROOT"] = str(_document_root(app, folder))
            if group.socket_family == "unix":
                env["SOCKET"] = str(state.run / f"{instance.key}.sock")
            else:
                chosen_port = self.port()
                env["PORT"] = str(chosen_port)
        extra = dict(self.extra_environment(group, instance))
        if "PATH" in extra:
            extra["PATH"] = f"{extra['PATH']}:{env['PATH']}"
        env.update(extra)
        env[SOCKET_VARIABLE] = str(state.socket)
        env[INSTANCE_VARIABLE] = instance.key
        return InstanceSpec(
            id=instance,
            start=group.commands.start,
            pre_start=group.commands.pre_start,
            post_start=group.commands.post_start,
            environment=env,
            cwd=folder,
            log_path=state.app_log(instance),
            limits=Limits(
                cpu=group.resources.cpu or None, memory_mb=group.resources.memory_mb or None, pids=self.pids_limit
            ),
            port=chosen_port,
            mounts=mounts,
            # PHP-FPM's graceful stop (each child ends its request) is SIGQUIT to its master.
            stop_signal=signal.SIGQUIT if uses_fpm(group) else signal.SIGTERM,
        )


def instance_specs(
    plan: ProjectPlan,
    project_root: Path,
    state: StateDir,
    *,
    host_environment: Mapping[str, str],
    extra_environment: ExtraEnvironment = no_extra_environment,
    app_dirs: Mapping[str, Path] | None = None,
    port: Callable[[], int] = free_port,
    layout: MountLayout | None = None,
) -> list[InstanceSpec]:
    """One spec per instance of the plan: web instance(s) first, then each worker's, per app.

    `app_dirs` gives an app's folder (its build) instead of its source folder. A `PATH` from
    `extra_environment` goes in front of the instance's PATH (a toolchain's folders). With a
    `layout`, each instance gets its mounts (and runs in its view when there is no namespace).
    """
    maker = SpecMaker.for_host(
        project_root,
        state,
        host_environment=host_environment,
        extra_environment=extra_environment,
        app_dirs=app_dirs,
        port=port,
        layout=layout,
    )
    return maker.specs(plan)


def script(spec: InstanceSpec, prelude: str = "") -> str:
    """The `/bin/sh -c` script of one instance."""
    lines = [prelude.rstrip("\n")] if prelude else []
    lines.append("if [ -r ./.environment ]; then set -a; . ./.environment; set +a; fi")
    if spec.pre_start:
        lines.append(f'( {spec.pre_start}\n) || echo "sunup: pre_start failed with status $?" >&2')
    lines.append(execs(spec.start))
    return "\n".join(lines) + "\n"


def direct_argv(spec: InstanceSpec) -> list[str] | None:
    """The start command as an argv to exec without `/bin/sh` when the script would do nothing
    else: no `pre_start`, no `.environment` in the app folder (it is read-only while the
    instance runs), a command of plain words (`shellcommand.plain_words`)."""
    if spec.argv is not None:
        return list(spec.argv)
    if spec.pre_start or (spec.cwd / ".environment").exists():
        return None
    return plain_words(spec.start)


def post_start_script(spec: InstanceSpec) -> str:
    assert spec.post_start is not None
    return f"if [ -r ./.environment ]; then set -a; . ./.environment; set +a; fi\n{spec.post_start}\n"
