"""Bad input on the control socket of a running supervisor (`sunup up -d`, two `sleep` instances).

Garbage, JSON of the wrong shape, numbers and nesting no parser should take, a request cut short
by a client that then hangs, a 64 MB line, hundreds of idle connections, clients that leave in the
middle of a reply, and a client of another user: each gets an error reply (or a refused connect),
and afterwards the supervisor still runs, `ps` answers within a second and the instances keep
their pids. One supervisor serves the whole module (starting one takes seconds); the project is
cleaned up by `tests.faults.conftest.Project` whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sunup.control.protocol import (
    BAD_REQUEST,
    BUSY,
    MAX_MESSAGE,
    SELECTION,
    UNKNOWN_COMMAND,
    ProtocolError,
    decode_request,
)
from sunup.control.server import MAX_CONNECTIONS
from sunup.plan.sizing import MAX_COUNT
from tests.conftest import REPO
from tests.faults.conftest import Project, processes_under, wait_for
from tests.faults.test_misbehaving import reset_peak, rss_bytes

CONFIG = """\
applications:
  app:
    type: python:3.12
    web:
      commands:
        start: "exec sleep 1000"
    workers:
      queue:
        commands:
          start: "exec sleep 1001"
"""
#: How long one exchange on the socket may take before the test fails.
IO_TIMEOUT = 10.0
#: The user other clients run as (nobody).
OTHER_UID = 65534


@dataclass
class Running:
    """The module's project, its supervisor and the pids its instances had at the start."""

    project: Project
    pid: int
    pids: dict[str, int]

    @property
    def socket(self) -> Path:
        return self.project.state.socket


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    # A folder others can traverse (pytest's tmp folders are 0700): the test of another user
    # must reach the socket itself to be refused by its mode.
    folder = Path(tempfile.mkdtemp(prefix="sunup-control-input-"))
    folder.chmod(0o755)
    root = folder / "project"
    (root / ".upsun").mkdir(parents=True)
    (root / ".upsun" / "config.yaml").write_text(CONFIG, encoding="utf-8")
    project = Project(root)
    groups: list[Path] = []
    try:
        started = project("up", "-d", "--settle", "0.2")
        assert started.returncode == 0, started.stderr
        pid = project.supervisor()
        assert pid is not None and pid > 0
        groups = cgroups_of(project)
        yield Running(project, pid, {name: row["pid"] for name, row in ps_rows(project.state.socket).items()})
    finally:
        project.cleanup()
        left = [group for group in groups if group.exists()], processes_under(root)
        shutil.rmtree(folder, ignore_errors=True)
    assert left == ([], []), f"left behind (cgroups, processes): {left}"


def cgroups_of(project: Project) -> list[Path]:
    """The cgroups the supervisor's ledger lists (docs/control-protocol.md: isolation.json)."""
    ledger = project.state.root / "isolation.json"
    if not ledger.exists():
        return []
    groups = json.loads(ledger.read_text(encoding="utf-8")).get("groups", {})
    return [Path(path) for entries in groups.values() for entry in entries for path in entry.values()]


def connect(path: Path) -> socket.socket:
    """A blocking connect (with a timeout, a full listen backlog fails with EAGAIN at once)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        raise
    conn.settimeout(IO_TIMEOUT)
    return conn


def read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def exchange(path: Path, data: bytes) -> list[dict[str, Any]]:
    """Send `data`, say that is all, and return every reply line until the supervisor hangs up."""
    with connect(path) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return [json.loads(line) for line in received.splitlines()]


def ps_rows(path: Path) -> dict[str, dict[str, Any]]:
    [reply] = exchange(path, b'{"id": "ps", "command": "ps"}\n')
    assert reply["ok"], reply
    return {row["name"]: row for row in reply["result"]}


def assert_healthy(running: Running) -> None:
    """The supervisor runs, `ps` answers within 1 s and the instances have the same pids."""
    assert running.project.supervisor() == running.pid, "the supervisor is not the one that started"
    started = time.monotonic()
    rows = ps_rows(running.socket)
    took = time.monotonic() - started
    assert took < 1.0, f"ps took {took:.2f} s"
    assert {name: row["pid"] for name, row in rows.items()} == running.pids
    assert all(row["state"] == "running" for row in rows.values()), rows


def error_code(reply: dict[str, Any]) -> str:
    assert reply["ok"] is False, reply
    return str(reply["error"]["code"])


DEEP_LIST = b'{"command": "ps", "args": {"x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}}\n"
DEEP_MAP = b'{"command": "ps", "args": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"}\n"
#: Requests the protocol rejects, and the error code of each (docs/control-protocol.md).
MALFORMED = {
    "garbage bytes": (b"\xff\xfe\x00garbage\x9c\n", BAD_REQUEST),
    "not JSON": (b"{command: ps\n", BAD_REQUEST),
    "a list": (b'["ps"]\n', BAD_REQUEST),
    "a number": (b"42\n", BAD_REQUEST),
    "a string": (b'"ps"\n', BAD_REQUEST),
    "null": (b"null\n", BAD_REQUEST),
    "no command": (b'{"args": {}}\n', BAD_REQUEST),
    "command not a string": (b'{"command": ["ps"]}\n', BAD_REQUEST),
    "unknown command": (b'{"command": "rm -rf /"}\n', UNKNOWN_COMMAND),
    "args a list": (b'{"command": "ps", "args": ["web"]}\n', BAD_REQUEST),
    "id an object": (b'{"command": "ps", "id": {"a": 1}}\n', BAD_REQUEST),
    "index a string": (b'{"command": "ps", "args": {"index": "0"}}\n', SELECTION),
    "index negative": (b'{"command": "restart", "args": {"index": -1}}\n', SELECTION),
    "index huge": (b'{"command": "stop", "args": {"index": ' + b"9" * 4000 + b"}}\n", SELECTION),
    "worker a list": (b'{"command": "stop", "args": {"worker": ["queue"]}}\n', SELECTION),
    "instances a string": (b'{"command": "stop", "args": {"instances": "app.queue.0"}}\n', SELECTION),
    "instances not keys": (b'{"command": "stop", "args": {"instances": ["a.b.c.d", 1]}}\n', SELECTION),
    "number of 5000 digits": (b'{"command": "ps", "id": ' + b"7" * 5000 + b"}\n", BAD_REQUEST),
    "float overflow": (b'{"command": "wait", "args": {"timeout": 1e999}}\n', BAD_REQUEST),
    "NaN": (b'{"command": "wait", "args": {"timeout": NaN}}\n', BAD_REQUEST),
    "Infinity": (b'{"command": "wait", "args": {"settle": Infinity}}\n', BAD_REQUEST),
    "settle negative": (b'{"command": "wait", "args": {"settle": -1}}\n', SELECTION),
    "nested lists": (DEEP_LIST, BAD_REQUEST),
    "nested objects": (DEEP_MAP, BAD_REQUEST),
    "scale to a billion": (b'{"command": "scale", "args": {"counts": {"app:queue": 1000000000}}}\n', SELECTION),
    "scale to a huge number": (
        b'{"command": "scale", "args": {"counts": {"app:queue": ' + b"9" * 40 + b"}}}\n",
        SELECTION,
    ),
    "scale to zero": (b'{"command": "scale", "args": {"counts": {"app:queue": 0}}}\n', SELECTION),
    "scale a list": (b'{"command": "scale", "args": {"counts": [3]}}\n', SELECTION),
    "cron name a number": (b'{"command": "cron:run", "args": {"name": 5}}\n', SELECTION),
    "progress of no deploy": (b'{"command": "deploy-progress", "args": {"deploy": "x"}}\n', SELECTION),
    "no newline at the end": (b'{"command": "ps"}', BAD_REQUEST),
}


#: The malformed requests `decode_request` itself refuses (the others reach a command).
DECODING = [name for name, (line, code) in MALFORMED.items() if code == BAD_REQUEST and line.endswith(b"\n")]


@pytest.mark.parametrize("name", DECODING)
def test_decoding_refuses_it_as_a_bad_request(name: str) -> None:
    """In-process: `decode_request` answers each with a `bad-request` error, never another exception."""
    with pytest.raises(ProtocolError) as caught:
        decode_request(MALFORMED[name][0])
    assert caught.value.code == BAD_REQUEST


def test_malformed_requests_get_error_replies_and_hurt_nothing(running: Running) -> None:
    """Every malformed request, sent on its own connection and then all on one: an error reply
    with the documented code each, then the supervisor and its instances are as they were."""
    for name, (line, code) in MALFORMED.items():
        replies = exchange(running.socket, line)
        assert [error_code(r) for r in replies] == [code], f"{name}: {replies}"
    assert_healthy(running)
    together = b"".join(line for line, _ in MALFORMED.values() if line.endswith(b"\n"))
    assert len(together) < MAX_MESSAGE * 4
    replies = exchange(running.socket, together + b'{"command": "ping", "id": 7}\n')
    codes = [code for line, code in MALFORMED.values() if line.endswith(b"\n")]
    assert [error_code(r) for r in replies[:-1]] == codes
    assert replies[-1]["ok"] and replies[-1]["id"] == 7 and replies[-1]["result"]["pid"] == running.pid
    assert_healthy(running)


def test_a_client_hanging_mid_request_blocks_no_one(running: Running) -> None:
    """Half a request, then silence: other clients are served at once while it holds on."""
    with connect(running.socket) as hanging:
        hanging.sendall(b'{"command": "ps", "args": {"wor')
        assert_healthy(running)
        started = time.monotonic()
        [reply] = exchange(running.socket, b'{"command": "ping"}\n')
        assert reply["ok"] and time.monotonic() - started < 1.0
        hanging.sendall(b'ker": "queue"}}\n')  # it may still finish its request
        reply = json.loads(read_line(hanging))
        assert [row["name"] for row in reply["result"]] == ["queue.0"]
    assert_healthy(running)


def test_an_oversized_request_is_refused_without_the_supervisor_growing(running: Running) -> None:
    """64 MB without a newline: a `bad-request` reply once over the 1 MiB limit, the connection
    closed, and the supervisor's peak memory grows by a few MiB at most, not by the 64 MB."""
    reset_peak(running.pid)
    before = rss_bytes(running.pid, "VmHWM")
    chunk = b"x" * (1024 * 1024)
    sent = 0
    with connect(running.socket) as conn:
        try:
            while sent < 64 * len(chunk):
                conn.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the supervisor hung up: what it said is still to be read
        reply = json.loads(read_line(conn))
    assert error_code(reply) == BAD_REQUEST and str(MAX_MESSAGE) in reply["error"]["message"]
    assert sent < 64 * len(chunk), "the supervisor read all 64 MB"
    grown = rss_bytes(running.pid, "VmHWM") - before
    assert grown < 8 * MAX_MESSAGE, f"the supervisor grew by {grown // 1024} KiB"
    assert_healthy(running)


def supervisor_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_hundreds_of_idle_connections_are_served_then_bounded(running: Running) -> None:
    """300 connections left open: `ps` is still answered. More than MAX_CONNECTIONS: the extra
    ones get a `busy` reply and are closed, so the supervisor's descriptors stay bounded; once
    the clients go, everything is as before."""
    base = supervisor_fds(running.pid)
    idle: list[socket.socket] = []
    try:
        for _ in range(300):
            idle.append(connect(running.socket))
        wait_for(lambda: supervisor_fds(running.pid) >= base + 300, "the supervisor to accept 300 connections")
        assert_healthy(running)
        extra = MAX_CONNECTIONS - 300 + 50
        for _ in range(extra):
            idle.append(connect(running.socket))
        refused = []
        waiting = list(idle[300:])
        deadline = time.monotonic() + IO_TIMEOUT
        while len(refused) < 50 and time.monotonic() < deadline:
            readable, _, _ = select.select(waiting, [], [], 0.1)
            for conn in readable:
                waiting.remove(conn)
                refused.append(json.loads(read_line(conn)))
        assert len(refused) == 50, f"{len(refused)} of the 50 connections over the limit were refused"
        assert {error_code(r) for r in refused} == {BUSY}
        assert supervisor_fds(running.pid) <= base + MAX_CONNECTIONS + 5
    finally:
        for conn in idle:
            conn.close()
    wait_for(lambda: supervisor_fds(running.pid) <= base + 2, "the supervisor to close the idle connections")
    assert_healthy(running)


def test_clients_leaving_in_the_middle_of_replies(running: Running) -> None:
    """Many requests sent, the connection closed before the replies are read (the supervisor
    writes into a closed socket), and a client resetting its end: nothing breaks."""
    for _ in range(30):
        with connect(running.socket) as conn:
            conn.sendall(b'{"command": "ps"}\n' * 500)
    with connect(running.socket) as conn:
        conn.sendall(b'{"command": "wait", "args": {"settle": 30, "timeout": 5}}\n')
    assert_healthy(running)


def as_other_user_connect(path: Path) -> int:
    """Fork, become nobody, connect to `path`; the child's exit status: 0 connected, the errno else."""
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            os.setgroups([])
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(str(path))
            os._exit(0)
        except OSError as exc:
            os._exit(exc.errno or 255)
        except BaseException:
            os._exit(255)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can become another user")
def test_another_user_is_refused_with_a_clear_message(running: Running) -> None:
    """The socket is its owner's: nobody's connect gets EACCES, and `sunup ps` run as nobody
    says whose supervisor it is, without a traceback, and changes nothing."""
    import errno

    assert as_other_user_connect(running.socket) == errno.EACCES
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv is not installed")
    probe = subprocess.run(
        [
            setpriv,
            f"--reuid={OTHER_UID}",
            f"--regid={OTHER_UID}",
            "--clear-groups",
            sys.executable,
            "-c",
            "import sunup",
        ],
        cwd="/",
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run this Python and sunup: {probe.stderr.decode(errors='replace')[-200:]}")
    result = subprocess.run(
        [setpriv, f"--reuid={OTHER_UID}", f"--regid={OTHER_UID}", "--clear-groups"]
        + [sys.executable, "-m", "sunup", "ps"],
        cwd=running.project.root,
        env={**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "HOME": "/"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert "permission denied on the control socket" in result.stderr
    assert "root" in result.stderr or "uid 0" in result.stderr
    assert_healthy(running)


def test_scale_to_more_than_the_limit_creates_nothing(running: Running) -> None:
    """A count over MAX_COUNT is refused before anything is made (it used to build specs until
    the supervisor ran out of memory)."""
    before = rss_bytes(running.pid)
    [reply] = exchange(
        running.socket, json.dumps({"command": "scale", "args": {"counts": {"app:queue": 10**30}}}).encode() + b"\n"
    )
    assert error_code(reply) == SELECTION and str(MAX_COUNT) in reply["error"]["message"]
    assert rss_bytes(running.pid) - before < 4 * MAX_MESSAGE
    assert_healthy(running)


def test_a_selection_repeating_one_key_costs_one_row(running: Running) -> None:
    """`instances` naming web.0 80000 times (1 MiB): one row, at once. It used to build 80000
    rows, 20 MB of reply in 20 s, the supervisor deaf to everyone meanwhile."""
    keys = ["app.web.0"] * 80_000
    line = json.dumps({"command": "ps", "args": {"instances": keys}}).encode() + b"\n"
    assert len(line) < MAX_MESSAGE
    started = time.monotonic()
    [reply] = exchange(running.socket, line)
    assert reply["ok"] and [row["name"] for row in reply["result"]] == ["web.0"]
    assert time.monotonic() - started < 2.0
    assert_healthy(running)


def test_a_client_pipelining_thousands_of_requests_shares_the_supervisor(running: Running) -> None:
    """60000 `ps` requests sent at once by a client that reads its replies: others are answered
    meanwhile (the supervisor answered every buffered request before anyone else: seconds deaf)."""
    request = b'{"command": "ps"}\n'
    count = MAX_MESSAGE // len(request)
    replies: list[int] = []

    def drain(conn: socket.socket) -> None:
        lines = 0
        with contextlib.suppress(OSError):
            while chunk := conn.recv(1 << 20):
                lines += chunk.count(b"\n")
        replies.append(lines)

    with connect(running.socket) as flood:
        reader = threading.Thread(target=drain, args=(flood,), daemon=True)
        reader.start()
        flood.sendall(request * count)
        slowest = 0.0
        for _ in range(5):
            started = time.monotonic()
            [reply] = exchange(running.socket, b'{"command": "ping"}\n')
            assert reply["ok"]
            slowest = max(slowest, time.monotonic() - started)
        flood.shutdown(socket.SHUT_RDWR)
    reader.join(timeout=IO_TIMEOUT)
    assert replies and replies[0] < count, "the flood was answered whole before the pings"
    assert slowest < 0.5, f"a ping waited {slowest:.2f} s behind the flood"
    assert_healthy(running)
