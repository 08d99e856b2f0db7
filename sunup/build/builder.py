"""Building an app: copy the source, make the toolchain, install `dependencies`, run `hooks.build`.

The build runs in the build environment of spec §6: `CI` set, `PLATFORM_ENVIRONMENT` unset, no
relationships, no mounts, `PLATFORM_APP_DIR` the build's app folder. Its output goes to the
build log (UTC timestamps) and to a progress callback. A build is reused when its tree id is
unchanged; a failing build hook raises `BuildFailure` and leaves earlier builds untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sunup.atomicfile import write_atomically
from sunup.build import composer
from sunup.build import toolchain as toolchains
from sunup.build.tree import source_files, tree_id
from sunup.errors import RuntimeFailure
from sunup.plan import environment
from sunup.plan.model import AppPlan
from sunup.supervisor.child import dying_with_parent

Progress = Callable[[str], None]
#: Wraps a build command's argv so that it runs in a group of its own (`InstanceCgroup.join_argv`).
Join = Callable[[Sequence[str]], list[str]]
#: Builds kept per app (the last used ones, and the running one): `prune_builds`.
KEEP_BUILDS = 3
_COMPLETE = ".complete.json"


class BuildFailure(RuntimeFailure):
    """The build hook (or a dependency install) failed; carries its exit status and last lines."""

    def __init__(
        self,
        app: str,
        step: str,
        status: int,
        tail: list[str],
        log: Path,
        *,
        message: str | None = None,
        hint: str | None = None,
    ) -> None:
        shown = "\n".join(f"    {line}" for line in tail)
        super().__init__(
            message or f"the build of '{app}' failed: {step} exited with status {status}\n  last lines:\n{shown}",
            hint=hint or f"the whole output is in {log} (sunup logs build)",
        )
        self.status = status


@dataclass(frozen=True)
class BuildResult:
    app: str
    tree_id: str
    #: The built app folder the instances run (PLATFORM_APP_DIR).
    app_dir: Path
    toolchain: toolchains.Toolchain
    #: True when an earlier identical build was reused.
    reused: bool


def build_config(app: AppPlan, variables: Mapping[str, Mapping[str, object]]) -> dict[str, object]:
    """What the build can see besides the files: it enters the tree id."""
    return {
        "type": app.type,
        "stack": list(app.stack),
        "dependencies": {k: dict(v) for k, v in app.dependencies.items()},
        "build": app.hooks.build,
        "flavor": app.build_flavor,
        "variables": {k: dict(v) for k, v in variables.items()},
    }


def build_app(
    app: AppPlan,
    *,
    project_root: Path,
    builds_dir: Path,
    log_path: Path,
    variables: Mapping[str, Mapping[str, object]],
    project: str,
    progress: Progress = lambda _line: None,
    join: Join = list,
) -> BuildResult:
    """Build `app` into ``builds_dir/<tree id>``, or reuse that build when it exists.

    Each command of the build gets SIGKILL if the process building dies (PR_SET_PDEATHSIG) and
    runs through `join` (the supervisor puts it in a cgroup, which the next `sunup up` clears of
    whatever the command left). A build is good only once its `.complete.json` is written: a
    folder without it (an interrupted build) is removed and built again.
    """
    source = project_root / app.source_root
    if not source.is_dir():
        raise RuntimeFailure(f"the source root of '{app.name}' does not exist: {source}", hint="check source.root")
    files = source_files(source)
    config = build_config(app, variables)
    tree = tree_id(source, files, config)
    target = builds_dir / tree
    marker = target / _COMPLETE
    recorded = _recorded(marker)
    if recorded is not None:
        progress(f"reusing the build {tree[:12]} of '{app.name}' (nothing changed)")
        with contextlib.suppress(OSError):
            os.utime(marker)  # used now: `prune_builds` keeps the last used ones
        return BuildResult(app.name, tree, target / "app", _toolchain_from(recorded), reused=True)
    if target.exists():
        shutil.rmtree(target)  # an interrupted build: start again
    app_dir = target / "app"
    progress(f"building '{app.name}' ({len(files)} files, tree {tree[:12]})")
    _copy(source, files, app_dir)
    toolchain = _build(
        app,
        app_dir,
        target,
        log_path=log_path,
        tree=tree,
        variables=variables,
        project=project,
        progress=progress,
        join=join,
    )
    # All at once, on the disk: a build killed here (or a full disk) has no marker or a whole one.
    write_atomically(marker, json.dumps({"tree_id": tree, "toolchain": _toolchain_json(toolchain)}))
    return BuildResult(app.name, tree, app_dir, toolchain, reused=False)


def build_in_place(
    app: AppPlan,
    *,
    app_dir: Path,
    work_dir: Path,
    log_path: Path,
    variables: Mapping[str, Mapping[str, object]],
    project: str,
    progress: Progress = lambda _line: None,
) -> tuple[str, toolchains.Toolchain]:
    """Build `app` in `app_dir` as it is, with the steps of `build_app` (toolchain, dependencies,
    build hook): an image's build, whose source was copied where it runs (`/app`). The toolchain,
    cache and output folders go in `work_dir`. Returns the tree id (of the files before the build)
    and the toolchain; raises `BuildFailure` as `build_app` does."""
    tree = tree_id(app_dir, source_files(app_dir), build_config(app, variables))
    progress(f"building '{app.name}' in {app_dir} (tree {tree[:12]})")
    work_dir.mkdir(parents=True, exist_ok=True)
    toolchain = _build(
        app,
        app_dir,
        work_dir,
        log_path=log_path,
        tree=tree,
        variables=variables,
        project=project,
        progress=progress,
        join=list,
    )
    return tree, toolchain


def _build(
    app: AppPlan,
    app_dir: Path,
    target: Path,
    *,
    log_path: Path,
    tree: str,
    variables: Mapping[str, Mapping[str, object]],
    project: str,
    progress: Progress,
    join: Join,
) -> toolchains.Toolchain:
    """The steps of a build once its files are in `app_dir`: toolchain, dependencies, build hook."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log:
        _log(log, f"Building application '{app.name}' (tree {tree})")
        toolchain = toolchains.prepare(app, target / "toolchain", _logged(log, progress))
        for warning in toolchain.warnings:
            progress(f"warning: {warning}")
            _log(log, f"warning: {warning}")
        env = _build_environment(app, app_dir, target, tree=tree, variables=variables, project=project)
        env = toolchain.apply(env)
        steps = _Steps(app.name, log, log_path, progress, join)
        extra_path = _install_dependencies(app, target / "toolchain", env, steps)
        if extra_path:
            toolchain = dataclasses.replace(toolchain, path=(*extra_path, *toolchain.path))
        unknown = composer.unknown_flavor(app)
        if unknown:
            progress(f"warning: {unknown}")
            _log(log, f"warning: {unknown}")
        if composer.runs_flavor(app, app_dir):
            said = f"running the composer build flavor of '{app.name}': {' '.join(composer.INSTALL_ARGV)}"
            progress(said)
            _log(log, said)
            _require_command("composer", "the composer build flavor", app.name, env)
            steps.run("composer install", list(composer.INSTALL_ARGV), app_dir, env, registry=True)
        if app.hooks.build:
            progress(f"running the build hook of '{app.name}'")
            _log(log, "Executing build hook...")
            steps.run("the build hook", ["/bin/sh", "-c", app.hooks.build], app_dir, env)
        _log(log, f"Build of '{app.name}' complete")
    return toolchain


def _copy(source: Path, files: list[Path], app_dir: Path) -> None:
    app_dir.mkdir(parents=True)
    for relative in files:
        destination = app_dir / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        origin = source / relative
        if origin.is_symlink():
            os.symlink(os.readlink(origin), destination)
        else:
            shutil.copy2(origin, destination)


def _build_environment(
    app: AppPlan,
    app_dir: Path,
    target: Path,
    *,
    tree: str,
    variables: Mapping[str, Mapping[str, object]],
    project: str,
) -> dict[str, str]:
    (target / "cache").mkdir(exist_ok=True)
    (target / "output").mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        # As on the platform (apps install tools in ~/.local and run them later); caches go
        # to PLATFORM_CACHE_DIR (`tool_caches`), so that the built app holds only what was built.
        "HOME": str(app_dir),
        **tool_caches(target / "cache"),
        "CI": "true",
        # Quiet package managers: no progress bars or self-update notices in the build log.
        "PIP_PROGRESS_BAR": "off",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "NPM_CONFIG_UPDATE_NOTIFIER": "false",
        "PLATFORM_APPLICATION_NAME": app.name,
        "PLATFORM_APP_DIR": str(app_dir),
        "PLATFORM_APPLICATION": environment.encode(dict(app.config)),
        "PLATFORM_CACHE_DIR": str(target / "cache"),
        "PLATFORM_OUTPUT_DIR": str(target / "output"),
        "PLATFORM_PROJECT": project,
        "PLATFORM_TREE_ID": tree,
        "PLATFORM_VARIABLES": environment.encode(environment.platform_variables(variables)),
    }
    env.update(environment.variables_environment(variables))
    return env


def tool_caches(cache: Path, environ: Mapping[str, str] = os.environ, home: Path | None = None) -> dict[str, str]:
    """Where package managers keep their caches during a build: in `cache` (PLATFORM_CACHE_DIR),
    not in the build's HOME, which is the app folder. Rust's toolchains stay where this machine
    keeps them (`$RUSTUP_HOME`, else ``~/.rustup`` of the user running sunup): a rustup proxy
    that another tool runs (pip asks `rustc --version`) would otherwise write a
    ``.rustup/settings.toml`` into the app."""
    user_home = home if home is not None else Path(environ.get("HOME") or Path.home())
    rustup = environ.get("RUSTUP_HOME") or (
        str(user_home / ".rustup") if (user_home / ".rustup").is_dir() else str(cache / "rustup")
    )
    return {
        "XDG_CACHE_HOME": str(cache),  # pip, uv, poetry, yarn, go, composer...
        "PIP_CACHE_DIR": str(cache / "pip"),
        "UV_CACHE_DIR": str(cache / "uv"),
        "npm_config_cache": str(cache / "npm"),
        "YARN_CACHE_FOLDER": str(cache / "yarn"),
        "COMPOSER_CACHE_DIR": str(cache / "composer"),
        "COMPOSER_HOME": str(composer.composer_home(cache)),  # else ~/.config/composer: in the app
        "GOMODCACHE": str(cache / "go" / "mod"),
        "CARGO_HOME": str(cache / "cargo"),
        "RUSTUP_HOME": rustup,
    }


def _install_dependencies(app: AppPlan, folder: Path, env: dict[str, str], steps: _Steps) -> list[str]:
    """Install `dependencies` (their commands on PATH in `env`); returns the PATH entries the
    instances need too (the toolchain's)."""
    progress = steps.progress
    instance_path: list[str] = []
    for manager, packages in app.dependencies.items():
        if not packages:
            continue
        specs = list(packages.items())
        if manager in ("python", "python3", "python2"):
            pip = Path(env.get("VIRTUAL_ENV", "")) / "bin" / "pip" if env.get("VIRTUAL_ENV") else None
            if pip is None or not pip.exists():
                venv = folder / "deps-venv"
                steps.run("creating a venv for dependencies", ["python3", "-m", "venv", str(venv)], folder, env)
                env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
                pip = venv / "bin" / "pip"
            argv = [
                str(pip),
                "install",
                *(name if version in ("*", "") else f"{name}=={version}" for name, version in specs),
            ]
        elif manager == "nodejs":
            argv = [
                "npm",
                "install",
                "--global",
                *(name if version in ("*", "") else f"{name}@{version}" for name, version in specs),
            ]
        elif manager == "php":
            wanted, repositories = composer.php_dependencies(app)
            cache = Path(env["PLATFORM_CACHE_DIR"])
            if repositories:
                app_dir = Path(env["PLATFORM_APP_DIR"])
                composer.write_global_manifest(composer.composer_home(cache), repositories, app_dir)
            specs, note = composer.global_packages(wanted, composer.local_composer_version(env["PATH"]))
            if note:
                progress(f"php dependencies: {note}")
                _log(steps.log, note)
            bin_dir = str(composer.global_bin(cache))
            env["PATH"] = f"{bin_dir}:{env['PATH']}"
            instance_path.append(bin_dir)
            if not specs:
                continue
            folder.mkdir(parents=True, exist_ok=True)  # the command's working folder
            argv = composer.require_argv(specs)
        elif manager == "ruby":
            env.setdefault("GEM_HOME", str(folder / "gems"))
            env["PATH"] = f"{folder / 'gems' / 'bin'}:{env['PATH']}"
            argv = ["gem", "install", *(name for name, _ in specs)]
        else:
            raise RuntimeFailure(f"sunup cannot install '{manager}' dependencies of '{app.name}'")
        _require_command(argv[0], f"installing the {manager} dependencies", app.name, env)
        progress(f"installing {manager} dependencies: {', '.join(name for name, _ in specs)}")
        steps.run(f"installing {manager} dependencies", argv, folder, env, registry=manager == "php")
    return instance_path


def _require_command(program: str, what: str, app: str, env: Mapping[str, str]) -> None:
    if shutil.which(program, path=env["PATH"]) is None:
        package = {"composer": "composer"}.get(program)
        raise RuntimeFailure(
            f"{what} of '{app}' needs `{program}`, which is not installed",
            hint=f"install it: apt-get install {package}" if package else None,
        )


@dataclass
class _Steps:
    """Runs the commands of one build, logging and reporting their output."""

    app: str
    log: IO[str]
    log_path: Path
    progress: Progress
    join: Join = list

    def run(self, step: str, argv: list[str], cwd: Path, env: Mapping[str, str], *, registry: bool = False) -> None:
        """Run one command; `registry`: a Composer command, whose failure to reach its package
        registry is reported as such."""
        _run_step(self, step, argv, cwd, env, registry=registry)


def _run_step(
    steps: _Steps, step: str, argv: list[str], cwd: Path, env: Mapping[str, str], *, registry: bool = False
) -> None:
    app, log, log_path, progress = steps.app, steps.log, steps.log_path, steps.progress
    tail: deque[str] = deque(maxlen=15)
    unreachable: str | None = None
    # The thread starting the command waits for it, so the death signal fires only when the
    # whole process dies.
    argv, preexec = dying_with_parent(steps.join(argv))
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C on `sunup up` reaches sunup, which stops the build
        preexec_fn=preexec,  # noqa: PLW1509 - only without setpriv: one prctl call
    ) as process:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            tail.append(line)
            _log(log, line)
            progress(f"  {line}")
            if registry and unreachable is None:
                unreachable = composer.unreachable_registry([line])
        status = process.wait()
    if status != 0:
        _log(log, f"{step} failed with exit status {status}")
        if unreachable is not None:
            raise BuildFailure(
                app,
                step,
                status,
                list(tail),
                log_path,
                message=f"the build of '{app}' failed: {step} needs the Composer registry {unreachable}, "
                "which this machine cannot reach",
                hint=composer.registry_hint(log_path),
            )
        raise BuildFailure(app, step, status, list(tail), log_path)


def _logged(log: IO[str], progress: Progress) -> Progress:
    """`progress`, also writing each line to the build log."""

    def say(line: str) -> None:
        _log(log, line)
        progress(line)

    return say


def _log(log: IO[str], line: str) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    log.write(f"[{stamp}] {line}\n")
    log.flush()


def _recorded(marker: Path) -> dict[str, object] | None:
    """What a complete build recorded; None when the build is not complete (or never was)."""
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def _toolchain_json(toolchain: toolchains.Toolchain) -> dict[str, object]:
    return {"runtime": toolchain.runtime, "path": list(toolchain.path), "environment": dict(toolchain.environment)}


def _toolchain_from(recorded: Mapping[str, object]) -> toolchains.Toolchain:
    data = recorded.get("toolchain")
    if not isinstance(data, dict):
        return toolchains.Toolchain(runtime="")
    return toolchains.Toolchain(
        runtime=str(data.get("runtime", "")),
        path=tuple(str(p) for p in data.get("path", [])),
        environment={str(k): str(v) for k, v in dict(data.get("environment", {})).items()},
    )


@dataclass(frozen=True)
class Pruned:
    """What `prune_builds` removed: how many builds, and how many bytes of disk that freed."""

    builds: int = 0
    freed: int = 0

    def describe(self) -> str:
        """``pruned 2 old builds, freed 61 MB``."""
        return f"pruned {self.builds} old build{'' if self.builds == 1 else 's'}, freed {_size(self.freed)}"


def prune_builds(builds_dir: Path, keep: Iterable[str] = (), count: int = KEEP_BUILDS) -> Pruned:
    """Remove the builds of `builds_dir` but the `count` last used (by their `.complete.json`'s
    time, which a reuse renews) and those named in `keep` (the one just built, the running one);
    an interrupted build (no `.complete.json`) not in `keep` goes too."""
    kept = set(keep)
    try:
        folders = [p for p in builds_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return Pruned()
    complete = [(marker.stat().st_mtime, p) for p in folders if (marker := p / _COMPLETE).is_file()]
    complete.sort(key=lambda pair: pair[0], reverse=True)
    kept.update(p.name for _, p in complete[:count])
    removed, freed = 0, 0
    for folder in folders:
        if folder.name in kept:
            continue
        size = _disk_usage(folder)
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():
            size -= _disk_usage(folder)
        else:
            removed += 1
        freed += max(size, 0)
    return Pruned(removed, freed)


def _disk_usage(folder: Path) -> int:
    """Bytes of disk the files and folders under `folder` use (each hard-linked file once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for parent, dirs, names in os.walk(folder):
        for name in [*dirs, *names]:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(parent, name))
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    total += info.st_blocks * 512
    return total


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.0f} {unit}" if count >= 10 * scale else f"{count / scale:.1f} {unit}"
    return f"{count} bytes"
