"""Opening a project: find it, read and check its configuration, resolve the plan.

The CLI and the supervisor call `load_plan`; nothing else reads configuration files.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sunup.config import read_config
from sunup.config.loader import LoadedConfig, find_project_root
from sunup.errors import ConfigError
from sunup.localsettings import read_settings
from sunup.plan.model import ProjectPlan
from sunup.plan.resolve import HostFacts, resolve_project
from sunup.supervisor.statedir import StateDir

#: In the state folder: the digest of the last configuration that passed the schema check
#: without a diagnostic (`sunup.config.read_config`; `sunup validate` does not use it).
SCHEMA_CACHE = "schema-valid"


def open_project(project_dir: str | Path | None = None) -> LoadedConfig:
    """Read and check the project at or above `project_dir` (the current folder by default).

    Raises `ProjectNotFoundError` when there is none and `ConfigError` when it has errors.
    """
    root = find_project_root(Path(project_dir) if project_dir else Path.cwd())
    loaded = read_config(root, schema_cache=StateDir.for_project(root).root / SCHEMA_CACHE)
    if loaded.diagnostics.has_errors():
        raise ConfigError(loaded)
    return loaded


def load_plan(
    project_dir: str | Path | None = None, facts: HostFacts | None = None
) -> tuple[LoadedConfig, ProjectPlan]:
    """The checked configuration and its resolved plan, with this machine's local settings."""
    loaded = open_project(project_dir)
    return loaded, resolve_project(loaded, facts or host_facts(loaded.root))


def host_facts(root: Path) -> HostFacts:
    """The project's stable ids and the resource settings stored in its state folder."""
    facts = HostFacts.for_project(root)
    return dataclasses.replace(facts, resources=read_settings(StateDir.for_project(root).root))
