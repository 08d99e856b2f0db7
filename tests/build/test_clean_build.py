"""The built app holds the source and what the build made, nothing else: package managers' caches
and toolchain state go to PLATFORM_CACHE_DIR."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.build.builder import build_app, tool_caches
from sunup.build.tree import source_files
from sunup.config import read_config
from sunup.plan.resolve import HostFacts, resolve_project
from tests.conftest import EXAMPLES, copy_project


def _build(root: Path, builds: Path) -> Path:
    loaded = read_config(root)
    assert not loaded.diagnostics.has_errors(), list(loaded.diagnostics.errors)
    app = resolve_project(loaded, HostFacts.for_project(root)).apps[0]
    variables = {k: dict(v) for k, v in app.web.variables.items()}
    result = build_app(
        app,
        project_root=root,
        builds_dir=builds,
        log_path=builds.parent / "build.log",
        variables=variables,
        project="p",
    )
    return result.app_dir


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()}


#: Tools that follow the usual conventions, as a build hook runs them.
CONVENTIONS = """\
applications:
  app:
    type: "composable:25.05"
    hooks:
      build: |
        for dir in "${XDG_CACHE_HOME:-$HOME/.cache}/tool" "${PIP_CACHE_DIR:-$HOME/.cache/pip}" \\
            "${npm_config_cache:-$HOME/.npm}" "${CARGO_HOME:-$HOME/.cargo}/registry" \\
            "${RUSTUP_HOME:-$HOME/.rustup}" "${UV_CACHE_DIR:-$HOME/.cache/uv}"; do
          mkdir -p "$dir" && touch "$dir/cached" 2>/dev/null
        done
        echo made > made.txt
    web:
      commands:
        start: "exec sleep 60"
"""


def test_caches_of_conventional_tools_go_to_the_cache_folder(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """Caches written where XDG_CACHE_HOME, PIP_CACHE_DIR, npm_config_cache, CARGO_HOME and
    UV_CACHE_DIR say land in PLATFORM_CACHE_DIR, not in the app (the build's HOME)."""
    root = make_project({".upsun/config.yaml": CONVENTIONS})
    app_dir = _build(root, tmp_path / "builds")
    assert _files(app_dir) == {".upsun/config.yaml", "made.txt"}
    cache = app_dir.parent / "cache"
    assert (cache / "tool" / "cached").is_file()
    assert (cache / "pip" / "cached").is_file()
    assert (cache / "npm" / "cached").is_file()


def test_rust_toolchains_stay_where_the_machine_has_them(tmp_path: Path) -> None:
    """A machine's ~/.rustup (or $RUSTUP_HOME) is the build's RUSTUP_HOME; without one, the cache's."""
    home = tmp_path / "home"
    (home / ".rustup").mkdir(parents=True)
    cache = tmp_path / "cache"
    assert tool_caches(cache, {}, home)["RUSTUP_HOME"] == str(home / ".rustup")
    assert tool_caches(cache, {"RUSTUP_HOME": "/opt/rustup"}, home)["RUSTUP_HOME"] == "/opt/rustup"
    assert tool_caches(cache, {}, tmp_path / "bare")["RUSTUP_HOME"] == str(cache / "rustup")
    assert tool_caches(cache, {}, home)["CARGO_HOME"] == str(cache / "cargo")


@pytest.mark.slow
def test_the_seed_example_builds_only_its_own_files(tmp_path: Path) -> None:
    """Built from a clean copy, the seed example's app folder holds exactly its source files
    (pip installs into the toolchain's virtual environment; no .rustup, no .cache)."""
    root = copy_project(EXAMPLES / "workers", tmp_path / "workers")
    app_dir = _build(root, tmp_path / "builds")
    assert _files(app_dir) == {str(p) for p in source_files(root)}
    assert not (app_dir / ".rustup").exists() and not (app_dir / ".cache").exists()
