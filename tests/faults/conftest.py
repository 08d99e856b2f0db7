"""Fault tests: a project driven by the real `sunup` command, and whatever it started cleaned up.

The `faulty` fixture makes projects; at the end of the test, passed or failed, each one is
stopped (`sunup down`), its supervisor and the commands the test started are SIGKILLed if they
still run, and `sunup down` runs again to clear what a killed supervisor left (its cgroups).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sunup.isolation import open_isolation
from sunup.supervisor.statedir import StateDir, holder
from tests.cli.test_runtime_commands import sunup
from tests.conftest import project_maker
from tests.services.conftest import make_state_dir

#: The stop grace the tests run with (SUNUP_STOP_GRACE), and the longest any wait may take.
GRACE = 1.0
WAIT = 30.0


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    """Poll `condition` until it is true; fail saying `what` did not happen within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def processes_under(folder: Path) -> list[int]:
    """Live processes whose working folder is `folder` or below it (zombies excluded)."""
    found = []
    prefix = str(folder.resolve())
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                zombie = stat.read().rpartition(")")[2].split()[0] in ("Z", "X")
        except OSError:
            continue
        if not zombie and (cwd == prefix or cwd.startswith(prefix + "/")):
            found.append(int(entry))
    return found


@dataclass
class Project:
    """A project folder and the `sunup` commands a test runs on it."""

    root: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    supervisors: set[int] = field(default_factory=set)

    @property
    def state(self) -> StateDir:
        return StateDir(self.root / ".sunup")

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `sunup ARGS` to its end (stop grace GRACE, no colours)."""
        result = sunup(self.root, *args, timeout=timeout)
        self.note_supervisor()
        return result

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start `sunup ARGS` without waiting, in a process group of its own (as a shell runs a
        command: `os.killpg(process.pid, SIGINT)` is a Ctrl-C); its output goes to a file (`output`)."""
        env = {**os.environ, "SUNUP_STOP_GRACE": str(GRACE), "NO_COLOR": "1"}
        env.pop("SUNUP_STATE_DIR", None)
        with open(self.root.parent / f"sunup-{len(self.started)}.out", "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "sunup", *args],
                cwd=self.root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        self.started.append(process)
        return process

    def output(self, process: subprocess.Popen[bytes]) -> str:
        return (self.root.parent / f"sunup-{self.started.index(process)}.out").read_text(errors="replace")

    def supervisor(self) -> int | None:
        """The pid of the running supervisor (None when none runs)."""
        pid = holder(self.state)
        if pid is not None and pid > 0:
            self.supervisors.add(pid)
        return pid

    def note_supervisor(self) -> None:
        self.supervisor()

    def cleanup(self) -> None:
        if self.supervisor() is not None:
            # A wedged supervisor (the bug under test) must not stop the rest of the cleanup.
            with contextlib.suppress(subprocess.TimeoutExpired):
                sunup(self.root, "down", timeout=60)
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)
        for pid in self.supervisors:  # only the supervisors of this project
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.state.root.exists():
            sunup(self.root, "down", timeout=120)  # clears what a killed supervisor left
            isolation = open_isolation(self.state.root)
            isolation.clear_stale()
            isolation.close()
        for pid in processes_under(self.root):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _projects(make_root: Callable[..., Path]) -> Iterator[Callable[[dict[str, str]], Project]]:
    projects: list[Project] = []

    def make(files: dict[str, str]) -> Project:
        project = Project(make_root(files, name=f"project{len(projects)}"))
        projects.append(project)
        return project

    yield make
    for project in projects:
        project.cleanup()


@pytest.fixture
def faulty(make_project: Callable[..., Path]) -> Iterator[Callable[[dict[str, str]], Project]]:
    """Makes projects from files (relative path -> text); each is cleaned up after the test."""
    yield from _projects(make_project)


@pytest.fixture
def open_faulty() -> Iterator[Callable[[dict[str, str]], Project]]:
    """`faulty`, in a folder under /tmp that others may enter (pytest's are 0700): for PostgreSQL
    as root (it runs as nobody) and for sunup run as another user. The folder goes at the end."""
    folder = make_state_dir(prefix="sunup-faults-")
    try:
        yield from _projects(project_maker(folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
