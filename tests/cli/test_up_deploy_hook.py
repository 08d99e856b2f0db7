"""`sunup up -d` waits for the deploy hook, reports how it ended, and fails when it failed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.test_runtime_commands import ps, sunup


def config(deploy: str) -> str:
    return f"""\
applications:
  app:
    type: python:3.12
    hooks:
      deploy: |
        {deploy}
    web:
      commands:
        start: "exec sleep 1000"
    workers:
      queue:
        commands:
          start: "exec sleep 1001"
"""


@pytest.mark.slow
def test_up_detached_fails_when_the_deploy_hook_fails(make_project: Callable[..., Path]) -> None:
    """A failing deploy hook makes `up -d` exit 1 with its status, duration and last lines; the
    instances keep running, as on the platform."""
    root = make_project({".upsun/config.yaml": config("echo migrating the schema; sleep 0.5; exit 3")})
    try:
        result = sunup(root, "up", "-d", "--settle", "0.2")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "the deploy hook failed with exit status 3 after 0." in result.stderr
        assert "migrating the schema" in result.stderr  # its last lines
        assert "error: app: the deploy hook failed with exit status 3" in result.stderr
        assert "Traceback" not in result.stderr
        rows = ps(root)
        assert {name: row["state"] for name, row in rows.items()} == {"web.0": "running", "queue.0": "running"}
    finally:
        sunup(root, "down")


@pytest.mark.slow
def test_up_detached_returns_after_a_succeeding_deploy_hook(make_project: Callable[..., Path]) -> None:
    """`up -d` returns once the deploy hook has ended (not while it runs), saying it succeeded and
    how long it took."""
    root = make_project({".upsun/config.yaml": config("sleep 1.5; echo schema migrated")})
    try:
        result = sunup(root, "up", "-d", "--settle", "0.2")
        assert result.returncode == 0, result.stderr
        assert "sunup: app: the deploy hook succeeded after 1." in result.stderr
        log = (root / ".sunup" / "logs" / "app" / "web.0" / "deploy.log").read_text()
        assert "schema migrated" in log and "Command finished." in log  # ended before `up -d` returned
        assert "WEB.0" in result.stdout.upper()  # the instances' table follows
    finally:
        sunup(root, "down")
