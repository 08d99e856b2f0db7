"""Reading an Upsun configuration: files → merged document → checked, with diagnostics.

`read_config(root)` is the whole pipeline up to the plan: `loader` reads the files (Upsun or
legacy) with positions, `checks` validates the shape against `schema`, `semantics` checks the
meaning, `scripts` the files it names (a `passthru` script). The result says everything that is
wrong at once; it never raises for a user mistake.

With a `schema_cache` file (`sunup.project.open_project` passes one in the state folder), a
document that passed the schema check without any diagnostic is remembered by a digest of its
data, of the format and of sunup's version and schema; reading the same document again skips
the schema check (and importing jsonschema: ~0.1 s of every `sunup up`). Only a document that
gave no diagnostic at all is remembered, so nothing that would be shown is ever skipped; the
meaning checks (and their warnings) always run. `sunup validate` never uses the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

from sunup.atomicfile import write_atomically
from sunup.config.loader import LoadedConfig, load_project
from sunup.config.scripts import check_scripts
from sunup.config.semantics import check_meaning


def read_config(root: Path, *, prefer: str | None = None, schema_cache: Path | None = None) -> LoadedConfig:
    """Read and check the configuration of the project at `root` (see `load_project`)."""
    loaded = load_project(root, prefer=prefer)
    legacy = loaded.format == "platform"
    key = _schema_key(loaded.data, legacy) if schema_cache is not None and not len(loaded.diagnostics) else None
    if key is None or schema_cache is None or not _known_valid(schema_cache, key):
        from sunup.config.checks import check_schema

        check_schema(loaded.data, loaded.positions, loaded.diagnostics, legacy=legacy)
        if key is not None and schema_cache is not None and not len(loaded.diagnostics):
            _remember_valid(schema_cache, key)
    check_meaning(loaded.data, loaded.positions, loaded.diagnostics)
    check_scripts(loaded.root, loaded.data, loaded.positions, loaded.diagnostics, loaded.app_dirs)
    return loaded


def _schema_key(data: Any, legacy: bool) -> str | None:
    """A digest of what the schema check's result depends on (None: do not cache)."""
    from sunup import __version__

    digest = hashlib.sha256(f"{__version__}\0{legacy}\0".encode())
    here = Path(__file__).parent
    for name in ("schema.py", "checks.py"):  # a development copy changes without a new version
        try:
            info = (here / name).stat()
        except OSError:
            return None
        digest.update(f"{name}:{info.st_mtime_ns}:{info.st_size}\0".encode())
    try:
        digest.update(repr(data).encode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        return None
    return digest.hexdigest()


def _known_valid(cache: Path, key: str) -> bool:
    try:
        return cache.read_text() == key
    except (OSError, ValueError):
        return False


def _remember_valid(cache: Path, key: str) -> None:
    """Write the key whole (`sunup.atomicfile`); only into an existing folder; never fails."""
    if not cache.parent.is_dir():
        return
    with contextlib.suppress(OSError):  # a cache: a full disk only costs the next check
        write_atomically(cache, key)
