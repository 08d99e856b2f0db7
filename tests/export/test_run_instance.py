"""`sunup run-instance`, the container's command, with real processes and real signals."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sunup.build.toolchain import Toolchain
from sunup.container.entrypoint import Request, prepare
from sunup.container.forwarder import Target
from sunup.container.init import orphans
from sunup.container.record import BuildRecord
from sunup.supervisor.settings import DEFAULT_GRACE
from sunup.supervisor.statedir import StateDir

#: Every line of the command's stdout starts with a UTC timestamp, as app.log's do.
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")

CONFIG = """\
applications:
  app:
    type: "python:3.11"
    source:
      root: "/"
    relationships:
      database: "db:mysql"
    variables:
      env:
        greeting: hello
    web:
      commands:
        start: {web}
    workers:
      queue:
        commands:
          start: {queue}
services:
  db:
    type: "mariadb:10.11"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))
        port: int = probe.getsockname()[1]
        return port


def _outside_address() -> str | None:
    """An address of this machine that is not loopback (None when it has none)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.254", 9))
        address: str = probe.getsockname()[0]
        if not address.startswith("127."):
            return address
    return None


class Instance:
    """A `sunup run-instance` process whose stdout lines are collected as they come."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        self.process.stdout.close()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 20.0, count: int = 1) -> list[str]:
        """The lines matching `pattern` once there are `count` of them; fails after `timeout`."""
        expression = re.compile(pattern)
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if expression.search(line)]
                if len(found) >= count:
                    return found
                left = end - time.monotonic()
                if left <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    shown = "\n".join(self.lines[-30:])
                    pytest.fail(f"no {count} line(s) matching {pattern!r} within {timeout} s; output:\n{shown}")
                self._changed.wait(min(left, 0.5))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        status = self.process.wait(timeout)
        self._reader.join(5)
        return status

    def text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)


@pytest.fixture
def run(tmp_path: Path, make_project: Callable[..., Path]) -> Iterator[Callable[..., Instance]]:
    """Start `sunup run-instance` in a project whose web and queue commands are given; every one
    started is stopped (SIGKILL) at the end of the test."""
    started: list[Instance] = []

    def start(
        group: str = "web",
        *options: str,
        web: str = "sleep 1000",
        queue: str = "sleep 1000",
        files: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        isolation: str = "none",
    ) -> Instance:
        root = make_project(
            {".upsun/config.yaml": CONFIG.format(web=_quoted(web), queue=_quoted(queue)), **(files or {})},
            name=f"project{len(started)}",
        )
        environ = {
            "PATH": os.environ["PATH"],
            "SUNUP_STATE_DIR": str(tmp_path / f"state{len(started)}"),
            "SUNUP_BUILD_DIR": str(tmp_path / "no-build"),
            "SUNUP_ISOLATION": isolation,
            "PLATFORM_RELATIONSHIPS": "e30=",
            "DATABASE_HOST": "db.example",
            **(env or {}),
        }
        argv = [sys.executable, "-m", "sunup", "run-instance", "--app", "app", "--group", group, *options]
        instance = Instance(argv, root, environ)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        if instance.process.poll() is None:
            instance.process.kill()
            instance.process.wait(10)


def _quoted(command: str) -> str:
    return '"' + command.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_app_bound_to_loopback_is_reached_through_the_pod_port(run: Callable[..., Instance]) -> None:
    """An app bound to 127.0.0.1:$PORT answers on the pod's port at a non-loopback address."""
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    listen = _free_port()
    server = "import http.server as h, os; h.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), h.SimpleHTTPRequestHandler).serve_forever()"
    instance = run(
        "web", "--listen", str(listen), web=f'python3 -c "{server}"', files={"hello.txt": "hello from the pod\n"}
    )
    line = instance.wait_for(r"port \d+ forwarded to 127\.0\.0\.1:\d+")[0]
    app_port = int(line.rsplit(":", 1)[1])
    assert app_port != listen
    end = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://{outside}:{listen}/hello.txt", timeout=5) as answer:
                assert answer.read() == b"hello from the pod\n"
            break
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)  # the app is still starting: poll, bounded
    # The app itself is not reachable from outside: only through the forwarder.
    with pytest.raises(OSError), socket.create_connection((outside, app_port), timeout=2):
        pass
    assert instance.stop() == 0


def test_environment_is_the_plans_with_the_pods_on_top(run: Callable[..., Instance]) -> None:
    """The worker sees the plan's variables, the pod's Secret values, and `.environment`."""
    show = "echo name=$PLATFORM_APPLICATION_NAME greeting=$GREETING rel=$PLATFORM_RELATIONSHIPS host=$DATABASE_HOST from_env=$FROM_ENV dir=$PLATFORM_APP_DIR; exec sleep 1000"
    instance = run("queue", queue=show, files={".environment": "export FROM_ENV=sourced\n"})
    line = instance.wait_for(r"name=")[0]
    assert STAMP.match(line), line
    assert "name=app--queue greeting=hello rel=e30= host=db.example from_env=sourced" in line
    assert line.rstrip().endswith("/project0")
    assert instance.stop() == 0


def test_every_stdout_line_is_timestamped_and_cgroups_missing_is_one_warning(run: Callable[..., Instance]) -> None:
    """Each output line starts with a UTC time; missing cgroups give exactly one warning line."""
    instance = run("queue", queue="echo one; echo two; exec sleep 1000")
    instance.wait_for(r" two$")
    assert instance.stop() == 0
    lines = [line for line in instance.lines if line]
    assert lines and all(STAMP.match(line) for line in lines), lines
    assert len([line for line in lines if "warning: no usable cgroups" in line]) == 1


def test_missing_relationships_secret_is_said(run: Callable[..., Instance]) -> None:
    """A group with relationships whose pod has no PLATFORM_RELATIONSHIPS gets a warning naming them."""
    instance = run("queue", env={"PLATFORM_RELATIONSHIPS": ""})
    instance.wait_for(r"warning: app--queue has relationships \(database\) but PLATFORM_RELATIONSHIPS")
    instance.stop()


def test_exiting_start_command_is_restarted_with_backoff(run: Callable[..., Instance]) -> None:
    """A start command that keeps exiting is started again, then backs off."""
    instance = run("queue", queue="echo attempt; exit 3")
    instance.wait_for(r" attempt$", count=3)
    instance.wait_for(r"→ backoff")
    assert instance.stop() == 0


def test_sigterm_stops_the_whole_tree_then_sigkill_after_the_grace(
    run: Callable[..., Instance], tmp_path: Path
) -> None:
    """SIGTERM reaches every process of the tree (a setsid escapee too); one that ignores it is
    killed after the grace, and the command ends with status 0."""
    pids = tmp_path / "pids"
    queue = (
        f"setsid sh -c 'echo $$ >> {pids}; exec sleep 1000' & "
        f"sh -c 'trap \"\" TERM; echo $$ >> {pids}; while :; do sleep 0.2; done' & "
        "echo started; wait"
    )
    instance = run("queue", "--stop-grace", "2", queue=queue)
    instance.wait_for(r" started$")
    end = time.monotonic() + 10
    while len(pids.read_text().split()) < 2 if pids.exists() else True:
        assert time.monotonic() < end, "the two background processes did not start"
        time.sleep(0.05)
    started = time.monotonic()
    assert instance.stop() == 0
    took = time.monotonic() - started
    assert 1.5 <= took < 10, took
    instance.wait_for(r"ignored SIGTERM for 2 s; sent SIGKILL", timeout=1)
    for pid in map(int, pids.read_text().split()):
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[1][:3]


def test_default_grace_is_fifteen_seconds() -> None:
    """The stop grace of an instance is the platform's 15 s unless told otherwise."""
    assert DEFAULT_GRACE == 15.0


def test_init_reaps_orphans_and_forwards_sigterm(run: Callable[..., Instance], tmp_path: Path) -> None:
    """With --init (PID 1's duties), orphaned children are reaped, not left as zombies, and
    SIGTERM to the init process stops the instance and ends it with status 0."""
    marker = tmp_path / "orphans"
    # Each round leaves an orphan that ends 0.1 s later: it is re-parented to the init process.
    queue = f"while :; do (sleep 0.1 & echo $! >> {marker}); sleep 0.3; done"
    instance = run("queue", "--init", queue=queue)
    init = instance.process.pid
    end = time.monotonic() + 20
    while not marker.exists() or len(marker.read_text().split()) < 5:
        assert time.monotonic() < end, "the orphans were not started"
        time.sleep(0.1)
    time.sleep(0.5)  # let the last orphans end; a zombie would stay
    zombies = _zombie_children(init)
    assert zombies == [], f"zombies of the init process: {zombies}"
    assert instance.stop(signal.SIGTERM) == 0
    instance.wait_for(r"SIGTERM received, stopping")


def _zombie_children(parent: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent and fields[0] == "Z":
                    found.append(int(name))
    return found


def test_init_exits_with_the_supervisors_status_and_kills_what_is_left(
    run: Callable[..., Instance], tmp_path: Path
) -> None:
    """When the supervisor under --init is killed, the init process kills what came to it and
    exits with 128 + 9."""
    pids = tmp_path / "pid"
    instance = run("queue", "--init", queue=f"sh -c 'echo $$ > {pids}; exec sleep 1000' & wait")
    end = time.monotonic() + 20
    while not pids.exists() or not pids.read_text().strip():
        assert time.monotonic() < end
        time.sleep(0.05)
    supervisor = _children(instance.process.pid)
    assert len(supervisor) == 1
    os.kill(supervisor[0], signal.SIGKILL)
    assert instance.process.wait(20) == 128 + 9
    sleeper = int(pids.read_text())
    end = time.monotonic() + 10
    while Path(f"/proc/{sleeper}").exists():
        assert time.monotonic() < end, "the instance's process outlived its supervisor and init"
        time.sleep(0.05)


def _children(parent: int) -> list[int]:
    return orphans(parent)


def test_unknown_group_is_a_usage_error(run: Callable[..., Instance]) -> None:
    """A group the app does not have ends with status 2, naming the groups it has."""
    instance = run("nope")
    assert instance.process.wait(30) == 2
    instance._reader.join(5)
    assert "'app' has no instance group 'nope'" in instance.text()
    assert "web, queue" in instance.text()
    assert "Traceback" not in instance.text()


def test_prepare_uses_the_build_record_and_keeps_a_given_port(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    """The image's toolchain goes first on PATH, its tree id is PLATFORM_TREE_ID, and a PORT
    the pod sets is the app's port, forwarded from the pod port."""
    from sunup.container.entrypoint import load

    root = make_project({".upsun/config.yaml": CONFIG.format(web='"run"', queue='"run"')})
    plan = load(root, {})
    record = BuildRecord(
        "app", "ab" * 20, tmp_path / "app", Toolchain("python", ("/opt/venv/bin",), {"VIRTUAL_ENV": "/opt/venv"})
    )
    prepared = prepare(
        plan,
        root,
        Request("app", "web"),
        environ={"PATH": "/usr/bin:/bin", "PORT": "9000", "PLATFORM_RELATIONSHIPS": "e30="},
        state=StateDir(tmp_path / "state"),
        record=record,
    )
    env = prepared.spec.environment
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env["VIRTUAL_ENV"] == "/opt/venv"
    assert env["PLATFORM_TREE_ID"] == "ab" * 20
    assert env["PLATFORM_APP_DIR"] == str(tmp_path / "app")
    assert env["PORT"] == "9000"
    assert prepared.target == Target(port=9000)
    assert prepared.listen == 8080
    assert prepared.spec.cwd == tmp_path / "app"


ONE_SHOTS = """\
applications:
  app:
    type: "python:3.11"
    source:
      root: "/"
    variables:
      env:
        greeting: hello
    hooks:
      deploy: |
        echo "deploy $GREETING $PLATFORM_APPLICATION_NAME $FROM_ENV"
        exit 3
    crons:
      stubborn:
        spec: "*/5 * * * *"
        commands:
          start: "trap '' TERM; echo cron started; while :; do sleep 0.2; done"
          stop: "echo stop command ran"
        shutdown_timeout: 1
      slow:
        spec: "*/5 * * * *"
        commands:
          start: "echo slow started; sleep 1000"
        timeout: 1
    web:
      commands:
        start: "sleep 1000"
"""


def _one_shot(make_project: Callable[..., Path], tmp_path: Path, *options: str) -> Instance:
    root = make_project({".upsun/config.yaml": ONE_SHOTS, ".environment": "export FROM_ENV=sourced\n"}, name="oneshot")
    environ = {
        "PATH": os.environ["PATH"],
        "SUNUP_STATE_DIR": str(tmp_path / "state"),
        "SUNUP_BUILD_DIR": str(tmp_path / "no-build"),
        "SUNUP_ISOLATION": "none",
    }
    return Instance([sys.executable, "-m", "sunup", "run-instance", "--app", "app", *options], root, environ)


def test_hook_runs_once_with_the_instance_environment_and_its_status(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    """--hook deploy runs the hook once as web instance 0 (.environment sourced) and exits
    with the hook's status; its lines are timestamped."""
    instance = _one_shot(make_project, tmp_path, "--hook", "deploy")
    assert instance.process.wait(60) == 3
    instance._reader.join(5)
    line = instance.wait_for(r"deploy hello app sourced$")[0]
    assert STAMP.match(line)
    instance.wait_for(r"sunup: deploy hook: ended with status 3")


def test_cron_stop_runs_its_stop_command_then_sigkill_after_shutdown_timeout(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    """SIGTERM to a --cron run runs the cron's stop command; a cron that ignores it is killed
    after its shutdown_timeout."""
    instance = _one_shot(make_project, tmp_path, "--cron", "stubborn")
    instance.wait_for(r" cron started$")
    started = time.monotonic()
    assert instance.stop(signal.SIGTERM) == 128 + 9
    assert 0.8 <= time.monotonic() - started < 10
    instance.wait_for(r" stop command ran$")
    instance.wait_for(r"still running 1 s after the stop: SIGKILL")


def test_cron_past_its_timeout_is_cancelled(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """A --cron run past the cron's timeout is stopped and ends with status 124."""
    instance = _one_shot(make_project, tmp_path, "--cron", "slow")
    assert instance.process.wait(60) == 124
    instance._reader.join(5)
    instance.wait_for(r"still running after its timeout of 1 s, stopping")


def test_unknown_cron_names_the_crons(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """A cron the app does not have is a usage error listing its crons."""
    instance = _one_shot(make_project, tmp_path, "--cron", "nope")
    assert instance.process.wait(60) == 2
    instance._reader.join(5)
    assert "'app' has no cron 'nope'" in instance.text() and "stubborn, slow" in instance.text()
