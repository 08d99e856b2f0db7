"""Signals to sunup: SIGTERM or SIGINT once (graceful stop), twice (SIGKILL at once), SIGHUP.

The foreground `sunup up` and the background supervisor of `sunup up -d` are both signalled.
After each stop nothing of the project is left: no process, no cgroup, no mount.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.isolation import BACKENDS
from sunup.isolation.ledger import Ledger
from sunup.supervisor.background import wait_exit
from tests.faults.conftest import WAIT, Project, processes_under, wait_for
from tests.supervisor.harness import alive

pytestmark = pytest.mark.slow

#: web.0 takes a second to stop after SIGTERM; queue.0 ignores SIGTERM (SIGKILL ends it).
CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    web:
      commands:
        start: |
          trap 'echo term >> {marks}/web-term; sleep 1; echo done >> {marks}/web-done; exit 0' TERM
          echo $$ >> {marks}/web
          sleep 36051 & wait
    workers:
      queue:
        commands:
          start: |
            trap 'echo term >> {marks}/queue-term' TERM
            echo $$ >> {marks}/queue
            while :; do sleep 36052 & wait; done
"""


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def nothing_left(project: Project) -> None:
    """No process runs in the project, no cgroup of it exists, nothing is mounted from it."""
    assert processes_under(project.root) == []
    ledger = Ledger.of(project.state.root)  # every top-level group sunup made, until it removes it
    groups = [path for backend in BACKENDS for places in ledger.places(backend) for path in places.values()]
    assert [path for path in groups if path.exists()] == []
    with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
        assert [line for line in mounts if str(project.root) in line] == []


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


@pytest.fixture
def project(faulty: Callable[[dict[str, str]], Project], marks: Path) -> Project:
    return faulty({".upsun/config.yaml": CONFIG.format(marks=marks)})


def run(project: Project, marks: Path, mode: str, grace: float) -> tuple[int, subprocess.Popen[bytes] | None]:
    """Start the project in `mode` (foreground, background); the pid to signal and the `up`."""
    if mode == "background":
        result = project("up", "-d", "--settle", "0.2", "--stop-grace", str(grace))
        assert result.returncode == 0, result.stdout + result.stderr
        pid = project.supervisor()
        assert pid is not None and pid > 0
        return pid, None
    up = project.start("up", "--stop-grace", str(grace))
    wait_for(lambda: (lines(marks / "web") and lines(marks / "queue")) or up.poll() is not None, "the instances")
    assert up.poll() is None, project.output(up)
    return up.pid, up


def ended(pid: int, up: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    if up is None:
        return wait_exit(pid, timeout)
    try:
        up.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


@pytest.mark.parametrize("mode", ["foreground", "background"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_one_signal_stops_everything_gracefully(project: Project, marks: Path, mode: str, sig: int) -> None:
    """Once: every instance gets SIGTERM; web.0 gets the second it needs; what ignores it is
    killed after the grace (2 s); `up` exits 0 and nothing of the project is left."""
    pid, up = run(project, marks, mode, grace=2)
    began = time.monotonic()
    os.kill(pid, sig)
    assert ended(pid, up, WAIT), f"sunup (pid {pid}) still runs {WAIT} s after {signal.Signals(sig).name}"
    took = time.monotonic() - began
    assert lines(marks / "web-term") == ["term"] and lines(marks / "web-done") == ["done"]
    assert lines(marks / "queue-term") == ["term"]
    assert 2 <= took < 2 + 5, f"the stop took {took:.1f} s with a 2 s grace"
    if up is not None:
        assert up.returncode == 0, project.output(up)
        assert "Traceback" not in project.output(up)
    assert not any(alive(int(p)) for p in lines(marks / "web") + lines(marks / "queue"))
    nothing_left(project)


@pytest.mark.parametrize("mode", ["foreground", "background"])
def test_a_second_signal_kills_everything_at_once(project: Project, marks: Path, mode: str) -> None:
    """A second SIGTERM (or SIGINT) during the graceful stop skips the rest of the grace (60 s)."""
    pid, up = run(project, marks, mode, grace=60)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: lines(marks / "queue-term"), "queue.0 to get SIGTERM")
    began = time.monotonic()
    os.kill(pid, signal.SIGINT)
    assert ended(pid, up, 10), "a second signal did not end sunup within 10 s (the grace is 60 s)"
    assert time.monotonic() - began < 10
    if up is not None:
        assert up.returncode == 0, project.output(up)
    assert not any(alive(int(p)) for p in lines(marks / "web") + lines(marks / "queue"))
    nothing_left(project)


def test_sighup_to_the_background_supervisor_deploys_the_changed_configuration(project: Project, marks: Path) -> None:
    """SIGHUP makes the -d supervisor read its configuration again and apply it, as `sunup
    deploy` does: the changed worker restarts, the supervisor stays the same process."""
    pid, _ = run(project, marks, "background", grace=1)
    config = project.root / ".upsun" / "config.yaml"
    config.write_text(config.read_text().replace(f"echo $$ >> {marks}/queue", f"echo $$ >> {marks}/new"))
    os.kill(pid, signal.SIGHUP)
    wait_for(lambda: lines(marks / "new"), "the changed queue worker to start")
    assert project.supervisor() == pid
    rows = {row["name"]: row for row in json.loads(project("ps", "--json").stdout)}
    assert rows["queue.0"]["state"] == "running" and rows["queue.0"]["pid"] == int(lines(marks / "new")[0])
    assert "SIGHUP" in project.state.supervisor_log.read_text()
    assert project("down").returncode == 0
    nothing_left(project)


def test_sighup_to_the_foreground_up_stops_it(project: Project, marks: Path) -> None:
    """A foreground `sunup up` whose terminal hangs up (SIGHUP) stops everything gracefully."""
    pid, up = run(project, marks, "foreground", grace=3)
    os.kill(pid, signal.SIGHUP)
    assert ended(pid, up, WAIT)
    assert up is not None and up.returncode == 0, project.output(up)
    assert lines(marks / "web-done") == ["done"]
    nothing_left(project)


BUILDING = """\
applications:
  app:
    type: "composable:25.05"
    hooks:
      build: |
        echo $$ >> {marks}/build
        sleep 36053 & echo $! >> {marks}/build; wait
    web:
      commands:
        start: "exec sleep 36054"
"""


@pytest.mark.parametrize("mode", ["foreground", "background"])
def test_a_signal_during_the_build_interrupts_it(
    faulty: Callable[[dict[str, str]], Project], marks: Path, mode: str
) -> None:
    """SIGTERM while the build hook runs (forever): sunup ends at once, the build's processes with it."""
    project = faulty({".upsun/config.yaml": BUILDING.format(marks=marks)})
    up = project.start("up", *(["-d"] if mode == "background" else []))
    wait_for(lambda: len(lines(marks / "build")) == 2, "the build hook")
    pid = project.supervisor()
    assert pid is not None and pid > 0
    os.kill(pid, signal.SIGTERM)
    assert wait_exit(pid, 10), "sunup waited for the build to end"
    assert up.wait(timeout=WAIT) == (0 if mode == "foreground" else 1), project.output(up)
    said = project.output(up)
    assert "Traceback" not in said
    if mode == "background":
        assert "stopped during the build" in said, said
    assert not any(alive(int(p)) for p in lines(marks / "build"))
    assert list((project.state.root / "builds").glob("*/*/.complete.json")) == [], "a build was not interrupted"
    nothing_left(project)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis-server)")
def test_a_second_signal_kills_the_services_too(faulty: Callable[[dict[str, str]], Project], marks: Path) -> None:
    """After a second signal the services are not stopped gracefully either: SIGKILL at once."""
    config = CONFIG.format(marks=marks) + "services:\n  cache:\n    type: redis:7.0\n"
    project = faulty({".upsun/config.yaml": config})
    pid, up = run(project, marks, "foreground", grace=60)
    server = project.state.root / "services" / "cache" / "server.log"
    wait_for(lambda: server.exists() and "Ready to accept connections" in server.read_text(), "redis")
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: lines(marks / "queue-term"), "queue.0 to get SIGTERM")
    os.kill(pid, signal.SIGTERM)
    assert ended(pid, up, 10), "a second signal did not end sunup within 10 s (the grace is 60 s)"
    assert up is not None and up.returncode == 0, project.output(up)
    events = project.state.supervisor_log.read_text()
    assert re.search(r"cache\.0: pid \d+ ended: killed by SIGKILL", events), events
    nothing_left(project)


def test_ctrl_c_during_the_build_stops_without_a_build_error(
    faulty: Callable[[dict[str, str]], Project], marks: Path
) -> None:
    """Ctrl-C (SIGINT to the terminal's whole process group) while the build hook runs: sunup
    stops the build itself (the hook never sees the SIGINT) and ends with status 0; the build is
    not reported as failed."""
    trapping = BUILDING.replace(
        "        echo $$ >> {marks}/build\n",
        "        trap 'echo hook got SIGINT' INT\n        echo $$ >> {marks}/build\n",
    )
    project = faulty({".upsun/config.yaml": trapping.format(marks=marks)})
    up = project.start("up")
    wait_for(lambda: len(lines(marks / "build")) == 2, "the build hook")
    os.killpg(up.pid, signal.SIGINT)
    assert up.wait(timeout=WAIT) == 0, project.output(up)
    said = project.output(up)
    assert "failed" not in said and "Traceback" not in said and "SIGINT" not in said, said
    assert not any(alive(int(p)) for p in lines(marks / "build"))
    nothing_left(project)


def test_ctrl_c_on_up_detached_while_it_waits_stops_what_it_started(
    faulty: Callable[[dict[str, str]], Project], marks: Path
) -> None:
    """Ctrl-C on `sunup up -d` while it waits for the build: the background supervisor it
    started is stopped too (it used to die silently on its broken report pipe, or go on)."""
    project = faulty({".upsun/config.yaml": BUILDING.format(marks=marks)})
    up = project.start("up", "-d")
    wait_for(lambda: len(lines(marks / "build")) == 2, "the build hook")
    pid = project.supervisor()
    assert pid is not None and pid > 0
    os.killpg(up.pid, signal.SIGINT)
    assert up.wait(timeout=WAIT) == 130, project.output(up)
    said = project.output(up)
    assert f"interrupted: stopping the background supervisor (pid {pid})" in said and "Traceback" not in said, said
    assert wait_exit(pid, 10)
    assert "stopped during the build" in project.state.supervisor_log.read_text()
    assert not any(alive(int(p)) for p in lines(marks / "build"))
    nothing_left(project)


def test_sigterm_during_a_deploys_build_stops_it_and_says_so(
    faulty: Callable[[dict[str, str]], Project], marks: Path
) -> None:
    """SIGTERM to the -d supervisor while `sunup deploy` builds: the build's processes are killed
    (not waited for), `sunup deploy` says the deploy was interrupted, and nothing is left."""
    blocking = BUILDING.replace("sleep 36053 &", "[ -e {marks}/block ] || exit 0; sleep 36053 &")
    project = faulty({".upsun/config.yaml": blocking.format(marks=marks), "index.txt": "one\n"})
    result = project("up", "-d", "--settle", "0.2")
    assert result.returncode == 0, result.stdout + result.stderr
    pid = project.supervisor()
    assert pid is not None and pid > 0
    (marks / "block").touch()
    (project.root / "index.txt").write_text("two\n")
    deploy = project.start("deploy")
    wait_for(lambda: len(lines(marks / "build")) == 3, "the deploy's build hook")
    os.kill(pid, signal.SIGTERM)
    assert wait_exit(pid, 10), "the supervisor waited for the build to end"
    assert deploy.wait(timeout=WAIT) == 1
    said = project.output(deploy)
    assert "interrupted" in said and "Traceback" not in said, said
    assert not any(alive(int(p)) for p in lines(marks / "build"))
    assert len(list((project.state.root / "builds").glob("*/*/.complete.json"))) == 1  # the first build only
    nothing_left(project)
