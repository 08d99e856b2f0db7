"""Reading an Upsun configuration: files → merged document → checked, with diagnostics.

`read_config(root)` is the whole pipeline up to the plan: `loader` reads the files (Upsun or
legacy) with positions, `checks` validates the shape against `schema`, `semantics` checks the
meaning. The result says everything that is wrong at once; it never raises for a user mistake.
"""

from __future__ import annotations

from pathlib import Path

from sunup.config.checks import check_schema
from sunup.config.loader import LoadedConfig, load_project
from sunup.config.semantics import check_meaning


def read_config(root: Path, *, prefer: str | None = None) -> LoadedConfig:
    """Read and check the configuration of the project at `root` (see `load_project`)."""
    loaded = load_project(root, prefer=prefer)
    check_schema(loaded.data, loaded.positions, loaded.diagnostics, legacy=loaded.format == "platform")
    check_meaning(loaded.data, loaded.positions, loaded.diagnostics)
    return loaded
