"""The deploy and post_deploy hooks: one shell script, logged, failure reported (spec §3)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sunup.deploy.hooks import run_hook

ENV = {"PATH": os.environ["PATH"], "GREETING": "hello"}


def test_deploy_hook_logs_launch_line_and_output(tmp_path: Path) -> None:
    """The hook's output lands in deploy.log after a timestamped 'Launching command' line."""
    result = asyncio.run(
        run_hook("deploy", "echo $GREETING\necho done", environment=ENV, cwd=tmp_path, log_dir=tmp_path)
    )
    assert result.ok and result.tail == ("hello", "done")
    lines = (tmp_path / "deploy.log").read_text().splitlines()
    assert lines[0].endswith("Launching command 'echo $GREETING\\necho done'.")
    assert lines[0][:4].isdigit() and lines[0][23] == "Z"  # 2026-11-29T01:02:03.456Z
    assert [line[25:] for line in lines[1:3]] == ["hello", "done"]


def test_only_the_last_command_decides_the_outcome(tmp_path: Path) -> None:
    """`false` in the middle does not fail the hook; a failing last command does, with its status."""
    fine = asyncio.run(run_hook("post_deploy", "false\ntrue", environment=ENV, cwd=tmp_path, log_dir=tmp_path))
    assert fine.ok
    failed = asyncio.run(run_hook("post_deploy", "true\nexit 4", environment=ENV, cwd=tmp_path, log_dir=tmp_path))
    assert failed.status == 4 and "exit status 4" in failed.describe()
    assert "failed with exit status 4" in (tmp_path / "post-deploy.log").read_text()


def test_set_e_stops_at_the_first_failure(tmp_path: Path) -> None:
    """A hook that says `set -e` fails at its first failing command."""
    result = asyncio.run(
        run_hook("deploy", "set -e\nfalse\necho unreachable", environment=ENV, cwd=tmp_path, log_dir=tmp_path)
    )
    assert result.status == 1 and "unreachable" not in result.tail
