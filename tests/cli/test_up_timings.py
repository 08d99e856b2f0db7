"""`sunup up` says how long each step took (build, each service ready, instances running, the
deploy hooks); `--timings` prints them as a table."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_runtime_commands import sunup

CONFIG = """\
applications:
  app:
    type: python:3.12
    relationships:
      cache: "cache:redis"
    hooks:
      deploy: "sleep 0.3"
    web:
      commands:
        start: "exec sleep 1000"
services:
  cache:
    type: redis:7.0
"""

NO_SERVICES = """\
applications:
  app:
    type: python:3.12
    web:
      commands:
        start: "exec sleep 1000"
"""

STEP = re.compile(r"^sunup: (build|service cache ready|instances running|deploy hooks): (\d+\.\d\d) s$", re.MULTILINE)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis-server)")
def test_up_detached_says_each_step_and_its_table(make_project: Callable[..., Path]) -> None:
    """One line per step, each once, with the deploy hooks' time covering their 0.3 s; the table
    has the same steps in the same order, then the total, which is not less than any step."""
    root = make_project({".upsun/config.yaml": CONFIG})
    try:
        result = sunup(root, "up", "-d", "--settle", "0.2", "--timings", timeout=120)
        assert result.returncode == 0, result.stderr
        said = [(m[1], float(m[2])) for m in STEP.finditer(result.stderr)]
        names = [name for name, _ in said]
        assert sorted(names) == sorted(["build", "service cache ready", "instances running", "deploy hooks"]), (
            result.stderr
        )
        assert dict(said)["deploy hooks"] >= 0.3
        assert "time: " not in result.stderr  # the supervisor's raw messages are not shown
        rows = re.findall(
            r"^(build|service cache ready|instances running|deploy hooks|total)\s+(\d+\.\d\d)$",
            result.stdout,
            re.MULTILINE,
        )
        assert [name for name, _ in rows] == [*names, "total"], result.stdout
        total = float(rows[-1][1])
        assert all(total >= seconds for _, seconds in said)
    finally:
        sunup(root, "down")


@pytest.mark.slow
def test_up_without_timings_prints_no_table(make_project: Callable[..., Path]) -> None:
    """Without `--timings` the lines are said but no table is printed; a project without services
    says no service line."""
    root = make_project({".upsun/config.yaml": NO_SERVICES})
    try:
        result = sunup(root, "up", "-d", "--settle", "0.2", timeout=120)
        assert result.returncode == 0, result.stderr
        assert {m[1] for m in STEP.finditer(result.stderr)} >= {"build", "instances running"}
        assert "service " not in result.stderr
        assert "SECONDS" not in result.stdout.upper()
    finally:
        sunup(root, "down")
