"""Old builds are pruned at each deploy: the last used few and the deployed one are kept, and
what was freed is said."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from sunup.build.builder import KEEP_BUILDS, build_app, prune_builds
from sunup.config import read_config
from sunup.deploy.deployment import Deployment
from sunup.plan.model import ProjectPlan
from sunup.plan.resolve import HostFacts, resolve_project

#: `composable` with no stack needs no toolchain: a build is a copy and a hook writing 2 MB.
CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    hooks:
      build: |
        head -c 2000000 /dev/zero > ballast.bin
    web:
      commands:
        start: "exec sleep 60"
"""


def _plan(root: Path) -> ProjectPlan:
    loaded = read_config(root)
    assert not loaded.diagnostics.has_errors(), list(loaded.diagnostics.errors)
    return resolve_project(loaded, HostFacts.for_project(root))


def _change(root: Path, n: int) -> None:
    (root / "version.txt").write_text(f"{n}\n")


def _build(root: Path, builds: Path) -> str:
    app = _plan(root).apps[0]
    result = build_app(
        app, project_root=root, builds_dir=builds, log_path=builds.parent / "build.log", variables={}, project="p"
    )
    return result.tree_id


def test_build_app_alone_removes_no_build(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """A build never removes another one by itself (the running one may be older than the last
    few): pruning is the deployment's step."""
    root = make_project({".upsun/config.yaml": CONFIG})
    builds = tmp_path / "builds"
    trees = []
    for n in range(KEEP_BUILDS + 2):
        _change(root, n)
        trees.append(_build(root, builds))
    assert sorted(p.name for p in builds.iterdir()) == sorted(trees)


def test_prune_keeps_the_last_used_and_the_named(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """Of six builds, the three last used and the one named (running) stay; an interrupted build
    goes; the bytes freed are counted from the disk."""
    root = make_project({".upsun/config.yaml": CONFIG})
    builds = tmp_path / "builds"
    trees = []
    for n in range(6):
        _change(root, n)
        trees.append(_build(root, builds))
        # Distinct times, oldest first, without waiting: the markers' times say the order of use.
        os.utime(builds / trees[-1] / ".complete.json", (1_000_000 + n, 1_000_000 + n))
    _change(root, 1)
    assert _build(root, builds) == trees[1]  # reused: now the last used
    (builds / ("0" * 40) / "app").mkdir(parents=True)  # an interrupted build
    pruned = prune_builds(builds, keep={trees[0]})
    assert sorted(p.name for p in builds.iterdir()) == sorted([trees[0], trees[1], trees[4], trees[5]])
    assert pruned.builds == 3
    assert 2 * 2_000_000 <= pruned.freed < 2 * 2_000_000 + 1_000_000  # two 2 MB builds and an empty one
    assert re.fullmatch(r"pruned 3 old builds, freed 4\.\d MB", pruned.describe()), pruned.describe()
    assert prune_builds(builds, keep={trees[0]}).builds == 0


def test_deploy_prunes_and_keeps_the_deployed_build(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """A deployment's build step prunes old builds, keeps the one deployed.json names even when
    it is the oldest, and says 'pruned N old builds, freed X MB'."""
    root = make_project({".upsun/config.yaml": CONFIG})
    state = tmp_path / "state"
    builds = state / "builds" / "app"
    said: list[str] = []
    trees = []
    for n in range(KEEP_BUILDS + 2):
        _change(root, n)
        deployment = Deployment(_plan(root), root, state, said.append)
        asyncio.run(deployment.build())
        trees.append(deployment.trees()["app"])
        os.utime(builds / trees[-1] / ".complete.json", (1_000_000 + n, 1_000_000 + n))
        if n == 0:
            (state / "deployed.json").write_text(json.dumps({"app": trees[0]}))  # still running
    kept = sorted(p.name for p in builds.iterdir())
    assert kept == sorted([trees[0], *trees[-KEEP_BUILDS:]])
    assert any(re.fullmatch(r"build: pruned 1 old build, freed 2\.\d MB", line) for line in said), said
