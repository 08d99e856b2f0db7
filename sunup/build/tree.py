"""The tree id of a build: a digest of the app's source files and of what the build can see.

`PLATFORM_TREE_ID` on the platform is the git tree of the app; sunup hashes the files the build
copies (git's view when the project is a git work tree: tracked and untracked-but-not-ignored
files; otherwise every file but sunup's own state), plus the build-visible configuration
(type, dependencies, build hook, flavor, variables), so changing any of them gives a new build.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: Folders never part of a build's source.
EXCLUDED_DIRS = frozenset({".git", ".sunup", "__pycache__"})


def source_files(source: Path) -> list[Path]:
    """The files of `source` a build copies, relative to it, in a stable order."""
    listed = _git_files(source)
    if listed is not None:
        return sorted(p for p in listed if not (set(p.parts) & EXCLUDED_DIRS))
    files: list[Path] = []
    for folder, dirs, names in os.walk(source):
        dirs[:] = [d for d in dirs if d not in EXCLUDED_DIRS]
        base = Path(folder).relative_to(source)
        files.extend(base / name for name in names)
    return sorted(files)


def _git_files(source: Path) -> list[Path] | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    names = {Path(n) for n in result.stdout.decode("utf-8", "surrogateescape").split("\0") if n}
    return [n for n in names if (source / n).is_file() or (source / n).is_symlink()]


def tree_id(source: Path, files: Iterable[Path], build_config: Mapping[str, Any]) -> str:
    """A 40-hex digest of the files' paths, modes and contents, and of `build_config`."""
    digest = hashlib.sha1(usedforsecurity=False)
    for relative in files:
        path = source / relative
        info = path.lstat()
        digest.update(str(relative).encode("utf-8", "surrogateescape") + b"\0")
        if stat.S_ISLNK(info.st_mode):
            digest.update(b"l" + os.readlink(path).encode("utf-8", "surrogateescape"))
        else:
            digest.update(b"x" if info.st_mode & 0o111 else b"f")
            with path.open("rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha1").digest())
        digest.update(b"\0")
    digest.update(json.dumps(build_config, sort_keys=True, default=str).encode())
    return digest.hexdigest()
