"""A project deleted under a running sunup: the supervisor notices and stops all it started.

`rm -rf` of the project folder (or of its `.sunup/` alone) takes the control socket and the
lock file with it: no `sunup down` could reach the supervisor any more. It checks every `PERIOD` seconds
(`sunup.supervisor.presence`) and stops everything as on SIGTERM: instances, their background
children, servers, cgroups.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.isolation.ledger import top_name
from sunup.supervisor.background import wait_exit
from sunup.supervisor.presence import PERIOD
from tests.conftest import _sunup_cgroups
from tests.faults.conftest import WAIT, Project, processes_under, wait_for
from tests.supervisor.harness import alive

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis-server)"
    ),
]

CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    relationships:
      cache: "cache:redis"
    web:
      commands:
        start: "sleep 36041 & echo $! >> {marks}/pids; echo $$ >> {marks}/pids; exec sleep 36042"
    workers:
      queue:
        commands:
          start: "setsid sleep 36043 & echo $! >> {marks}/pids; exec sleep 36044"
services:
  cache:
    type: redis:7.0
"""

#: How long the supervisor may take to notice and stop everything (a few checks, the stop grace).
NOTICE = PERIOD * 3 + 10.0


def marked(marks: Path) -> list[int]:
    """The pids the instances wrote so far."""
    path = marks / "pids"
    return [int(word) for word in path.read_text().split()] if path.exists() else []


def rm_rf(folder: Path) -> None:
    """What a user runs: `rm -rf`, which may leave a file the supervisor wrote meanwhile (and
    say so); the lock file goes with the first pass."""
    subprocess.run(["rm", "-rf", str(folder)], check=False, capture_output=True)
    assert not (folder / ".sunup" / "supervisor.lock").exists() and not (folder / "supervisor.lock").exists()


def started(project: Project, marks: Path) -> tuple[int, list[int]]:
    """Start the project in the background; its supervisor's pid and every pid it started."""
    result = project("up", "-d", "--settle", "0.2")
    assert result.returncode == 0, result.stderr
    rows = json.loads(project("ps", "--json").stdout) + json.loads(project("ps", "--services", "--json").stdout)
    wait_for(lambda: len(marked(marks)) >= 3, "the instances' pids")
    pids = [int(r["pid"]) for r in rows] + marked(marks)
    supervisor = project.supervisor()
    assert supervisor is not None and supervisor > 0
    return supervisor, pids


@pytest.mark.parametrize("removed", ["project", "state"])
def test_deleting_the_project_stops_everything(
    faulty: Callable[[dict[str, str]], Project], tmp_path: Path, removed: str
) -> None:
    """`rm -rf` of the project (or of its .sunup/) under `up -d`: the supervisor, instances,
    their children (a setsid one too), the server and the cgroups are gone within seconds."""
    marks = tmp_path / "marks"
    marks.mkdir()
    project = faulty({".upsun/config.yaml": CONFIG.format(marks=marks)})
    supervisor, pids = started(project, marks)
    top = top_name(project.state.root)
    assert any(c.name == top for c in _sunup_cgroups())

    rm_rf(project.root if removed == "project" else project.state.root)

    assert wait_exit(supervisor, NOTICE), f"the supervisor (pid {supervisor}) still runs {NOTICE:g} s later"
    wait_for(lambda: not any(alive(pid) for pid in pids), "every process it started to end", timeout=WAIT)
    assert not processes_under(project.root)
    assert not [c for c in _sunup_cgroups() if c.name == top], "its cgroups are left"


def test_deleted_project_is_said_on_the_terminal(faulty: Callable[[dict[str, str]], Project], tmp_path: Path) -> None:
    """In the foreground, `sunup up` says that the project was deleted and stops as on SIGTERM."""
    marks = tmp_path / "marks"
    marks.mkdir()
    project = faulty({".upsun/config.yaml": CONFIG.format(marks=marks)})
    up = project.start("up")
    wait_for(lambda: "listens on" in project.output(up), "the web instance to start")
    wait_for(lambda: len(marked(marks)) >= 3, "the instances' pids")
    pids = marked(marks)

    rm_rf(project.root)

    assert up.wait(timeout=NOTICE) == 0
    text = project.output(up)
    # The project folder, or what went first with it (its state folder, the lock file in it).
    assert re.search(r"the (project folder|state folder|lock file) \S+ was (deleted|removed)", text), text
    assert f"{project.root.resolve()}" in text and "stopping everything it started" in text
    wait_for(lambda: not any(alive(pid) for pid in pids), "every process it started to end", timeout=WAIT)
