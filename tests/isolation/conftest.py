"""Fixtures for isolation tests: every backend this machine can run, and real processes in it.

Every group a test prepares is killed and removed afterwards, and every top-level group closed,
whether the test passed or not.
"""

from __future__ import annotations

import os
import select
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sunup.isolation import BACKENDS, InstanceCgroup, Isolation, IsolationError, Limits, open_isolation

#: How long a test waits for a child to say it is ready.
READY_TIMEOUT = 10.0


@dataclass
class Harness:
    """Opens isolations, prepares groups and starts shell scripts in them; cleans up after."""

    state_dir: Path
    backend: str
    isolations: list[Isolation] = field(default_factory=list)
    groups: list[InstanceCgroup] = field(default_factory=list)
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    state_dirs: set[Path] = field(default_factory=set)

    def open(self, state_dir: Path | None = None) -> Isolation:
        state_dir = state_dir or self.state_dir
        isolation = open_isolation(state_dir, backend=self.backend)
        self.isolations.append(isolation)
        self.state_dirs.add(state_dir)
        return isolation

    def prepare(self, instance_id: str = "web.0", limits: Limits | None = None) -> InstanceCgroup:
        isolation = self.isolations[0] if self.isolations else self.open()
        group = isolation.prepare(instance_id, limits)
        self.groups.append(group)
        return group

    def start(self, group: InstanceCgroup, script: str) -> subprocess.Popen[bytes]:
        """Run `script` with sh inside `group`, in its own session, stdout piped."""
        child = subprocess.Popen(
            ["/bin/sh", "-c", group.shell_prelude() + script],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **group.environment},
        )
        self.children.append(child)
        return child

    def start_ready(self, group: InstanceCgroup, script: str) -> subprocess.Popen[bytes]:
        """`start` a script that prints `ready` once its processes exist, and wait for that line."""
        child = self.start(group, script)
        assert read_line(child) == "ready"
        return child

    def cleanup(self) -> None:
        for group in self.groups:
            try:
                group.remove()
            except IsolationError:
                group.kill_all()
        for child in self.children:
            for pipe in (child.stdin, child.stdout):
                if pipe:
                    pipe.close()
            if child.poll() is None:
                # A group that lost track of its main process (a bug under test) leaks nothing.
                child.kill()
            child.wait(timeout=10)
        for state_dir in self.state_dirs:
            # A fresh isolation sees every group made under this state folder as stale.
            sweeper = open_isolation(state_dir, backend=self.backend)
            sweeper.clear_stale()
            sweeper.close()
        for isolation in self.isolations:
            isolation.close()


def read_line(child: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT) -> str:
    """One line of the child's stdout, waiting at most `timeout` seconds for it."""
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    assert ready, f"no output from pid {child.pid} within {timeout} s"
    return child.stdout.readline().decode().strip()


def gone(pid: int) -> bool:
    """The process has exited (it is reaped, or a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def _usable(backend: str, state_dir: Path) -> str | None:
    """None if `backend` can run here, else why not."""
    try:
        isolation = open_isolation(state_dir, backend=backend)
    except IsolationError as exc:
        return exc.message
    isolation.close()
    return None


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """A harness for each backend; skipped where this machine cannot run that backend."""
    backend: str = request.param
    reason = _usable(backend, tmp_path / "probe")
    if reason is not None:
        pytest.skip(f"{backend} unavailable here: {reason}")
    h = Harness(tmp_path / "state", backend)
    try:
        yield h
    finally:
        h.cleanup()


@pytest.fixture
def cgroup_harness(harness: Harness) -> Harness:
    """The harness, for the cgroup backends only."""
    if harness.backend == "none":
        pytest.skip("the fallback backend has no cgroup")
    return harness


def require_limit(harness: Harness, kind: str) -> None:
    """Skip unless the harness's isolation enforces `kind` (cpu, memory, pids) here."""
    isolation = harness.isolations[0] if harness.isolations else harness.open()
    if kind not in isolation.enforced:
        pytest.skip(f"{isolation.backend} does not enforce {kind} limits here: {isolation.warning}")
