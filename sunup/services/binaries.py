"""Finding a service's server program on this machine, and its version.

sunup runs the machine's own binaries (Debian's packages). A missing one is a `RuntimeFailure`
that names the package to install; a version other than the one in `type:` is a warning, since
the local binary is what runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sunup.errors import RuntimeFailure

#: Folders searched after PATH: Debian puts servers in sbin, which users' PATH often lacks.
SYSTEM_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass(frozen=True, slots=True)
class Binary:
    """One server program found on this machine."""

    path: Path
    #: ``10.11.19``; "" when it could not be told.
    version: str


def find_program(name: str, *, service: str, package: str, extra_dirs: Iterable[Path] = ()) -> Path:
    """The path of `name` (in `extra_dirs`, PATH or the system folders), or a clear error."""
    for folder in extra_dirs:
        candidate = folder / name
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SYSTEM_DIRS))
    if found:
        return Path(found)
    raise RuntimeFailure(
        f"service '{service}' needs the program '{name}', which is not installed on this machine",
        hint=f"install it with: sudo apt-get install {package}",
    )


def version_of(argv: list[str], pattern: str = r"(\d+\.\d+(?:\.\d+)?)") -> str:
    """The first version number that `argv` (e.g. ``postgres --version``) prints; "" if none."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.search(pattern, result.stdout + result.stderr)
    return match.group(1) if match else ""


def version_matches(wanted: str, local: str) -> bool:
    """True when `local` (``10.11.19``) is a release of `wanted` (``10.11``)."""
    if not wanted or not local:
        return True
    return local.split(".")[: len(wanted.split("."))] == wanted.split(".")


def version_warning(service: str, type_: str, engine: str, binary: Binary, same_versions: Iterable[str]) -> str | None:
    """The warning to give when `type_` (``mariadb:11.4``) asks for another version than `binary`'s.

    `same_versions` are the types numbered like `engine` (``redis-persistent`` like ``redis``);
    others (``mysql:8.0`` run by MariaDB) always differ.
    """
    kind, _, wanted = type_.partition(":")
    if kind in set(same_versions) and version_matches(wanted, binary.version):
        return None
    local = f"{engine} {binary.version}" if binary.version else engine
    return (
        f"service '{service}' asks for {kind} {wanted}; this machine has {local} ({binary.path}), "
        "which sunup runs instead"
    )
