"""The image build context of an app: its Containerfile (golden), its files, its build steps."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.build.tree import source_files, tree_id
from sunup.container.record import read_record
from sunup.export.kubernetes.image import app_tree_id, containerfile, system_packages, write_contexts
from sunup.project import load_plan

GOLDEN = Path(__file__).parents[1] / "data" / "kubernetes-image"
#: A fixed tree id: the golden file pins the steps, not the digest of the seed's files.
TREE = "0123456789abcdef0123456789abcdef01234567"


def test_seed_containerfile_is_the_golden_one(seed_example: Path) -> None:
    """The seed's Containerfile: python base, sunup installed, /app, image-build, run-instance."""
    _, plan = load_plan(seed_example)
    app = plan.apps[0]
    text = containerfile(app, TREE, f"sunup/app:{TREE}")
    golden = GOLDEN / "workers.Containerfile"
    if os.environ.get("SUNUP_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_context_holds_sunup_the_config_and_the_apps_files(seed_example: Path, tmp_path: Path) -> None:
    """The context has sunup's source with an installable pyproject, the configuration, and
    exactly the app's files, whose tree id (read as the image's build reads it) names the image."""
    loaded, plan = load_plan(seed_example)
    [context] = write_contexts(plan, loaded.root, tmp_path / "ctx")
    folder = context.folder
    assert context.image == f"sunup/app:{context.tree_id}"
    assert context.tree_id == app_tree_id(plan.apps[0], loaded.root)
    assert f"ENV PLATFORM_TREE_ID={context.tree_id}" in (folder / "Containerfile").read_text()
    pyproject = tomllib.loads((folder / "sunup" / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["sunup"] == "sunup.cli:main"
    assert "click>=8.1" in pyproject["project"]["dependencies"]
    assert not any("pytest" in d for d in pyproject["project"]["dependencies"])
    assert (folder / "sunup" / "sunup" / "container" / "entrypoint.py").is_file()
    assert not list((folder / "sunup").rglob("__pycache__"))
    assert (folder / "project" / ".upsun" / "config.yaml").is_file()
    assert source_files(folder / "app") == source_files(seed_example)
    in_image = tree_id(folder / "app", source_files(folder / "app"), _build_config(plan))
    assert in_image == context.tree_id


def _build_config(plan: object) -> dict[str, object]:
    from sunup.build.builder import build_config

    app = plan.apps[0]  # type: ignore[attr-defined]
    return build_config(app, {k: dict(v) for k, v in app.web.variables.items()})


def test_composable_image_gets_its_runtimes_from_debian(make_project: Callable[..., Path]) -> None:
    """A composable app starts from Debian and installs the runtimes of its stack."""
    root = make_project(
        {
            ".upsun/config.yaml": (
                "applications:\n  app:\n    type: 'composable:25.05'\n    stack: [nodejs@22, python@3.12]\n"
                "    source: {root: /}\n    web: {commands: {start: 'node server.js'}}\n"
            )
        }
    )
    _, plan = load_plan(root)
    app = plan.apps[0]
    assert "nodejs" in system_packages(app) and "npm" in system_packages(app)
    assert containerfile(app, TREE, "x").splitlines()[3] == "FROM docker.io/library/debian:bookworm-slim"


@pytest.mark.slow
def test_image_build_runs_the_local_steps_and_run_instance_uses_them(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    """`sunup image-build` (the Containerfile's build step, run here without podman) makes the
    toolchain and runs the build hook in the app folder with the build environment; the
    instance then runs with that toolchain first on PATH and the build's output in place."""
    root = make_project(
        {
            ".upsun/config.yaml": (
                "applications:\n  app:\n    type: 'python:3.11'\n    source: {root: /}\n"
                "    hooks:\n      build: |\n"
                '        echo "ci=$CI env=${PLATFORM_ENVIRONMENT:-unset} python=$(command -v python)" > built.txt\n'
                "    workers:\n      queue:\n        commands:\n"
                "          start: 'cat built.txt; echo run python=$(command -v python); exec sleep 1000'\n"
                "    web: {commands: {start: 'sleep 1000'}}\n"
            )
        }
    )
    loaded, plan = load_plan(root)
    [context] = write_contexts(plan, loaded.root, tmp_path / "ctx")
    app_dir = tmp_path / "app"
    shutil.copytree(context.folder / "app", app_dir, symlinks=True)  # COPY app /app
    builds = tmp_path / "build"
    env = {"PATH": os.environ["PATH"], "SUNUP_BUILD_DIR": str(builds), "HOME": str(tmp_path)}
    project = context.folder / "project"
    sunup = [sys.executable, "-m", "sunup", "-C", str(project)]
    subprocess.run([*sunup, "image-build", "--app", "app", "--app-dir", str(app_dir)], env=env, check=True, timeout=300)
    record = read_record(builds, "app")
    assert record is not None and record.tree_id == context.tree_id and record.app_dir == app_dir
    venv = builds / "app" / "toolchain" / "venv" / "bin"
    assert (app_dir / "built.txt").read_text() == f"ci=true env=unset python={venv}/python\n"
    run_env = {**env, "SUNUP_ISOLATION": "none", "SUNUP_STATE_DIR": str(tmp_path / "state")}
    with subprocess.Popen(
        [*sunup, "run-instance", "--app", "app", "--group", "queue"],
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if " run python=" in line:
                break
        process.terminate()
        rest, _ = process.communicate(timeout=30)
    text = "".join(seen)
    assert f"ci=true env=unset python={venv}/python" in text
    assert f"run python={venv}/python" in text
    assert process.returncode == 0, text + rest


@pytest.mark.slow
def test_podman_builds_the_seed_image(seed_example: Path, tmp_path: Path) -> None:
    """podman builds the seed's image from its context (where podman and the base image exist)."""
    if shutil.which("podman") is None:
        pytest.skip(
            "podman is not installed here; and the base images (docker.io) cannot be pulled from this "
            "machine (no registry is reachable), so the build could not start anyway"
        )
    loaded, plan = load_plan(seed_example)
    [context] = write_contexts(plan, loaded.root, tmp_path / "ctx")
    base = containerfile(plan.apps[0], TREE, "x").splitlines()[3].split()[1]
    if subprocess.run(["podman", "image", "exists", base], check=False, timeout=60).returncode != 0:
        pytest.skip(f"the base image {base} is not present here, and no registry is reachable to pull it")
    built = subprocess.run(
        ["podman", "build", "-t", context.image, str(context.folder)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
