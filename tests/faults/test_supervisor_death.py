"""SIGKILL of the supervisor — idle, during a deploy hook, during a build hook — and the next `up`.

The project's hooks block (a `sleep` they wait for) unless a file says they may go on, so the
kill lands at a known point; each hook and instance writes its pids to a file outside the
project, so the test can tell whether any of them outlived the supervisor.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.supervisor.background import wait_exit
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
    hooks:
      build: |
        echo $$ >> {marks}/build
        if [ ! -e {marks}/build-free ]; then sleep 36031 & echo $! >> {marks}/build; wait; fi
      deploy: |
        echo $$ >> {marks}/deploy
        if [ ! -e {marks}/deploy-free ]; then sleep 36032 & echo $! >> {marks}/deploy; wait; fi
    web:
      commands:
        start: "echo $$ >> {marks}/web; exec sleep 36033"
      mounts:
        uploads: {{source: storage, source_path: uploads}}
services:
  cache:
    type: redis-persistent:7.0
"""


def pids(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()] if path.exists() else []


def all_dead(found: list[int]) -> bool:
    return not any(alive(pid) for pid in found)


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    folder.chmod(0o777)
    return folder


@pytest.fixture
def project(faulty: Callable[[dict[str, str]], Project], marks: Path) -> Project:
    return faulty({".upsun/config.yaml": CONFIG.format(marks=marks), "index.txt": "one\n"})


def kill_supervisor(project: Project) -> int:
    pid = project.supervisor()
    assert pid is not None and pid > 0, "no supervisor runs"
    os.kill(pid, signal.SIGKILL)
    assert wait_exit(pid, WAIT), f"the supervisor (pid {pid}) outlived SIGKILL"
    return pid


def services(project: Project) -> list[dict[str, object]]:
    result = project("ps", "--services", "--json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


def up(project: Project) -> None:
    result = project("up", "-d", "--settle", "0.2")
    assert result.returncode == 0, result.stdout + result.stderr


def redis_port(project: Project) -> int:
    shell = project("ssh", "--", "echo $CACHE_PORT")
    assert shell.returncode == 0, shell.stderr
    return int(shell.stdout)


def test_killed_while_idle_the_next_up_keeps_mounts_and_service_data(project: Project, marks: Path) -> None:
    """After SIGKILL of an idle supervisor nothing of it runs; the next `up` starts one web.0 and
    one redis, and a file in a storage mount and a key in redis-persistent are still there."""
    import redis

    (marks / "build-free").touch()
    (marks / "deploy-free").touch()
    up(project)
    wait_for(lambda: len(pids(marks / "deploy")) == 1, "the deploy hook")
    write = project("ssh", "--", "echo kept > uploads/file")
    assert write.returncode == 0, write.stderr
    client = redis.Redis(port=redis_port(project), socket_timeout=10)
    assert client.set("kept", "yes")
    client.close()
    server = services(project)[0]["pid"]
    assert isinstance(server, int)

    kill_supervisor(project)
    wait_for(lambda: all_dead([*pids(marks / "web"), server]), "web.0 and redis to die with the supervisor", 10)

    up(project)
    web = [pid for pid in pids(marks / "web") if alive(pid)]
    assert len(web) == 1, f"web.0 runs {len(web)} times: {web}"
    assert [row["state"] for row in services(project)] == ["running"]
    assert project("ssh", "--", "cat uploads/file").stdout == "kept\n"
    client = redis.Redis(port=redis_port(project), socket_timeout=10)
    assert client.get("kept") == b"yes"
    client.close()
    assert len(pids(marks / "deploy")) == 1, "the deploy hook ran again for a tree already deployed"


def test_killed_during_a_deploy_hook_nothing_of_it_runs_and_the_next_up_deploys_again(
    project: Project, marks: Path
) -> None:
    """`sunup deploy` of a changed tree, SIGKILL of the supervisor while its deploy hook runs: the
    hook's processes die, `sunup deploy` fails with a message, and the next `up` runs the deploy
    hook of that tree again (it never finished) with the storage mount's files intact."""
    (marks / "build-free").touch()
    (marks / "deploy-free").touch()
    up(project)
    wait_for(lambda: len(pids(marks / "deploy")) == 1, "the first deploy hook")
    assert project("ssh", "--", "echo kept > uploads/file").returncode == 0
    (marks / "deploy-free").unlink()
    (project.root / "index.txt").write_text("two\n")
    deploy = project.start("deploy")
    wait_for(lambda: len(pids(marks / "deploy")) == 3, "the new deploy hook to block")
    hook = pids(marks / "deploy")[1:]

    supervisor = kill_supervisor(project)
    wait_for(lambda: all_dead(hook[:1]), f"the deploy hook (pid {hook[0]}) to die with the supervisor", 10)
    assert deploy.wait(timeout=WAIT) == 1
    said = project.output(deploy)
    assert "Traceback" not in said
    assert f"the supervisor (pid {supervisor}) ended during the deploy" in said, said
    assert "`sunup up` starts the project again and runs the deploy hook of this tree again" in said, said
    assert all_dead(pids(marks / "web"))

    (marks / "deploy-free").touch()
    up(project)
    assert all_dead(hook), f"what the deploy hook left ({hook}) outlived the next `up`"
    wait_for(lambda: len(pids(marks / "deploy")) == 4, "the deploy hook to run again")
    assert project("ssh", "--", "cat index.txt uploads/file").stdout == "two\nkept\n"
    assert len([pid for pid in pids(marks / "web") if alive(pid)]) == 1


def test_killed_during_the_build_the_half_build_is_not_used(project: Project, marks: Path) -> None:
    """SIGKILL while the build hook runs: `up -d` fails naming the supervisor's end, no process of
    the build is left, and the next `up` builds again instead of running the half-made tree."""
    starting = project.start("up", "-d", "--settle", "0.2")
    wait_for(lambda: len(pids(marks / "build")) == 2, "the build hook to block")
    build = pids(marks / "build")

    kill_supervisor(project)
    assert starting.wait(timeout=WAIT) == 1
    said = project.output(starting)
    assert "Traceback" not in said and "supervisor" in said, said
    wait_for(lambda: all_dead(build[:1]), f"the build hook (pid {build[0]}) to die with the supervisor", 10)
    assert pids(marks / "web") == [], "an instance started from a build that did not finish"

    (marks / "build-free").touch()
    (marks / "deploy-free").touch()
    up(project)
    assert all_dead(build), f"what the build hook left ({build}) outlived the next `up`"
    assert len(pids(marks / "build")) == 3, "the interrupted build was not run again"
    assert len([pid for pid in pids(marks / "web") if alive(pid)]) == 1
    builds = project.state.root / "builds" / "app"
    assert [p.name for p in builds.iterdir() if not (p / ".complete.json").exists()] == []
    assert processes_under(builds) != []  # web.0 runs in the complete build
