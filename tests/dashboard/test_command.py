"""`sunup dashboard` without a running supervisor says so, without a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.cli.test_runtime_commands import sunup

CONFIG = """\
applications:
  app:
    type: python:3.12
    web:
      commands:
        start: "sleep 36004"
"""


def test_dashboard_of_a_project_that_does_not_run_is_a_runtime_error(make_project: Callable[..., Path]) -> None:
    """Exit status 1, the cause and how to start it; no URL printed."""
    project = make_project({".upsun/config.yaml": CONFIG})
    result = sunup(project, "dashboard")
    assert result.returncode == 1
    assert "sunup is not running for this project" in result.stderr
    assert "sunup up" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
