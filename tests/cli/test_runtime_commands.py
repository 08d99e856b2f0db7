"""`sunup up/ps/restart/stop/start/logs/ssh/down/workers` end to end, as a user runs them."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CONFIG = """\
applications:
  app:
    type: python:3.12
    variables:
      env:
        type: none
    web:
      commands:
        start: "echo web says hello; exec sleep 1000"
      variables:
        env:
          type: web
    workers:
      queue:
        commands:
          start: "echo queue $TYPE $PLATFORM_APPLICATION_NAME; sleep 1000 & exec sleep 1001"
        variables:
          env:
            type: worker
"""

CRASHING = (
    CONFIG
    + """\
      broken:
        commands:
          start: "echo about to fail; exit 2"
"""
)


def sunup(project: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SUNUP_STOP_GRACE": "1", "NO_COLOR": "1"}
    env.pop("SUNUP_STATE_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "sunup", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait on a pidfd for `pid` to end; True when it did within `timeout`."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


@pytest.fixture
def project(make_project: Callable[..., Path]) -> Iterator[Path]:
    """A project with a web instance and a queue worker; whatever runs is stopped at the end."""
    root = make_project({".upsun/config.yaml": CONFIG})
    yield root
    sunup(root, "down")


def ps(project: Path) -> dict[str, dict[str, object]]:
    result = sunup(project, "ps", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


@pytest.mark.slow
def test_detached_session_from_up_to_down(project: Path) -> None:
    """up -d, ps, ssh, restart one worker, stop/start, logs, sv inside a shell, down."""
    started = sunup(project, "up", "-d", "--settle", "0.3")
    assert started.returncode == 0, started.stderr
    assert "queue.0" in started.stdout

    again = sunup(project, "up", "-d")
    assert again.returncode == 1
    assert "already running" in again.stderr

    rows = ps(project)
    assert set(rows) == {"web.0", "queue.0"}
    assert all(r["state"] == "running" for r in rows.values())

    shell = sunup(project, "ssh", "--worker", "queue", "--", 'echo "$TYPE $PLATFORM_APPLICATION_NAME $PWD"; exit 7')
    assert shell.returncode == 7
    kind, name, folder = shell.stdout.split()
    assert (kind, name) == ("worker", "app--queue")
    assert Path(folder).parent.parent == project.resolve() / ".sunup" / "builds" / "app"  # the built tree
    web_env = sunup(project, "ssh", "--", 'echo "$TYPE $PORT"')
    assert web_env.stdout.split()[0] == "web" and web_env.stdout.split()[1].isdigit()

    restarted = sunup(project, "restart", "--worker", "app--queue")
    assert restarted.returncode == 0, restarted.stderr
    after = ps(project)
    assert after["queue.0"]["pid"] != rows["queue.0"]["pid"]
    assert after["queue.0"]["restarts"] == 1
    assert after["web.0"]["pid"] == rows["web.0"]["pid"]

    sv = sunup(project, "ssh", "--worker", "queue", "--", "sv restart app")
    assert sv.returncode == 0 and sv.stdout.startswith("ok: run: app: (pid"), sv.stdout + sv.stderr

    assert sunup(project, "stop", "--worker", "queue").returncode == 0
    assert ps(project)["queue.0"]["state"] == "stopped"
    assert sunup(project, "start", "--worker", "queue").returncode == 0
    assert ps(project)["queue.0"]["state"] in ("starting", "running")

    logs = sunup(project, "logs", "--worker", "queue", "-n", "1")
    assert logs.stdout.endswith("queue worker app--queue\n")
    assert "web says hello" in sunup(project, "logs").stdout

    down = sunup(project, "down")
    assert down.returncode == 0, down.stderr
    assert "stopped 2 instances" in down.stderr
    gone = sunup(project, "ps")
    assert gone.returncode == 1
    assert "not running" in gone.stderr


@pytest.mark.slow
def test_up_detached_names_the_instance_that_fails(make_project: Callable[..., Path]) -> None:
    """up -d fails naming the crashing instance, its exit status and its last output."""
    root = make_project({".upsun/config.yaml": CRASHING})
    try:
        result = sunup(root, "up", "-d", "--settle", "0.3")
        assert result.returncode == 1
        assert "broken.0 did not stay up: exit status 2" in result.stderr
        assert "broken.0 | about to fail" in result.stderr
        assert ps(root)["web.0"]["state"] == "running"
    finally:
        sunup(root, "down")


@pytest.mark.slow
def test_killed_supervisor_leaves_nothing_running_after_next_up(project: Path) -> None:
    """SIGKILL of the supervisor ends its instances' processes; the next `up` clears what is left."""
    assert sunup(project, "up", "-d", "--settle", "0.2").returncode == 0
    rows = ps(project)
    supervisor_pid = int((project / ".sunup" / "supervisor.lock").read_text())
    os.kill(supervisor_pid, signal.SIGKILL)
    assert wait_gone(supervisor_pid, 5)
    for row in rows.values():
        assert wait_gone(int(row["pid"]), 5), f"{row['name']} (pid {row['pid']}) outlived the supervisor"  # type: ignore[call-overload]
    again = sunup(project, "up", "-d", "--settle", "0.2")
    assert again.returncode == 0, again.stderr
    assert set(ps(project)) == {"web.0", "queue.0"}


@pytest.mark.slow
def test_foreground_up_prefixes_output_and_stops_on_sigterm(project: Path) -> None:
    """`sunup up` shows output prefixed with instance names and stops everything on SIGTERM."""
    env = {**os.environ, "SUNUP_STOP_GRACE": "1", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sunup", "up"], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    seen = b""
    deadline = time.monotonic() + 20
    try:
        while b"web.0   | web says hello" not in seen or b"queue.0 | queue worker" not in seen:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and select.select([proc.stdout], [], [], remaining)[0], f"no prefixed output: {seen!r}"
            seen += os.read(proc.stdout.fileno(), 65536)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert sunup(project, "ps").returncode == 1


def test_commands_without_a_supervisor_say_so(project: Path) -> None:
    """ps/restart/ssh with nothing running fail with a clear message and a hint, no traceback."""
    for args in (("ps",), ("restart",), ("ssh", "--", "true")):
        result = sunup(project, *args)
        assert result.returncode == 1
        assert "sunup is not running for this project" in result.stderr
        assert "Traceback" not in result.stderr
    assert "sunup is not running" in sunup(project, "down").stderr


def test_workers_lists_workers_and_commands(project: Path) -> None:
    """`sunup workers` shows each worker with its instance name and start command."""
    result = sunup(project, "workers")
    assert result.returncode == 0
    assert "app--queue" in result.stdout
    assert "echo queue" in result.stdout
    as_json = json.loads(sunup(project, "workers", "--json").stdout)
    assert as_json[0]["name"] == "queue"


WITH_REDIS = """\
applications:
  app:
    type: python:3.12
    relationships:
      cache: "cache:redis"
    web:
      commands:
        start: "exec sleep 1000"
services:
  cache:
    type: redis:7.0
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (apt-get install redis-server)")
def test_up_supervises_services_and_gives_instances_their_credentials(make_project: Callable[..., Path]) -> None:
    """`up` starts the services first (supervised, shown by ps --services); instances see their
    relationship's variables; a killed supervisor's servers do not block the next `up`."""
    root = make_project({".upsun/config.yaml": WITH_REDIS})
    try:
        assert sunup(root, "up", "-d", "--settle", "0.2").returncode == 0
        shell = sunup(
            root, "ssh", "--", 'echo "$CACHE_SCHEME $CACHE_HOST"; [ -n "$PLATFORM_RELATIONSHIPS" ] && echo ok'
        )
        assert shell.stdout.split() == ["redis", "127.0.0.1", "ok"], shell.stderr
        services = json.loads(sunup(root, "ps", "--services", "--json").stdout)
        assert [(s["name"], s["state"]) for s in services] == [("cache.0", "running")]

        supervisor_pid = int((root / ".sunup" / "supervisor.lock").read_text())
        os.kill(supervisor_pid, signal.SIGKILL)
        assert wait_gone(supervisor_pid, 5)
        assert wait_gone(services[0]["pid"], 5), "the redis server outlived its supervisor"
        again = sunup(root, "up", "-d", "--settle", "0.2")
        assert again.returncode == 0, again.stderr
    finally:
        assert sunup(root, "down").returncode == 0


@pytest.mark.slow
def test_down_stops_a_supervisor_whose_socket_is_gone(project: Path) -> None:
    """`down` falls back to SIGTERM when the supervisor holds the lock but its socket is gone."""
    assert sunup(project, "up", "-d", "--settle", "0.2").returncode == 0
    rows = ps(project)
    (project / ".sunup" / "control.sock").unlink()
    result = sunup(project, "down")
    assert result.returncode == 0, result.stderr
    assert "sending it SIGTERM" in result.stderr
    for row in rows.values():
        assert wait_gone(int(row["pid"]), 5)  # type: ignore[call-overload]


@pytest.mark.slow
def test_python_m_sunup_supervisor_runs_in_the_background(project: Path) -> None:
    """`python -m sunup.supervisor` (start_background) reports ready and supervises like `up -d`."""
    from sunup.supervisor.background import start_background
    from sunup.supervisor.statedir import StateDir

    said: list[str] = []
    start_background(project, StateDir(project / ".sunup"), 1.0, say=said.append)
    assert any("listens on http://127.0.0.1:" in text for text in said)
    assert set(ps(project)) == {"web.0", "queue.0"}


@pytest.mark.slow
def test_logs_follow_shows_new_lines(project: Path) -> None:
    """`logs -f` prints the last lines, then each new line as the instance writes it (here: after a restart)."""
    assert sunup(project, "up", "-d", "--settle", "0.2").returncode == 0
    env = {**os.environ, "NO_COLOR": "1"}
    follower = subprocess.Popen(
        [sys.executable, "-m", "sunup", "logs", "--worker", "queue", "-n", "5", "-f"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
    )
    assert follower.stdout is not None
    try:

        def read_until(count: int) -> bytes:
            seen = b""
            deadline = time.monotonic() + 15
            while seen.count(b"queue worker app--queue") < count:
                remaining = deadline - time.monotonic()
                assert remaining > 0 and select.select([follower.stdout], [], [], remaining)[0], seen
                seen += os.read(follower.stdout.fileno(), 65536)  # type: ignore[union-attr]
            return seen

        read_until(1)
        assert sunup(project, "restart", "--worker", "queue").returncode == 0
        assert read_until(1).strip().endswith(b"queue worker app--queue")
    finally:
        follower.terminate()
        follower.wait(timeout=10)
        follower.stdout.close()
