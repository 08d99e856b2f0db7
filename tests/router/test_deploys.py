"""No request fails because of sunup: through the router, across `sunup restart --web`,
`sunup redeploy` and `sunup deploy` of changed code, under load from several clients sending GET
and POST (spec §10's Decision). `deploy` returns only once the new code answers.

The project's web instance is a plain Python HTTP server that stops gracefully on SIGTERM (as
gunicorn does): whatever was sent to it while it was down, or reset by its stop before it took
it, must still be answered by the next instance.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BOUND = 60.0
CLIENTS = 6

WEB = """\
import os, signal, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = open("version.txt").read().strip()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(VERSION.encode())

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.answer(VERSION.encode() + b" " + self.rfile.read(length))

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
server.daemon_threads = False
# A graceful stop, as gunicorn's: no new connections, the requests it has answered, then exit.
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
server.serve_forever()
server.server_close()
"""

CONFIG = """\
applications:
  app:
    type: python:3.11
    source:
      root: src
    web:
      commands:
        start: python3 web.py
    workers:
      queue:
        commands:
          start: sleep 1000
routes:
  "http://{default}/":
    type: upstream
    upstream: app:http
"""


class Project:
    def __init__(self, root: Path, hold: float = 30) -> None:
        self.root = root
        self.env = {**os.environ, "SUNUP_STOP_GRACE": "2", "NO_COLOR": "1", "SUNUP_HOLD_TIMEOUT": str(hold)}
        self.env.pop("SUNUP_STATE_DIR", None)
        (root / ".upsun").mkdir(parents=True)
        (root / "src").mkdir()
        (root / ".upsun" / "config.yaml").write_text(CONFIG)
        (root / "src" / "web.py").write_text(WEB)
        (root / "src" / "version.txt").write_text("v1\n")

    def sunup(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "sunup", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, f"sunup {' '.join(args)}: {result.stdout}{result.stderr}"
        return result

    @property
    def port(self) -> int:
        port: int = json.loads((self.root / ".sunup" / "router.json").read_text())["http_port"]
        return port


@pytest.fixture
def project(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Project]:
    """The project, running (`up -d`), holding requests as the test's `hold` mark says (30 s);
    stopped at the end."""
    mark = request.node.get_closest_marker("hold")
    created = Project(tmp_path / "project", hold=mark.args[0] if mark else 30)
    created.sunup("up", "-d")
    yield created
    subprocess.run([sys.executable, "-m", "sunup", "down"], cwd=created.root, env=created.env, check=False)


class Load:
    """CLIENTS threads sending GET and POST through the router until stopped; every answer that
    is not a 200 with the body expected, and every connection error, is a failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.done = threading.Event()
        self.failures: list[str] = []
        self.answered = 0
        self.versions: set[str] = set()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for thread in self._threads:
            thread.join(BOUND)

    def _client(self, number: int) -> None:
        sent = 0
        while not self.done.is_set():
            sent += 1
            body = f"client {number} request {sent}"
            connection = http.client.HTTPConnection("localhost", self.port, timeout=BOUND)
            try:
                if number % 2:
                    connection.request("POST", "/jobs", body=body.encode())
                else:
                    connection.request("GET", "/")
                response = connection.getresponse()
                text = response.read().decode()
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.failures.append(f"client {number}: {exc!r}")
                continue
            finally:
                connection.close()
            version, _, echoed = text.partition(" ")
            ok = response.status == 200 and (echoed == body if number % 2 else not echoed)
            with self._lock:
                if ok:
                    self.answered += 1
                    self.versions.add(version)
                else:
                    self.failures.append(f"client {number}: {response.status} {text[:200]!r}")

    def wait_answers(self, count: int) -> None:
        deadline = time.monotonic() + BOUND
        start = self.answered
        while self.answered < start + count:
            assert time.monotonic() < deadline, f"only {self.answered - start} answers in {BOUND} s"
            time.sleep(0.02)


def test_no_request_fails_across_restart_redeploy_and_deploy(project: Project) -> None:
    """GET and POST from 6 clients through the router get only right answers while web is
    restarted, redeployed and deployed with new code, and the deploy serves the new code once done."""
    with Load(project.port) as load:
        load.wait_answers(50)
        project.sunup("restart", "--web")
        load.wait_answers(50)
        project.sunup("redeploy")
        load.wait_answers(50)
        (project.root / "src" / "version.txt").write_text("v2\n")
        project.sunup("deploy")
        assert _get(project.port)[1] == "v2", "deploy returned before the new code answered"
        load.wait_answers(50)
    assert load.failures == [], f"{len(load.failures)} failed of {load.answered}: {load.failures[:5]}"
    assert load.versions == {"v1", "v2"}


@pytest.mark.hold(1)
def test_a_stopped_web_instance_is_held_then_named(project: Project) -> None:
    """With web stopped, a GET is held for the hold time, then answered 503 with a page naming
    the instance and how to read its logs; `sunup logs access` shows it."""
    project.sunup("stop", "--web")
    started = time.monotonic()
    status, page = _get(project.port)
    assert status == 503, page
    assert "web.0" in page and "sunup logs --web" in page, page
    assert time.monotonic() - started >= 0.9  # held for the hold time (1 s) first, not refused
    access = project.sunup("logs", "access", "-n", "5").stdout
    assert '"GET / HTTP/1.1" 503' in access, access


def _get(port: int) -> tuple[int, str]:
    """The status and body of GET / through the router."""
    connection = http.client.HTTPConnection("localhost", port, timeout=BOUND)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()
