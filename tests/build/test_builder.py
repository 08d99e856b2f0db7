"""Building an app: the build environment, the toolchain, reuse and failure (spec §3 step 1, §6)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.build.builder import BuildFailure, build_app
from sunup.config import read_config
from sunup.plan.model import AppPlan
from sunup.plan.resolve import HostFacts, resolve_project

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"

CONFIG = """\
applications:
  app:
    type: "python:{python}"
    variables:
      env:
        GREETING: hello
    hooks:
      build: |
        env | sort > build-env.txt
        python -c "import sys; print(sys.prefix)" > prefix.txt
        echo built
    web:
      commands:
        start: "python -m http.server $PORT"
"""


def _plan(root: Path) -> AppPlan:
    loaded = read_config(root)
    assert not loaded.diagnostics.has_errors(), list(loaded.diagnostics.errors)
    return resolve_project(loaded, HostFacts.for_project(root)).apps[0]


def _build(root: Path, builds: Path, variables: dict[str, dict[str, object]] | None = None) -> object:
    app = _plan(root)
    return build_app(
        app,
        project_root=root,
        builds_dir=builds,
        log_path=builds.parent / "build.log",
        variables=variables if variables is not None else {k: dict(v) for k, v in app.web.variables.items()},
        project="p1",
    )


@pytest.fixture
def project(make_project: Callable[..., Path]) -> Path:
    return make_project({".upsun/config.yaml": CONFIG.format(python=PYTHON), "main.py": "print('hi')\n"})


def test_build_runs_hook_in_build_environment(project: Path, tmp_path: Path) -> None:
    """The build hook runs in a copy of the source, with CI set, no PLATFORM_ENVIRONMENT, no relationships."""
    result = _build(project, tmp_path / "builds")
    app_dir = result.app_dir  # type: ignore[attr-defined]
    assert (app_dir / "main.py").read_text() == "print('hi')\n"
    assert not (project / "build-env.txt").exists(), "the build must not write into the user's working copy"
    env = dict(line.split("=", 1) for line in (app_dir / "build-env.txt").read_text().splitlines() if "=" in line)
    assert env["CI"] == "true"
    assert "PLATFORM_ENVIRONMENT" not in env and "PLATFORM_RELATIONSHIPS" not in env
    assert env["PLATFORM_APP_DIR"] == str(app_dir)
    assert env["PLATFORM_TREE_ID"] == result.tree_id  # type: ignore[attr-defined]
    assert env["GREETING"] == "hello"
    # python is the app's own virtual environment, first on PATH
    assert (app_dir / "prefix.txt").read_text().strip().startswith(str(tmp_path / "builds"))


def test_unchanged_build_is_reused_and_changes_rebuild(project: Path, tmp_path: Path) -> None:
    """A second build with nothing changed reuses the first; a source or variable change builds anew."""
    builds = tmp_path / "builds"
    first = _build(project, builds)
    again = _build(project, builds)
    assert again.reused and again.tree_id == first.tree_id  # type: ignore[attr-defined]
    (project / "main.py").write_text("print('changed')\n")
    changed = _build(project, builds)
    assert not changed.reused and changed.tree_id != first.tree_id  # type: ignore[attr-defined]
    other_vars = _build(project, builds, variables={"env": {"GREETING": "bonjour"}})
    assert not other_vars.reused and other_vars.tree_id != changed.tree_id  # type: ignore[attr-defined]


def test_failing_build_hook_reports_status_and_output(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """A build hook whose last command fails raises BuildFailure with the status and the last lines."""
    config = CONFIG.format(python=PYTHON).replace("echo built", 'echo "about to fail"; exit 7')
    root = make_project({".upsun/config.yaml": config})
    with pytest.raises(BuildFailure) as failure:
        _build(root, tmp_path / "builds")
    assert failure.value.status == 7
    assert "about to fail" in failure.value.message
    assert "build.log" in (failure.value.hint or "")


def test_only_the_last_command_decides(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """Without `set -e`, a failing command in the middle of a hook does not fail the build."""
    config = CONFIG.format(python=PYTHON).replace("echo built", "false\n        echo still built")
    root = make_project({".upsun/config.yaml": config})
    result = _build(root, tmp_path / "builds")
    assert not result.reused  # type: ignore[attr-defined]
