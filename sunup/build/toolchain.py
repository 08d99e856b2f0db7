"""The language toolchain of an app's `type:`, made from what this machine has.

- ``python:*``: an isolated virtual environment made with the local interpreter (the requested
  version when installed, else ``python3`` with a warning), first on PATH at build and run time,
  so ``pip install`` in a build hook installs into the app, not into the machine;
- ``nodejs:*``: the local node and npm, with global installs going into the build;
- other runtimes: the local binary when present, else a clear error naming what to install.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.plan.model import AppPlan, frozen_map

#: The binary that proves a runtime is installed, and the Debian package that brings it.
RUNTIME_BINARIES: dict[str, tuple[str, str]] = {
    "python": ("python3", "python3"),
    "nodejs": ("node", "nodejs npm"),
    "php": ("php", "php-cli"),
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


def prepare(app: AppPlan, folder: Path, progress: Progress) -> Toolchain:
    """Make the toolchain of `app` in `folder` (inside the build); raise when a runtime is missing."""
    path: list[str] = []
    env: dict[str, str] = {}
    warnings: list[str] = []
    runtimes = runtimes_of(app)
    for runtime, version in runtimes:
        if runtime == "python":
            venv = folder / "venv"
            interpreter, warning = _python(version)
            if warning:
                warnings.append(warning)
            progress(f"creating a Python {version or ''} virtual environment with {interpreter}".replace("  ", " "))
            _run([interpreter, "-m", "venv", str(venv)], f"cannot create a virtual environment with {interpreter}")
            path.append(str(venv / "bin"))
            env["VIRTUAL_ENV"] = str(venv)
        elif runtime == "nodejs":
            _require("nodejs")
            prefix = folder / "npm"
            prefix.mkdir(parents=True, exist_ok=True)
            path.append(str(prefix / "bin"))
            env["NPM_CONFIG_PREFIX"] = str(prefix)
            local = _version_of(["node", "--version"]).lstrip("v")
            if version and not local.startswith(version.split(".")[0] + "."):
                warnings.append(f"type asks for Node.js {version}; this machine has {local}")
        else:
            _require(runtime)
    return Toolchain(
        runtime=",".join(r for r, _ in runtimes) or app.runtime,
        path=tuple(path),
        environment=frozen_map(env),
        warnings=tuple(warnings),
    )


def _python(version: str) -> tuple[str, str | None]:
    wanted = shutil.which(f"python{version}") if version else None
    # A pyenv shim exists for versions that are installed but not enabled: it must also run.
    if wanted and _version_of([wanted, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]) == version:
        return wanted, None
    fallback = shutil.which("python3")
    if fallback is None:
        raise RuntimeFailure("no Python interpreter on this machine", hint="apt-get install python3 python3-venv")
    local = _version_of([fallback, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    if version and local != version:
        return fallback, f"type asks for Python {version}; using this machine's Python {local}"
    return fallback, None


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
    except OSError:
        return ""
    return result.stdout.strip()


def _run(argv: list[str], failure: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeFailure(f"{failure}: {result.stderr.strip().splitlines()[-1:] or result.returncode}")
