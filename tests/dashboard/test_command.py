"""`sunup dashboard`: without a running supervisor it says so, without a traceback; with one it
starts the server the first time it is asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sunup.supervisor.statedir import StateDir, holder
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


def _carries_aiohttp(pid: int) -> bool:
    """Whether process `pid` has loaded aiohttp (its compiled HTTP parser is mapped)."""
    return "aiohttp" in Path(f"/proc/{pid}/maps").read_text()


def test_the_server_starts_when_first_asked_for(make_project: Callable[..., Path]) -> None:
    """An `up` whose dashboard is never opened carries no aiohttp and no server; the first
    `sunup dashboard` starts it, the next ones give the same URL."""
    project = make_project({".upsun/config.yaml": CONFIG})
    try:
        up = sunup(project, "up", "-d", "--settle", "0")
        assert up.returncode == 0, up.stderr
        supervisor = holder(StateDir.for_project(project))
        assert supervisor is not None
        assert not _carries_aiohttp(supervisor), "aiohttp loaded before the dashboard was asked for"
        assert not (project / ".sunup" / "dashboard.json").exists()
        first = sunup(project, "dashboard")
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("http://127.0.0.1:"), first.stdout
        assert _carries_aiohttp(supervisor)
        again = sunup(project, "dashboard")
        assert again.stdout == first.stdout
    finally:
        sunup(project, "down")
