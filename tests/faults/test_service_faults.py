"""Services that fail under `sunup up`: a server SIGKILLed while it runs, a port another program
holds (at `up`, while services start, at a restart), a damaged or missing data folder, a server
killed before it is ready. Real servers, started by the real `sunup` command.

Each test says what the user sees (the error names the service and the cause, never a
traceback), that nothing is left running after a failed `up`, and that the next `up` works. An
instance proves it reaches a service through its own relationship variables (`sunup ssh`
running the engine's client). The Redis tests are cheap; two MariaDB ones use the seconds
MariaDB takes to initialise its data folder as the window in which the fault lands.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sunup.control.client import ControlClient
from sunup.isolation import open_isolation
from tests.faults.conftest import Project, processes_under, wait_for

pytestmark = [
    pytest.mark.skipif(
        shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
        reason="needs redis-server and redis-cli (apt-get install redis-server)",
    ),
]
needs_mariadb = pytest.mark.skipif(
    shutil.which("mariadb-install-db") is None or shutil.which("mariadb") is None,
    reason="needs mariadb-server and mariadb-client (apt-get install mariadb-server mariadb-client)",
)

#: `composable` builds nothing, so `up` costs only the services.
STORE = """\
applications:
  app:
    type: "composable:25.05"
    relationships:
      store: "store:redis"
    web:
      commands:
        start: "exec sleep 36041"
services:
  store:
    type: redis-persistent:7.0
"""

WITH_MARIADB = """\
applications:
  app:
    type: "composable:25.05"
    relationships:
      cache: "cache:redis"
      db: "db:mysql"
    web:
      commands:
        start: "exec sleep 36042"
services:
  cache:
    type: redis:7.0
  db:
    type: mariadb:10.11
"""

REDIS = 'redis-cli -h "$STORE_HOST" -p "$STORE_PORT" '
MARIADB = 'mariadb --no-defaults -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USERNAME" -p"$DB_PASSWORD" "$DB_PATH"'


def up(project: Project) -> subprocess.CompletedProcess[str]:
    return project("up", "-d", "--settle", "0.2")


def in_web(project: Project, command: str) -> str:
    """`command` run in web.0 (its environment, its relationships); its output, stripped."""
    result = project("ssh", "--", command)
    assert result.returncode == 0, f"`{command}` failed in web.0: {result.stdout}{result.stderr}"
    return result.stdout.strip()


def rows(project: Project, *flags: str) -> dict[str, dict[str, object]]:
    result = project("ps", "--json", *flags)
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def service_home(project: Project, name: str) -> Path:
    return project.state.root / "services" / name


def recorded_port(project: Project, name: str) -> int:
    return int(json.loads((service_home(project, name) / "service.json").read_text())["ports"]["main"])


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below `folder` and a digest of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def finish(project: Project, starting: subprocess.Popen[bytes]) -> tuple[int, str]:
    """The exit status and output of a `sunup` started with `project.start`, once it ends."""
    return starting.wait(timeout=180), project.output(starting)


def assert_failed_cleanly(project: Project, status: int, output: str) -> None:
    """`up` failed with an error and no traceback, and left no supervisor, process or cgroup."""
    assert status == 1, output
    assert "error: " in output and "Traceback" not in output, output
    wait_for(lambda: project.supervisor() is None, "the failed supervisor to end")
    wait_for(lambda: not processes_under(project.root), "every process of the failed `up` to end")
    isolation = open_isolation(project.state.root)
    try:
        assert isolation.stale() == [], "the failed `up` left cgroups behind"
    finally:
        isolation.close()
    assert "sunup is not running" in project("ps").stderr


@contextlib.contextmanager
def taken(port: int) -> Iterator[socket.socket]:
    """Another program's socket listening on 127.0.0.1:`port` (as a server would hold it)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield holder
    finally:
        holder.close()


def find_process(project: Project, program: str, wanted: Callable[[str], bool]) -> int | None:
    """The pid of a live `program` whose command line names the project and satisfies `wanted`."""
    root = str(project.root.resolve())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        line = " ".join(argv)
        if argv and os.path.basename(argv[0]) == program and root in line and wanted(line):
            return int(entry)
    return None


def kill_when_seen(project: Project, up: subprocess.Popen[bytes], program: str, wanted: Callable[[str], bool]) -> int:
    """SIGKILL the first `program` of the project matching `wanted` while `up` runs; its pid."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pid = find_process(project, program, wanted)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            return pid
        assert up.poll() is None, f"`up` ended before {program} was seen:\n{project.output(up)}"
        time.sleep(0.005)
    pytest.fail(f"no {program} of the project was seen within 120 s")


def test_sigkilled_server_is_restarted_and_the_instance_reaches_its_data(
    faulty: Callable[[dict[str, str]], Project],
) -> None:
    """SIGKILL of a running redis-persistent server: sunup restarts it (ps --services and
    supervisor.log say so), web.0 keeps running, and reads through its relationship what it
    wrote before the kill."""
    project = faulty({".upsun/config.yaml": STORE})
    started = up(project)
    assert started.returncode == 0, started.stderr
    assert in_web(project, REDIS + "SET kept before-the-kill") == "OK"
    web = rows(project)["web.0"]
    server = rows(project, "--services")["store.0"]
    assert server["port"] == recorded_port(project, "store")

    os.kill(int(server["pid"]), signal.SIGKILL)  # type: ignore[call-overload]

    def restarted() -> bool:
        row = rows(project, "--services")["store.0"]
        return row["state"] == "running" and row["pid"] != server["pid"]

    wait_for(restarted, "sunup to restart the killed redis server")
    again = rows(project, "--services")["store.0"]
    assert again["restarts"] == 1
    assert again["last_exit"]["signal"] == "SIGKILL"  # type: ignore[index]
    assert again["port"] == server["port"]
    log = project.state.supervisor_log.read_text()
    assert f"store.0: pid {server['pid']} ended: killed by SIGKILL" in log
    after = rows(project)["web.0"]
    assert (after["state"], after["pid"], after["restarts"]) == ("running", web["pid"], 0)
    # The restarted server may still be replaying its append-only file: ask until it answers.
    wait_for(lambda: project("ssh", "--", REDIS + "GET kept").stdout.strip() == "before-the-kill", "the kept key")
    assert in_web(project, REDIS + "SET after the-kill") == "OK"


@pytest.mark.slow
def test_recorded_port_taken_by_another_program_moves_the_service(
    faulty: Callable[[dict[str, str]], Project],
) -> None:
    """A service's recorded port held by another program at the next `up`: sunup warns, naming
    the service and both ports, runs it on a new port, and the instance's relationship follows
    (same data); the other program's socket is left alone."""
    project = faulty({".upsun/config.yaml": STORE})
    assert up(project).returncode == 0
    assert in_web(project, REDIS + "SET kept across-ports") == "OK"
    assert project("down").returncode == 0
    old = recorded_port(project, "store")

    with taken(old) as holder:
        started = up(project)
        assert started.returncode == 0, started.stderr
        new = recorded_port(project, "store")
        assert new != old
        assert f"service 'store': port {old} (main) is taken by another program; using {new} instead" in (
            started.stderr
        )
        assert rows(project, "--services")["store.0"]["port"] == new
        assert in_web(project, 'echo "$STORE_PORT"') == str(new)
        assert in_web(project, REDIS + "GET kept") == "across-ports"
        assert holder.getsockname() == ("127.0.0.1", old)


def test_restart_on_a_taken_port_waits_visibly_and_recovers(faulty: Callable[[dict[str, str]], Project]) -> None:
    """A stopped server restarted while another program holds its port: it keeps its port (the
    running instances have it), fails with the server's own words in its log and is retried with
    backoff, shown by ps --services; web.0 keeps running; once the port is free it comes back
    and the instance reads its data again."""
    project = faulty({".upsun/config.yaml": STORE})
    assert up(project).returncode == 0
    assert in_web(project, REDIS + "SET kept while-away") == "OK"
    web = rows(project)["web.0"]
    control = ControlClient(project.state.socket)
    control.call("stop", services=True, service="store")
    port = recorded_port(project, "store")

    with taken(port):
        control.call("start", services=True, service="store", wait=False)

        def backing_off() -> bool:
            row = rows(project, "--services")["store.0"]
            return row["state"] == "backoff" and row["last_exit"] is not None and row["last_exit"]["code"] == 1  # type: ignore[index]

        wait_for(backing_off, "the server to fail on its taken port and wait for a retry")
        assert rows(project, "--services")["store.0"]["next_retry"] is not None
        log = (service_home(project, "store") / "server.log").read_text()
        assert f"127.0.0.1:{port}: bind: Address already in use" in log

    wait_for(lambda: rows(project, "--services")["store.0"]["state"] == "running", "the server to come back", 60)
    assert rows(project, "--services")["store.0"]["port"] == port == recorded_port(project, "store")
    wait_for(lambda: project("ssh", "--", REDIS + "GET kept").stdout.strip() == "while-away", "the kept key")
    after = rows(project)["web.0"]
    assert (after["state"], after["pid"]) == ("running", web["pid"])


def test_damaged_data_folder_is_a_clear_error_and_is_kept(faulty: Callable[[dict[str, str]], Project]) -> None:
    """A redis-persistent data folder whose base file is overwritten: `up` fails naming the
    service, how its server ended, the data folder and the server's own words; nothing runs;
    the folder is byte for byte as it was. Put back, it starts with its data."""
    project = faulty({".upsun/config.yaml": STORE})
    assert up(project).returncode == 0
    assert in_web(project, REDIS + "SET kept through-damage") == "OK"
    assert project("down").returncode == 0
    data = service_home(project, "store") / "data"
    base = next(data.rglob("*.base.rdb"))
    good = base.read_bytes()
    base.write_bytes(b"\0" * 16 + good[16:])
    damaged = snapshot(data)
    before = project.state.supervisor_log.stat().st_size

    failed = up(project)
    output = failed.stdout + failed.stderr
    assert_failed_cleanly(project, failed.returncode, output)
    assert "error: service 'store' exited with status 1 before it was ready" in output
    assert f"its data folder is left as it is: {data}" in output
    assert f"last lines of {service_home(project, 'store') / 'server.log'}" in output
    assert "Bad file format reading the append only file" in output  # redis-server's own words
    assert "web.0" not in project.state.supervisor_log.read_text()[before:]  # the instance never started
    assert snapshot(data) == damaged

    base.write_bytes(good)
    started = up(project)
    assert started.returncode == 0, started.stderr
    assert in_web(project, REDIS + "GET kept") == "through-damage"


@pytest.mark.slow
def test_missing_data_folder_is_an_error_not_a_new_empty_one(faulty: Callable[[dict[str, str]], Project]) -> None:
    """The data folder of an initialised service removed: `up` fails naming it (no new empty
    database in its place) and leaves nothing running; with the service's folder removed,
    `up` starts it empty."""
    project = faulty({".upsun/config.yaml": STORE})
    assert up(project).returncode == 0
    assert in_web(project, REDIS + "SET kept gone") == "OK"
    assert project("down").returncode == 0
    home = service_home(project, "store")
    shutil.rmtree(home / "data")

    failed = up(project)
    output = failed.stdout + failed.stderr
    assert_failed_cleanly(project, failed.returncode, output)
    assert f"error: service 'store': its data folder {home / 'data'} is missing" in output
    assert f"remove {home}" in output
    assert not (home / "data").exists()

    shutil.rmtree(home)
    started = up(project)
    assert started.returncode == 0, started.stderr
    assert in_web(project, REDIS + "EXISTS kept") == "0"


@pytest.mark.slow
@needs_mariadb
def test_sigkilled_mariadb_is_restarted_with_its_rows(faulty: Callable[[dict[str, str]], Project]) -> None:
    """SIGKILL of a running mariadbd (no clean shutdown: InnoDB recovers at the restart): sunup
    restarts it on its port, web.0 keeps running, and the rows it committed are there."""
    project = faulty({".upsun/config.yaml": WITH_MARIADB})
    started = up(project)
    assert started.returncode == 0, started.stderr
    in_web(project, MARIADB + " -e \"CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('committed')\"")
    web = rows(project)["web.0"]
    server = rows(project, "--services")["db.0"]

    os.kill(int(server["pid"]), signal.SIGKILL)  # type: ignore[call-overload]

    wait_for(lambda: rows(project, "--services")["db.0"]["pid"] != server["pid"], "sunup to restart mariadbd")
    again = rows(project, "--services")["db.0"]
    assert (again["restarts"], again["port"]) == (1, server["port"])
    assert again["last_exit"]["signal"] == "SIGKILL"  # type: ignore[index]
    read = MARIADB + ' -N -e "SELECT v FROM kept"'
    wait_for(lambda: project("ssh", "--", read).stdout.strip() == "committed", "the committed row after recovery", 60)
    after = rows(project)["web.0"]
    assert (after["state"], after["pid"]) == ("running", web["pid"])


@pytest.mark.slow
@needs_mariadb
def test_port_taken_while_services_start_is_a_clear_error(faulty: Callable[[dict[str, str]], Project]) -> None:
    """Another program takes Redis's port while MariaDB initialises (after sunup chose it, before
    the server binds it): `up` fails saying the port is in use by another program, with the
    server's log; web.0 never starts; nothing is left. Once the port is free, `up` works on the
    same port and the instance reaches both services."""
    project = faulty({".upsun/config.yaml": WITH_MARIADB})
    starting = project.start("up", "-d", "--settle", "0.2")
    state_file = service_home(project, "cache") / "service.json"
    wait_for(lambda: state_file.exists() or starting.poll() is not None, "the cache's port to be chosen", 120)
    port = recorded_port(project, "cache")
    with taken(port):
        assert not (service_home(project, "db") / "initialised").exists(), "MariaDB was ready before the port was taken"
        status, output = finish(project, starting)
    assert_failed_cleanly(project, status, output)
    assert (
        f"error: service 'cache' exited with status 1 before it was ready: port {port} is in use by another program"
        in (output)
    )
    assert "Address already in use" in output  # redis-server's own words, from its log
    assert "web.0" not in project.state.supervisor_log.read_text()

    started = up(project)
    assert started.returncode == 0, started.stderr
    assert recorded_port(project, "cache") == port
    assert in_web(project, 'redis-cli -h "$CACHE_HOST" -p "$CACHE_PORT" PING') == "PONG"
    assert in_web(project, MARIADB + ' -N -e "SELECT 6*7"') == "42"


@pytest.mark.slow
@needs_mariadb
def test_server_killed_before_it_is_ready_leaves_nothing_that_breaks_the_next_up(
    faulty: Callable[[dict[str, str]], Project],
) -> None:
    """MariaDB killed during `up`: first while it initialises its data folder, then while the
    server starts. Each `up` fails naming the service and how it ended, leaves nothing running;
    the unfinished data folder is made again; the third `up` works and the instance connects."""
    project = faulty({".upsun/config.yaml": WITH_MARIADB})
    data = service_home(project, "db") / "data"

    starting = project.start("up", "-d", "--settle", "0.2")
    kill_when_seen(project, starting, "mariadbd", lambda line: "--bootstrap" in line)
    status, output = finish(project, starting)
    assert_failed_cleanly(project, status, output)
    assert "error: service 'db': initialising the MariaDB data folder failed" in output
    assert f"the next `sunup up` removes the unfinished {data} and starts again" in output
    assert not (service_home(project, "db") / "initialised").exists()

    began = time.monotonic()
    starting = project.start("up", "-d", "--settle", "0.2")
    killed = kill_when_seen(project, starting, "mariadbd", lambda line: "--init-file=" in line)
    status, output = finish(project, starting)
    # The copy restarted after the kill is stopped at once, not after MariaDB's 60 s stop
    # timeout (mariadbd loses a SIGTERM that comes as it starts: about one run in six here).
    assert time.monotonic() - began < 40, "the failed `up` waited for its restarted server to stop"
    assert_failed_cleanly(project, status, output)
    assert f"removing the unfinished data folder {data}" in output
    assert "error: service 'db' was killed by SIGKILL before it was ready" in output, (
        f"mariadbd {killed} was killed too late?"
    )
    assert (service_home(project, "db") / "initialised").exists()

    third = up(project)
    assert third.returncode == 0, third.stderr
    assert "initialising" not in third.stdout + third.stderr
    assert in_web(project, MARIADB + ' -N -e "SELECT 6*7"') == "42"
