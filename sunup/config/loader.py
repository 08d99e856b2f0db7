"""Finding a project and reading its configuration files as Upsun does (spec §1).

The result is one merged document in the Upsun shape (``applications``, ``services``,
``routes``) whatever the format on disk, with the position of every key and value. Legacy
Platform.sh files are mapped onto that shape here (see `sunup.config.legacy`), so validation and
resolution only know one model. Reading files is the only I/O.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sunup.config import legacy
from sunup.config.diagnostics import Diagnostics, Mark, did_you_mean
from sunup.config.yamlfile import DataPath, Positions, YamlReader, render_path
from sunup.errors import ProjectNotFoundError

UPSUN_DIR = ".upsun"
LEGACY_APP_FILE = ".platform.app.yaml"
LEGACY_DIR = ".platform"
TOP_LEVEL_KEYS = ("applications", "services", "routes")
#: Files of `.platform/` that make its folder a project root.
_PROJECT_FILES = ("routes.yaml", "services.yaml", "applications.yaml")
#: Folders never searched for legacy app files.
_SKIP_DIRS = frozenset({"node_modules", "vendor", ".git", "__pycache__", ".venv", "venv"})


@dataclass
class LoadedConfig:
    """A project's configuration as read: merged data, positions, and what went wrong."""

    root: Path
    #: ``upsun`` or ``platform``.
    format: str
    #: The files read, relative to the root, in reading order.
    files: list[str]
    data: dict[str, Any]
    positions: Positions
    diagnostics: Diagnostics
    #: Where each app's configuration comes from (legacy: the folder of its file).
    app_dirs: dict[str, str] = field(default_factory=dict)

    def mark(self, path: DataPath) -> Mark | None:
        return self.positions.key(path)


def find_project_root(start: Path) -> Path:
    """The project at or above `start`: the repository root the platform would read.

    The closest folder holding `.upsun/`, or a legacy `.platform/` folder (with `routes.yaml`,
    `services.yaml` or `applications.yaml`, or beside `.git`), is the root: a multi-app
    repository keeps its apps in sub-folders, each with its own `.platform.app.yaml`, so a
    folder with only that file is the root only when no such folder is above it, or when it is
    a git clone of its own (the walk does not leave a repository for another one above it).
    """
    start = start.resolve()
    lone_app: Path | None = None
    for folder in (start, *start.parents):
        if (folder / UPSUN_DIR).is_dir() or _is_platform_root(folder):
            return folder
        if lone_app is None and (folder / LEGACY_APP_FILE).is_file():
            lone_app = folder
        if lone_app is not None and (folder / ".git").exists():
            break
    if lone_app is not None:
        return lone_app
    raise ProjectNotFoundError(
        f"no Upsun project in {start} or above it",
        hint="a project has a .upsun/ or .platform/ folder, or a .platform.app.yaml; use -C DIR to point at one",
    )


def _is_platform_root(folder: Path) -> bool:
    """Whether `folder` holds the project-wide legacy files (a `.platform/` of an app's own
    folder, such as `.platform/local/` of the Platform.sh CLI, does not count alone)."""
    platform = folder / LEGACY_DIR
    if not platform.is_dir():
        return False
    if (folder / ".git").exists():
        return True
    return any((platform / name).is_file() for name in _PROJECT_FILES)


def _include_resolver(root: Path) -> Any:
    def resolve(written: str, including: Path) -> Path | None:
        for base in (including.parent, root):
            try:
                candidate = (base / written).resolve()
            except (OSError, RuntimeError):  # a symbolic link loop: reading it says so
                return base / written
            if candidate.exists():
                return candidate
        return None

    return resolve


def load_project(root: Path, *, prefer: str | None = None) -> LoadedConfig:
    """Read every configuration file of the project at `root` (see `find_project_root`).

    A project with both formats is read as Upsun unless `prefer` is ``platform``.
    """
    positions = Positions()
    diagnostics = Diagnostics()
    reader = YamlReader(root, positions, diagnostics, _include_resolver(root))
    upsun_dir = root / UPSUN_DIR
    if upsun_dir.is_dir() and prefer != "platform":
        # Whatever is named *.yaml is read: a dangling symlink, a folder or a FIFO is reported as
        # such, where skipping it would hide a whole file.
        loaded = LoadedConfig(root, "upsun", [], {}, positions, diagnostics)
        try:
            files = sorted(p for p in upsun_dir.iterdir() if p.suffix in (".yaml", ".yml"))
        except OSError as exc:
            diagnostics.error("file-unreadable", f"cannot list {UPSUN_DIR}/: {exc.strerror}", Mark(UPSUN_DIR, 1, 1))
            return loaded
        _read_upsun(reader, files, loaded)
        return loaded
    loaded = LoadedConfig(root, "platform", [], {}, positions, diagnostics)
    legacy.read_platform(reader, root, loaded, skip_dirs=_SKIP_DIRS)
    return loaded


def _read_upsun(reader: YamlReader, files: list[Path], loaded: LoadedConfig) -> None:
    positions, diagnostics = loaded.positions, loaded.diagnostics
    merged: dict[str, Any] = {}
    #: Where an `applications:` key with nothing in it was written (the last one).
    empty_applications: Mark | None = None
    if not files:
        diagnostics.error(
            "no-config",
            f"{UPSUN_DIR}/ holds no .yaml file",
            Mark(UPSUN_DIR, 1, 1),
            hint="create .upsun/config.yaml with an `applications:` key",
        )
    for file in files:
        name = reader.display_name(file)
        loaded.files.append(name)
        # Each file gets its own positions, merged entry by entry: a later file's entry
        # replaces an earlier one whole (spec section 1).
        own = Positions()
        reader.positions = own
        try:
            data = reader.read_file(file)
        finally:
            reader.positions = positions
            positions.sources.update(own.sources)
        if data is None:
            continue
        if not isinstance(data, dict):
            diagnostics.error(
                "wrong-type",
                f"the top level of {name} must be a mapping of {', '.join(TOP_LEVEL_KEYS)}",
                own.value(()) or Mark(name, 1, 1),
            )
            continue
        for top, section in data.items():
            if top not in TOP_LEVEL_KEYS:
                diagnostics.error(
                    "unknown-key",
                    f"'{top}' is not a top-level key (expected {', '.join(TOP_LEVEL_KEYS)})",
                    own.keys.get((top,)),
                    path=top,
                    hint=did_you_mean(top, TOP_LEVEL_KEYS),
                )
                continue
            if top == "applications" and (section is None or section == {}):
                empty_applications = own.keys.get((top,))
            if section is None:
                continue
            if not isinstance(section, dict):
                merged.setdefault(top, section)
                positions.absorb(own, (top,))
                continue
            target = merged.setdefault(top, {})
            if not isinstance(target, dict):
                continue
            positions.keys.setdefault((top,), own.keys[(top,)])
            positions.values.setdefault((top,), own.values[(top,)])
            for entry in section:
                old = positions.keys.get((top, entry))
                if entry in target and old is not None:
                    what = top[:-1] if top != "routes" else "route"
                    diagnostics.warning(
                        "redefined",
                        f"{what} '{entry}' is also defined at {old}; this later definition "
                        "replaces it whole (files are read in alphabetical order)",
                        own.keys.get((top, entry)),
                        path=render_path((top, entry)),
                        related=old,
                    )
                    positions.drop((top, entry))
                    positions.absorb(own, (top, entry))
            target.update(section)
        _absorb_new(positions, own)
    loaded.data = merged
    if files and not merged.get("applications") and not diagnostics.has_errors():
        if empty_applications is not None:
            diagnostics.error(
                "missing-key",
                "`applications:` defines no application",
                empty_applications,
                path="applications",
                hint="add an application under it, such as `app: {type: 'python:3.14', ...}`",
            )
        else:
            diagnostics.error(
                "missing-key",
                "no application is defined: the configuration needs an `applications:` key",
                Mark(loaded.files[0], 1, 1),
                path="applications",
            )


def _absorb_new(positions: Positions, own: Positions) -> None:
    """Take the marks of a file's entries that no earlier file had (the common case: all)."""
    for mine, theirs in ((positions.keys, own.keys), (positions.values, own.values)):
        for path, mark in theirs.items():
            mine.setdefault(path, mark)


def walk_legacy_app_files(root: Path, skip_dirs: frozenset[str]) -> list[Path]:
    """Every `.platform.app.yaml` under `root`, in a stable order."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in skip_dirs and not d.startswith("."))
        if LEGACY_APP_FILE in files:
            found.append(Path(folder) / LEGACY_APP_FILE)
    return found
