"""The language toolchain of an app's `type:`, made from what this machine has.

- ``python:*``: an isolated virtual environment made with the requested interpreter where people
  have one (on PATH, pyenv's versions folder, uv's Python installs, ``/usr/local/bin``,
  ``/usr/bin``; else ``python3`` with a warning naming both versions), first on PATH at build and
  run time: ``python``, ``python3`` and ``python3.X`` are that interpreter, and ``pip install`` in
  a build hook installs into the app, not into the machine;
- ``nodejs:*``: the local node and npm, or nvm's node of the requested major version when the
  local one is another, with global installs going into the build;
- other runtimes: the local binary when present, else a clear error naming what to install.

Where interpreters are looked for is a `Places` value (`Places.of_this_machine()`), so that the
search can be run on any folder layout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.plan.model import AppPlan, frozen_map

#: The binary that proves a runtime is installed, and the Debian package that brings it.
RUNTIME_BINARIES: dict[str, tuple[str, str]] = {
    "python": ("python3", "python3"),
    "nodejs": ("node", "nodejs npm"),
    "php": ("php", "php-cli php-fpm"),  # FPM: a PHP app's web (sunup.php)
    "ruby": ("ruby", "ruby"),
    "golang": ("go", "golang"),
    "java": ("java", "default-jdk"),
    "elixir": ("elixir", "elixir"),
    "dotnet": ("dotnet", "dotnet-sdk (from Microsoft's repository)"),
    "rust": ("cargo", "cargo"),
    "lisp": ("sbcl", "sbcl"),
    "bun": ("bun", "bun (from npm: npm install -g bun)"),
}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Toolchain:
    """What a build and its instances need on PATH and in the environment for the app's runtime."""

    runtime: str
    path: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=frozen_map)
    warnings: tuple[str, ...] = ()

    def apply(self, env: dict[str, str]) -> dict[str, str]:
        """`env` with the toolchain's PATH entries first and its variables set."""
        result = dict(env)
        result.update(self.environment)
        if self.path:
            result["PATH"] = ":".join([*self.path, result.get("PATH", "/usr/local/bin:/usr/bin:/bin")])
        return result


def runtimes_of(app: AppPlan) -> list[tuple[str, str]]:
    """(runtime, version) pairs the app needs: its `type`, or its composable stack's runtimes."""
    if app.runtime != "composable":
        return [(app.runtime, app.version)]
    found = []
    for item in app.stack:
        name, _, version = item.partition("@")
        runtime = "python" if name.startswith("python") else "nodejs" if name == "nodejs" else name
        if runtime in RUNTIME_BINARIES:
            found.append((runtime, version))
    return found


@dataclass(frozen=True)
class Places:
    """Where this machine's interpreters may be: the folders that hold them and the PATH."""

    home: Path
    #: The PATH searched first (the user's own choice of interpreter).
    path: str = ""
    #: pyenv's root (`$PYENV_ROOT`); ``~/.pyenv`` is looked at too.
    pyenv_root: Path | None = None
    #: uv's Python installs (`$UV_PYTHON_INSTALL_DIR`); ``~/.local/share/uv/python`` is looked at too.
    uv_pythons: Path | None = None
    #: nvm's folder (`$NVM_DIR`); ``~/.nvm`` is looked at too.
    nvm_dir: Path | None = None
    #: The system's folders of interpreters, in order.
    system: tuple[Path, ...] = (Path("/usr/local/bin"), Path("/usr/bin"))

    @classmethod
    def of_this_machine(cls, environ: Mapping[str, str] = os.environ) -> Places:
        def folder(name: str) -> Path | None:
            return Path(environ[name]) if environ.get(name) else None

        home = Path(environ.get("HOME") or Path.home())
        return cls(
            home=home,
            path=environ.get("PATH", ""),
            pyenv_root=folder("PYENV_ROOT"),
            uv_pythons=folder("UV_PYTHON_INSTALL_DIR"),
            nvm_dir=folder("NVM_DIR"),
        )

    def pyenv_versions(self) -> list[Path]:
        return _unique([*(p / "versions" for p in [self.pyenv_root] if p), self.home / ".pyenv" / "versions"])

    def uv_folders(self) -> list[Path]:
        return _unique([*(p for p in [self.uv_pythons] if p), self.home / ".local" / "share" / "uv" / "python"])

    def nvm_versions(self) -> list[Path]:
        return _unique(
            [*(p / "versions" / "node" for p in [self.nvm_dir] if p), self.home / ".nvm" / "versions" / "node"]
        )


@dataclass(frozen=True)
class Interpreter:
    """An interpreter found on this machine: its program and the version it reports."""

    program: Path
    version: str


#: Runs a program and returns what it printed ("" when it cannot run): the seam for tests.
Probe = Callable[[list[str]], str]


def python_candidates(version: str, places: Places) -> list[Path]:
    """The programs that may be Python `version` (``3.10``), in the order they are tried: on
    PATH, pyenv's versions, uv's installs (newest patch release first), then the system's."""
    name = f"python{version}"
    found: list[Path] = []
    on_path = shutil.which(name, path=places.path) if places.path else None
    if on_path:
        found.append(Path(on_path))
    for versions in places.pyenv_versions():
        found.extend(folder / "bin" / name for folder in _newest_first(versions, rf"{re.escape(version)}\.(\d+)"))
    for pythons in places.uv_folders():
        pattern = rf"cpython-{re.escape(version)}\.(\d+)-[^+]*"
        found.extend(folder / "bin" / name for folder in _newest_first(pythons, pattern))
    found.extend(folder / name for folder in places.system)
    return _unique(found)


def find_python(version: str, places: Places, probe: Probe | None = None) -> Interpreter | None:
    """The first of `python_candidates` that runs and says it is `version` (a pyenv shim of a
    version that is installed but not enabled does not run)."""
    run = probe or _version_of
    for program in python_candidates(version, places):
        if os.access(program, os.X_OK):
            found = _python_of(program, run)
            if found.version == version:
                return found
    return None


def find_node(version: str, places: Places, probe: Probe | None = None) -> Interpreter | None:
    """nvm's newest node of major version `version` (``20``) that runs, if any."""
    run = probe or _version_of
    major = version.split(".", maxsplit=1)[0]
    for versions in places.nvm_versions():
        for folder in _newest_first(versions, rf"v{re.escape(major)}\.(\d+)\.(\d+)"):
            program = folder / "bin" / "node"
            local = run([str(program), "--version"]).lstrip("v") if os.access(program, os.X_OK) else ""
            if local.split(".")[0] == major:
                return Interpreter(program, local)
    return None


def prepare(app: AppPlan, folder: Path, progress: Progress, places: Places | None = None) -> Toolchain:
    """Make the toolchain of `app` in `folder` (inside the build); raise when a runtime is missing."""
    where = places or Places.of_this_machine()
    path: list[str] = []
    env: dict[str, str] = {}
    warnings: list[str] = []
    runtimes = runtimes_of(app)
    for runtime, version in runtimes:
        if runtime == "python":
            venv = folder / "venv"
            interpreter, warning = choose_python(version, where)
            if warning:
                warnings.append(warning)
            progress(f"creating a Python {interpreter.version} virtual environment with {interpreter.program}")
            _run(
                [str(interpreter.program), "-m", "venv", str(venv)],
                f"cannot create a virtual environment with {interpreter.program}",
            )
            path.append(str(venv / "bin"))
            env["VIRTUAL_ENV"] = str(venv)
        elif runtime == "nodejs":
            node_path, warning = choose_node(version, where, progress)
            if warning:
                warnings.append(warning)
            prefix = folder / "npm"
            prefix.mkdir(parents=True, exist_ok=True)
            path.append(str(prefix / "bin"))
            path.extend(node_path)
            env["NPM_CONFIG_PREFIX"] = str(prefix)
        else:
            _require(runtime)
            if runtime == "php" and app.runtime == "php":
                from sunup.php.instances import check_app

                check_app(app)  # FPM and runtime.extensions: before a deploy stops anything
    return Toolchain(
        runtime=",".join(r for r, _ in runtimes) or app.runtime,
        path=tuple(path),
        environment=frozen_map(env),
        warnings=tuple(warnings),
    )


def choose_python(version: str, places: Places) -> tuple[Interpreter, str | None]:
    """The interpreter of `python:<version>`, and a warning when it is not the one asked for."""
    if version:
        found = find_python(version, places)
        if found is not None:
            return found, None
    fallback = shutil.which("python3", path=places.path or None)
    if fallback is None:
        raise RuntimeFailure("no Python interpreter on this machine", hint="apt-get install python3 python3-venv")
    interpreter = _python_of(Path(fallback), _version_of)
    local = interpreter.version
    if version and local != version:
        return interpreter, (
            f"type asks for Python {version}, which is not installed here (looked on PATH, in pyenv's and uv's "
            f"folders, /usr/local/bin, /usr/bin); using {fallback} (Python {local}) instead"
        )
    return interpreter, None


def choose_node(version: str, places: Places, progress: Progress) -> tuple[list[str], str | None]:
    """The PATH entries for `nodejs:<version>` (none: the local node), and a warning."""
    local_node = shutil.which("node", path=places.path or None)
    local = _version_of([local_node, "--version"]).lstrip("v") if local_node else ""
    major = version.split(".", maxsplit=1)[0] if version else ""
    if local_node and (not major or local.split(".")[0] == major):
        progress(f"using Node.js {local} ({local_node})")
        return [], None
    found = find_node(version, places) if major else None
    if found is not None:
        progress(f"using Node.js {found.version} ({found.program}, from nvm)")
        return [str(found.program.parent)], None
    if local_node is None:
        _require("nodejs")
    return [], (
        f"type asks for Node.js {version}, which is not installed here (looked on PATH and in nvm's folder); "
        f"using {local_node} (Node.js {local}) instead"
    )


def _python_of(program: Path, probe: Probe) -> Interpreter:
    """The interpreter `program` runs (a shim's or a link's real program, when it says) and its
    X.Y version ("" when it does not run)."""
    said = probe([str(program), "-c", "import sys; print('%d.%d' % sys.version_info[:2], sys.executable)"]).split(
        maxsplit=1
    )
    real = Path(said[1]) if len(said) > 1 and os.path.isabs(said[1]) else program
    return Interpreter(real, said[0] if said else "")


def _newest_first(folder: Path, pattern: str) -> list[Path]:
    """The sub-folders of `folder` whose whole name matches `pattern`, by the numbers its groups
    catch, highest first."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    matched = [(m, name) for name in names if (m := re.fullmatch(pattern, name))]
    matched.sort(key=lambda pair: tuple(int(g) for g in pair[0].groups()), reverse=True)
    return [folder / name for _, name in matched]


def _unique(paths: Iterable[Path]) -> list[Path]:
    return list(dict.fromkeys(paths))


def _require(runtime: str) -> None:
    binary, package = RUNTIME_BINARIES.get(runtime, (runtime, runtime))
    if shutil.which(binary) is None:
        raise RuntimeFailure(
            f"the app's runtime '{runtime}' needs `{binary}`, which is not installed here",
            hint=f"install it: apt-get install {package}",
        )


def _version_of(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _run(argv: list[str], failure: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeFailure(f"{failure}: {result.stderr.strip().splitlines()[-1:] or result.returncode}")
