"""The supervisor's watchdog: when the supervisor is SIGKILLed, every process of its cgroups
goes at once — an instance's background children and `setsid` escapees included — not at the
next `sunup up`; a supervisor that ends normally takes its watchdog with it."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.supervisor.background import wait_exit
from tests.faults.conftest import WAIT, Project, wait_for
from tests.supervisor.harness import alive

pytestmark = pytest.mark.slow

CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    web:
      commands:
        start: "sleep 36051 & echo $! >> {marks}; setsid sleep 36052 & echo $! >> {marks}; exec sleep 36053"
    workers:
      queue:
        commands:
          start: "(trap '' TERM; sleep 36054) & echo $! >> {marks}; exec sleep 36055"
"""


def _pids(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()] if path.exists() else []


def _watchdogs(supervisor: int) -> list[int]:
    """The supervisor's watchdog processes (`sunup-enter w SUPERVISOR ...`)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                len(argv) > 2
                and argv[0].rsplit(b"/", 1)[-1].startswith(b"sunup-enter")
                and argv[1:3]
                == [
                    b"w",
                    str(supervisor).encode(),
                ]
            ):
                found.append(int(entry))
    return found


@pytest.fixture
def project(faulty: Callable[[dict[str, str]], Project], tmp_path: Path) -> tuple[Project, Path]:
    marks = tmp_path / "marks"
    return faulty({".upsun/config.yaml": CONFIG.format(marks=marks)}), marks


def test_a_killed_supervisor_leaves_no_process_of_its_instances(project: tuple[Project, Path]) -> None:
    sunup, marks = project
    started = sunup("up", "-d", "--settle", "0.2")
    assert started.returncode == 0, started.stdout + started.stderr
    wait_for(lambda: len(_pids(marks)) == 3, "the instances' background children")
    supervisor = sunup.supervisor()
    assert supervisor is not None and supervisor > 0
    assert len(_watchdogs(supervisor)) == 1
    children = _pids(marks)
    assert all(alive(pid) for pid in children)

    os.kill(supervisor, signal.SIGKILL)
    assert wait_exit(supervisor, WAIT), "the supervisor outlived SIGKILL"
    wait_for(lambda: not any(alive(pid) for pid in children), "every background child to die with the supervisor", 10)
    wait_for(lambda: not _watchdogs(supervisor), "the watchdog to end", 10)


def test_a_supervisor_that_ends_normally_takes_its_watchdog(project: tuple[Project, Path]) -> None:
    sunup, _ = project
    started = sunup("up", "-d", "--settle", "0.2")
    assert started.returncode == 0, started.stdout + started.stderr
    supervisor = sunup.supervisor()
    assert supervisor is not None and supervisor > 0
    assert _watchdogs(supervisor)
    stopped = sunup("down")
    assert stopped.returncode == 0, stopped.stderr
    assert not _watchdogs(supervisor), "a watchdog outlived its supervisor's normal end"
    # So the next supervisor's instances are never killed by the previous one's watchdog.
    again = sunup("up", "-d", "--settle", "0.5")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "running" in sunup("ps").stdout
