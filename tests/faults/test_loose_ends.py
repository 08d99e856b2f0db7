"""Faults the other fault tests found and left to fix: PostgreSQL outliving a SIGKILLed supervisor,
`sunup down` and `sunup up -d` run by a user who cannot read the project's state folder, and the
top-level cgroups `sunup down` left after a SIGKILLed supervisor.

The projects live in a folder others may enter (`open_faulty`): PostgreSQL runs as nobody when
sunup runs as root, and the other-user tests run sunup as nobody (65534).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable

import pytest

from sunup.isolation import BACKENDS
from sunup.isolation.ledger import Ledger
from tests.conftest import REPO
from tests.faults.conftest import Project, wait_for
from tests.faults.test_supervisor_death import kill_supervisor, services, up
from tests.supervisor.harness import alive

#: The user the other-user tests run sunup as (nobody).
OTHER_UID = 65534
#: A project without services: `up -d` costs one `sleep`.
PLAIN = """\
applications:
  app:
    type: "composable:25.05"
    web:
      commands:
        start: "exec sleep 36061"
"""
WITH_POSTGRESQL = """\
applications:
  app:
    type: "composable:25.05"
    relationships:
      db: "db:postgresql"
    web:
      commands:
        start: "exec sleep 36062"
services:
  db:
    type: postgresql:15
"""

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root can become another user")


def as_other_user(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    """`sunup ARGS` in the project, run as nobody (skips when nobody cannot run this Python)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv is not installed")
    result = subprocess.run(
        [setpriv, f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups", sys.executable, "-m", "sunup"]
        + list(args),
        cwd=project.root,
        env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "HOME": "/", "SUNUP_STOP_GRACE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "No module named sunup" in result.stderr or "Permission denied: '/" in result.stderr:
        pytest.skip(f"nobody cannot run this Python and sunup: {result.stderr[-200:]}")
    return result


@pytest.mark.slow
@pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/postgres"), reason="needs postgresql")
def test_postgresql_dies_with_a_killed_supervisor(open_faulty: Callable[[dict[str, str]], Project]) -> None:
    """SIGKILL of the supervisor kills PostgreSQL's postmaster at once, as it kills redis and
    mariadb (as root it ran through `setpriv --reuid`, which cleared its death signal: it ran on,
    parent 1, until the next `up` or `down`)."""
    project = open_faulty({".upsun/config.yaml": WITH_POSTGRESQL})
    up(project)
    [server] = services(project)
    postmaster = server["pid"]
    assert isinstance(postmaster, int) and alive(postmaster), server

    kill_supervisor(project)
    wait_for(lambda: not alive(postmaster), f"postgres (pid {postmaster}) to die with the supervisor", 10)


@needs_root
def test_down_as_a_user_who_cannot_read_the_lock_says_so(open_faulty: Callable[[dict[str, str]], Project]) -> None:
    """`sunup down` run by another user cannot read supervisor.lock (mode 0600): it says it cannot
    tell whether sunup runs, naming the file, and fails; the supervisor runs on. (It said
    "sunup is not running for this project" and exited 0.)"""
    project = open_faulty({".upsun/config.yaml": PLAIN})
    up(project)
    pid = project.supervisor()

    result = as_other_user(project, "down")
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr
    assert "cannot tell whether sunup runs" in result.stderr, result.stderr
    assert f"{project.state.lock}: Permission denied" in result.stderr, result.stderr
    assert "not running" not in result.stdout + result.stderr
    assert pid is not None and alive(pid) and project.supervisor() == pid


@needs_root
def test_up_detached_as_a_user_who_cannot_write_the_state_folder_says_so(
    open_faulty: Callable[[dict[str, str]], Project],
) -> None:
    """`sunup up -d` run by another user in a project whose state folder is root's fails naming
    what it cannot use — the lock, or with no lock yet the supervisor's log — and never shows
    what an older supervisor wrote to supervisor.log. (It said "the background supervisor ended
    before it was ready" and showed the log's old last lines.)"""
    project = open_faulty({".upsun/config.yaml": PLAIN})
    up(project)
    assert project("down").returncode == 0
    old = "a line an older supervisor wrote"
    with project.state.supervisor_log.open("a") as log:
        log.write(f"{old}\n")

    with_lock = as_other_user(project, "up", "-d", "--settle", "0.2")
    project.state.lock.unlink()
    without_lock = as_other_user(project, "up", "-d", "--settle", "0.2")

    for result, named in ((with_lock, project.state.lock), (without_lock, project.state.supervisor_log)):
        said = result.stdout + result.stderr
        assert result.returncode != 0, result
        assert "Traceback" not in said
        assert f"{named}: Permission denied" in said, said
        assert old not in said and "ended before it was ready" not in said, said
    assert project.supervisor() is None


def test_down_after_a_killed_supervisor_removes_the_top_level_groups(
    open_faulty: Callable[[dict[str, str]], Project],
) -> None:
    """After SIGKILL of the supervisor, `sunup down` kills what is left and removes the
    project's top-level `sunup-<hash>` group in every hierarchy; isolation.json forgets them.
    (It removed the instances' groups only: the top-level folders stayed, in every controller.)"""
    project = open_faulty({".upsun/config.yaml": PLAIN})
    up(project)
    ledger = Ledger.of(project.state.root)
    tops = [top for backend in BACKENDS for place in ledger.places(backend) for top in place.values()]
    assert tops and all(top.is_dir() for top in tops), tops

    kill_supervisor(project)
    result = project("down")
    assert result.returncode == 0, result.stderr
    assert "killed" in result.stdout + result.stderr
    assert [top for top in tops if top.exists()] == []
    assert [ledger.places(backend) for backend in BACKENDS] == [[] for _ in BACKENDS]
