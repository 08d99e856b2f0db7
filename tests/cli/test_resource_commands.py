"""`sunup resources:set` / `sunup resources`: local sizes and counts, as `upsun resources:set` (spec §7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.project import load_plan

CONFIG = """\
applications:
  app:
    type: python:3.12
    container_profile: BALANCED
    web: {commands: {start: 'sleep 100'}}
    workers:
      queue: {commands: {start: 'sleep 100'}}
      mail: {commands: {start: 'sleep 100'}, container_profile: HIGH_CPU}
"""


def sunup(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "NO_COLOR": "1", "SUNUP_STATE_DIR": str(root / ".state")}
    return subprocess.run(
        [sys.executable, "-m", "sunup", "-C", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def project(make_project: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_project({".upsun/config.yaml": CONFIG})
    monkeypatch.setenv("SUNUP_STATE_DIR", str(root / ".state"))
    return root


def test_defaults_follow_the_default_strategy(project: Path) -> None:
    """Without settings, every group gets 0.5 CPU, its profile's RAM and one instance."""
    _loaded, plan = load_plan(project)
    sizes = {g.name: (g.resources.cpu, g.resources.memory_mb, g.resources.count) for g in plan.apps[0].groups}
    assert sizes == {"web": (0.5, 1088, 1), "queue": (0.5, 1088, 1), "mail": (0.5, 224, 1)}


def test_set_sizes_and_counts_are_kept_and_inherited(project: Path) -> None:
    """Sizes and counts are stored on this machine; workers inherit web's size unless set."""
    result = sunup(project, "resources:set", "--size", "web:1,app--mail:0.25", "--count", "queue:3")
    assert result.returncode == 0, result.stderr
    stored = json.loads((project / ".state" / "resources.json").read_text())
    assert stored == {"app:mail": {"cpu": 0.25}, "app:queue": {"count": 3}, "app:web": {"cpu": 1.0}}
    _loaded, plan = load_plan(project)
    sizes = {g.name: (g.resources.cpu, g.resources.memory_mb, g.resources.count) for g in plan.apps[0].groups}
    assert sizes == {"web": (1.0, 1920, 1), "queue": (1.0, 1920, 3), "mail": (0.25, 128, 1)}
    assert [g.instance_names() for g in plan.apps[0].groups][1] == ["queue.0", "queue.1", "queue.2"]
    table = sunup(project, "resources").stdout
    assert "app--queue  worker  1" in table and table.splitlines()[2].rstrip().endswith("3")


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--count", "queu:2"], 2, "did you mean 'queue'?"),
        (["--size", "web:3"], 1, "sizes: 0.1, 0.25, 0.5, 1, 2, 4, 8"),
        (["--count", "queue:0"], 1, "a whole number from 1 to 256"),
        (["--count", "queue"], 1, "NAME:VALUE"),
        ([], 2, "give --size and/or --count"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(
    project: Path, args: list[str], status: int, message: str
) -> None:
    """A bad name, size or count is refused with a hint, and no settings file is written."""
    result = sunup(project, "resources:set", *args)
    assert result.returncode == status
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (project / ".state" / "resources.json").exists()
