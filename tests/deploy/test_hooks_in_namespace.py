"""Hooks and crons run where web instance 0 runs: its read-only app folder and its mounts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONFIG = """\
applications:
  app:
    type: "nodejs:20"
    mounts:
      uploads: {source: storage, source_path: uploads}
    hooks:
      deploy: |
        echo from-deploy > uploads/deploy.txt
        if touch in-the-tree 2>/dev/null; then echo writable; else echo read-only; fi > uploads/tree.txt
    web:
      commands:
        start: "sleep 1000"
"""


@pytest.fixture
def running(make_project: Callable[..., Path], tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    root = make_project({".upsun/config.yaml": CONFIG})
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "NO_COLOR": "1",
        "SUNUP_STATE_DIR": str(tmp_path / "state"),
        "SUNUP_STOP_GRACE": "2",
    }
    up = subprocess.run(
        [sys.executable, "-m", "sunup", "-C", str(root), "up", "-d"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield root, env
    finally:
        subprocess.run(
            [sys.executable, "-m", "sunup", "-C", str(root), "down"],
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )


def test_deploy_hook_writes_into_the_mount_the_instance_sees(running: tuple[Path, dict[str, str]]) -> None:
    """A deploy hook's write to a mount is seen by web.0 in that mount; the rest of the tree is read-only."""
    root, env = running
    deadline = time.monotonic() + 60
    while True:
        seen = subprocess.run(
            [sys.executable, "-m", "sunup", "-C", str(root), "ssh", "--", "cat uploads/deploy.txt uploads/tree.txt"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if seen.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert seen.stdout.split() == ["from-deploy", "read-only"], seen.stdout + seen.stderr
    assert not list((Path(env["SUNUP_STATE_DIR"]) / "builds").rglob("deploy.txt")), "the hook wrote into the build"
