"""The supervisor's own limits, run by the real `sunup up -d`: it raises its open-file limit and
gives the instances the one sunup was started with; the services' servers get the instances'
process limit."""

from __future__ import annotations

import os
import resource
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sunup.control.client import ControlClient
from sunup.mounts.helper import NOFILE_VARIABLE
from sunup.supervisor import child
from sunup.supervisor.settings import PIDS_VARIABLE
from tests.faults.conftest import Project, wait_for
from tests.faults.test_misbehaving import down_leaves_nothing, instance_cgroups, pids_folder

#: A web instance exec'd directly (by `sunup-enter` where it is built) and a worker run by a shell.
CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    web:
      commands:
        start: "sleep 36081"
    workers:
      shell:
        commands:
          start: "sleep 36082; sleep 36082"
"""

WITH_REDIS = """\
applications:
  app:
    type: "composable:25.05"
    relationships:
      cache: "cache:redis"
    web:
      commands:
        start: "sleep 36083"
services:
  cache:
    type: redis:7.0
"""

#: The soft open-file limit `sunup up -d` is started with (a desktop's 1024, smaller).
SOFT = 700


@contextmanager
def soft_open_files(limit: int) -> Iterator[None]:
    """This process's soft open-file limit is `limit` meanwhile (what `sunup up -d` inherits)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_files(pid: int) -> tuple[int, int]:
    """(soft, hard) open-file limit of `pid`, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits", encoding="ascii") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError(f"no 'Max open files' in /proc/{pid}/limits")


def environment(pid: int) -> set[str]:
    """The names of the variables `pid` was started with."""
    with open(f"/proc/{pid}/environ", "rb") as environ:
        return {entry.split(b"=", 1)[0].decode() for entry in environ.read().split(b"\0") if entry}


def up(project: Project, **args: Any) -> dict[str, dict[str, Any]]:
    """`sunup up -d`; `ps` (with ARGS: `services=True` for the servers) by name."""
    started = project("up", "-d", "--settle", "0.2")
    assert started.returncode == 0, started.stdout + started.stderr
    return {row["name"]: row for row in ControlClient(project.state.socket).call("ps", **args)}


def test_the_supervisor_raises_its_open_file_limit_and_instances_get_the_original(
    faulty: Callable[[dict[str, str]], Project],
) -> None:
    """Started with a soft limit under the hard one, the supervisor raises its own to the hard
    limit (and says so in supervisor.log); the directly exec'd web instance and the shell worker
    see the soft limit sunup was started with, and no trace of how it was given back."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard <= SOFT:
        pytest.skip(f"the hard open-file limit ({hard}) leaves nothing to raise")
    project = faulty({".upsun/config.yaml": CONFIG})
    with soft_open_files(SOFT):
        rows = up(project)
    supervisor = project.supervisor()
    assert supervisor is not None
    assert open_files(supervisor)[0] > SOFT, "the supervisor kept the soft limit it was started with"
    assert f"open files limit raised from {SOFT} to" in project.state.supervisor_log.read_text()
    for name in ("web.0", "shell.0"):
        pid = rows[name]["pid"]
        assert open_files(pid)[0] == SOFT, f"{name} has the supervisor's raised limit"
        assert NOFILE_VARIABLE not in environment(pid), f"{name} was given {NOFILE_VARIABLE}"
    down_leaves_nothing(project, instance_cgroups(project))


HOOKS = """\
applications:
  app:
    type: "composable:25.05"
    hooks:
      build: "ulimit -Sn > {marks}/build"
      deploy: "ulimit -Sn > {marks}/deploy"
    web:
      commands:
        start: "sleep 36084"
"""


def test_builds_and_hooks_get_the_original_limit(faulty: Callable[[dict[str, str]], Project], tmp_path: Path) -> None:
    """The build and the deploy hook, run by the supervisor after it raised its own limit, see
    the soft limit sunup was started with, as the instances do."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard <= SOFT:
        pytest.skip(f"the hard open-file limit ({hard}) leaves nothing to raise")
    marks = tmp_path / "marks"
    marks.mkdir()
    project = faulty({".upsun/config.yaml": HOOKS.format(marks=marks)})
    with soft_open_files(SOFT):
        up(project)
    wait_for(lambda: (marks / "deploy").exists() and (marks / "deploy").read_text().strip(), "the deploy hook")
    assert (marks / "build").read_text().strip() == str(SOFT)
    assert (marks / "deploy").read_text().strip() == str(SOFT)
    down_leaves_nothing(project, instance_cgroups(project))


def test_a_child_without_the_helper_gets_the_original_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no `sunup-enter` (no namespace, or no compiler), `spawn`'s child sets the
    original soft limit itself, and such starts are not forked from several threads at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard <= 300:
        pytest.skip(f"the hard open-file limit ({hard}) is too low")
    monkeypatch.setattr(child, "_given_nofile", [300])
    assert not child.forks_without_python(None, None)
    read_end, write_end = os.pipe()
    try:
        started = child.spawn(["/bin/sh", "-c", "ulimit -Sn"], env={}, cwd=tmp_path, output=write_end)
    finally:
        os.close(write_end)
    with os.fdopen(read_end, "rb") as output:
        said = output.read()
    started.popen.wait(timeout=30)
    os.close(started.pidfd)
    assert said.strip() == b"300"
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard), "the supervisor's own limit is untouched"


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis-server)")
def test_a_service_server_gets_the_process_limit(
    faulty: Callable[[dict[str, str]], Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis server runs in a cgroup with the instances' process limit (`SUNUP_PIDS_LIMIT`):
    it had none, so a server forking without end took the machine's pids."""
    monkeypatch.setenv(PIDS_VARIABLE, "777")
    project = faulty({".upsun/config.yaml": WITH_REDIS})
    rows = up(project, services=True)
    groups = instance_cgroups(project)
    server = next(key for key in groups if key.endswith("cache.0"))
    assert (pids_folder(groups[server]) / "pids.max").read_text().strip() == "777"
    assert (pids_folder(groups["app.web.0"]) / "pids.max").read_text().strip() == "777"
    assert [row["state"] for row in rows.values()] == ["running"], rows
    down_leaves_nothing(project, groups)


def test_no_raise_when_the_soft_limit_is_the_hard_one() -> None:
    """Nothing to raise, nothing to give back: the limit stays and `spawn` keeps vfork."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        pytest.skip("the soft open-file limit is under the hard one here")
    assert child.raise_open_file_limit() is None
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)
