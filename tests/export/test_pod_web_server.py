"""`sunup run-instance` for web: the app's `web.locations` served on the pod's port by nginx."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sunup.container.entrypoint import Request, load, prepare
from sunup.container.forwarder import Target
from sunup.container.webserver import NGINX_MISSING, web_server
from sunup.router.render import render_app_servers
from sunup.router.runner import find_nginx
from sunup.supervisor.statedir import StateDir
from tests.export.test_run_instance import Instance, _free_port

#: The app answers every request itself, naming the path, and logs each path it got.
APP = """\
import http.server, os, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"from the app: {self.path}\\n".encode()
        print(f"app got {self.path}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

CONFIG = """\
applications:
  app:
    type: "python:3.11"
    source:
      root: "/"
    web:
      commands:
        start: "python3 app.py"
      locations:
        "/":
          root: "public"
          passthru: true
        "/assets":
          root: "static"
          passthru: false
"""


@pytest.fixture
def short_state() -> Iterator[Path]:
    """A state folder with a short path (nginx's unix sockets are limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="sunup-pod-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _project(make_project: Callable[..., Path]) -> Path:
    return make_project(
        {
            ".upsun/config.yaml": CONFIG,
            "app.py": APP,
            "public/hello.txt": "hello from a static file\n",
            "static/app.css": "body { color: red }\n",
        },
        name="pod",
    )


def pod_web(root: Path, state: Path) -> tuple[Instance, int]:
    """`sunup run-instance` of app's web on a free port (a pod's command, no isolation, no build
    folder), with that port."""
    listen = _free_port()
    environ = {
        "PATH": os.environ["PATH"],
        "SUNUP_STATE_DIR": str(state),
        "SUNUP_BUILD_DIR": str(state / "no-build"),
        "SUNUP_ISOLATION": "none",
    }
    argv = [sys.executable, "-m", "sunup", "run-instance", "--app", "app", "--listen", str(listen)]
    return Instance(argv, root, environ), listen


def _get(url: str, timeout: float = 20.0) -> tuple[int, bytes]:
    """The status and body of GET `url`, retried while nothing listens yet (bounded)."""
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)  # nginx or the app is still starting: poll, bounded


@pytest.mark.slow
@pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed here")
def test_static_files_are_served_by_nginx_and_the_rest_by_the_app(
    make_project: Callable[..., Path], short_state: Path
) -> None:
    """With nginx, the pod's port serves a location's static files without the app, passes the
    rest to the app, answers 404 for a missing file of a static-only location, and SIGTERM stops
    both with status 0."""
    root = _project(make_project)
    instance, listen = pod_web(root, short_state)
    try:
        instance.wait_for(rf"port {listen} served by nginx \(web\.locations\), the rest to 127\.0\.0\.1:\d+")
        base = f"http://127.0.0.1:{listen}"
        assert _get(f"{base}/other") == (200, b"from the app: /other\n")
        assert _get(f"{base}/hello.txt") == (200, b"hello from a static file\n")
        assert _get(f"{base}/assets/app.css") == (200, b"body { color: red }\n")
        assert _get(f"{base}/assets/missing.css")[0] == 404
        assert _get(f"{base}/again") == (200, b"from the app: /again\n")
        instance.wait_for(r"app got /again")
        got = [line.split("app got ", 1)[1] for line in instance.lines if "app got " in line]
        assert got == ["/other", "/again"], got
        assert "forwarded to" not in instance.text()
        assert instance.stop() == 0
    finally:
        if instance.process.poll() is None:
            instance.process.kill()
            instance.process.wait(10)
    assert not [line for line in instance.lines if "Traceback" in line]


def test_without_nginx_the_port_is_forwarded_with_one_warning(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    """When nginx is not in the image, the pod's port is forwarded to the app and one warning
    says the static files are not served."""
    root = _project(make_project)
    prepared = prepare(
        load(root, {}),
        root,
        Request("app", "web"),
        environ={"PATH": "/usr/bin:/bin", "PORT": "9000"},
        state=StateDir(tmp_path / "state"),
        record=None,
        nginx=None,
    )
    assert prepared.web is None
    assert prepared.target == Target(port=9000)
    assert prepared.warnings == (NGINX_MISSING,)


def test_an_app_without_static_locations_keeps_the_forwarder(make_project: Callable[..., Path], tmp_path: Path) -> None:
    """An app whose locations serve no files gets the forwarder even when nginx is there."""
    config = CONFIG.split("      locations:", maxsplit=1)[0]
    root = make_project({".upsun/config.yaml": config, "app.py": APP}, name="plain")
    prepared = prepare(
        load(root, {}),
        root,
        Request("app", "web"),
        environ={"PATH": "/usr/bin:/bin", "PORT": "9000"},
        state=StateDir(tmp_path / "state"),
        record=None,
        nginx="/usr/sbin/nginx",
    )
    assert prepared.web is None and prepared.target == Target(port=9000) and prepared.warnings == ()


def test_pod_configuration_is_the_app_server_alone_on_the_pod_port(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    """The pod's nginx.conf has the app's web server on 0.0.0.0:PORT, its instance as upstream,
    and no router server or unix listener."""
    root = _project(make_project)
    app = load(root, {}).app("app")
    assert app is not None
    server = web_server(app, root=root, upstream="127.0.0.1:9000", listen=8080, nginx="/usr/sbin/nginx", state=tmp_path)
    text = render_app_servers(server.site, "0.0.0.0:8080")
    listens = [line.strip() for line in text.splitlines() if line.strip().startswith("listen ")]
    assert listens == ['listen "0.0.0.0:8080";'], listens
    assert "127.0.0.1:9000" in text
    assert "no route for host" not in text


@pytest.mark.slow
@pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed here")
def test_a_request_while_the_app_starts_is_held_then_answered(
    make_project: Callable[..., Path], short_state: Path
) -> None:
    """A request that reaches the pod's nginx before the app listens is held by the hold server
    and answered by the app once it does, not refused."""
    root = _project(make_project)
    config = CONFIG.replace('start: "python3 app.py"', 'start: "sleep 2; exec python3 app.py"')
    (root / ".upsun" / "config.yaml").write_text(config, encoding="utf-8")
    instance, listen = pod_web(root, short_state)
    try:
        instance.wait_for(rf"port {listen} served by nginx")
        base = f"http://127.0.0.1:{listen}"
        assert _get(f"{base}/hello.txt") == (200, b"hello from a static file\n")
        assert not [line for line in instance.lines if "app got " in line]  # the app is still asleep
        started = time.monotonic()
        assert _get(f"{base}/early") == (200, b"from the app: /early\n")
        assert time.monotonic() - started < 15
        assert instance.stop() == 0
    finally:
        if instance.process.poll() is None:
            instance.process.kill()
            instance.process.wait(10)
