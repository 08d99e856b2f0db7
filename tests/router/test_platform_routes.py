"""PLATFORM_ROUTES inside real instances (`sunup up -d`): the platform's own Python client,
platformshconfig, reads the routes in the web instance (`routes()`, `get_route(id)`,
`get_primary_route()`) and in a worker (which prints them to its log), with the real local URLs as keys; the build never sees
them. The web app's answer travels through the router over HTTPS, checked with sunup's CA."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import platformshconfig
import pytest

from tests.router.rig import fetch, until

pytestmark = pytest.mark.slow

CONFIG = """\
applications:
  app:
    type: python:3.11
    source:
      root: src
    hooks:
      build: |
        echo "${PLATFORM_ROUTES:-absent}" > build-routes.txt
    web:
      commands:
        start: python3 web.py
    workers:
      reporter:
        commands:
          start: python3 worker.py
routes:
  "https://{default}/":
    type: upstream
    upstream: app:http
    id: main
    attributes:
      kind: front
  "https://{default}/api/":
    type: upstream
    upstream: app:http
    id: api
    primary: true
  "https://www.{default}/":
    type: redirect
    to: "https://{default}/"
    id: www
"""

WEB = """\
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from platformshconfig import Config


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        config = Config()
        document = {
            "routes": config.routes(),
            "main": config.get_route("main"),
            "primary": config.get_primary_route(),
            "build": open("build-routes.txt").read().strip(),
        }
        body = json.dumps(document).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

WORKER = """\
import json, os, signal
from platformshconfig import Config

config = Config()
document = {"routes": config.routes(), "primary": config.get_primary_route(), "raw": os.environ.get("PLATFORM_ROUTES")}
print("ROUTES-SEEN " + json.dumps(document), flush=True)
signal.pause()
"""


def sunup(root: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "sunup", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, f"sunup {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


def test_platformshconfig_reads_the_routes_in_web_and_worker(tmp_path: Path) -> None:
    """In the web instance and in a worker, platformshconfig's routes(), get_route(id) and
    get_primary_route() give the local URLs, ids, primary and attributes; the build has none."""
    root = tmp_path / "project"
    (root / ".upsun").mkdir(parents=True)
    (root / ".upsun" / "config.yaml").write_text(CONFIG)
    src = root / "src"
    src.mkdir()
    (src / "web.py").write_text(WEB)
    (src / "worker.py").write_text(WORKER)
    # The platform's client, as the app would have it from pip (no network in the test).
    shutil.copytree(
        Path(platformshconfig.__file__).parent, src / "platformshconfig", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {**os.environ, "SUNUP_STOP_GRACE": "2", "NO_COLOR": "1", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    env.pop("SUNUP_STATE_DIR", None)
    sunup(root, env, "up", "-d")
    try:
        ports = json.loads((root / ".sunup" / "router.json").read_text())
        https, http = ports["https_port"], ports["http_port"]
        ca = tmp_path / "xdg" / "sunup" / "ca" / "ca.pem"
        assert ca.is_file(), "the CA is made in $XDG_DATA_HOME/sunup/ca"
        url = f"https://localhost:{https}/"
        answer = fetch(url, ca=ca)
        assert answer.status == 200, answer.body[:500]
        document = answer.json()
        printed: list[str] = []

        def worker_printed() -> bool:
            out = sunup(root, env, "logs", "--worker", "reporter", "-n", "20")
            printed[:] = [line.split("ROUTES-SEEN ", 1)[1] for line in out.splitlines() if "ROUTES-SEEN " in line]
            return bool(printed)

        until(worker_printed, "the worker to print the routes it read", timeout=30)
        worker = json.loads(printed[0])
    finally:
        sunup(root, env, "down")
    routes = document["routes"]
    assert isinstance(routes, dict)
    expected = {
        f"https://localhost:{https}/",
        f"https://localhost:{https}/api/",
        f"https://www.localhost:{https}/",
        f"http://localhost:{http}/",
        f"http://localhost:{http}/api/",
        f"http://www.localhost:{http}/",
    }
    assert set(routes) == expected
    main = document["main"]
    assert isinstance(main, dict)
    assert main["url"] == url and main["upstream"] == "app" and main["original_url"] == "https://{default}/"
    assert main["attributes"] == {"kind": "front"}
    primary = document["primary"]
    assert isinstance(primary, dict)
    # platformshconfig adds "url" in get_route() only (its get_primary_route() does not).
    assert primary["id"] == "api" and primary["original_url"] == "https://{default}/api/"
    assert routes[f"https://localhost:{https}/api/"]["primary"] is True
    www = routes[f"https://www.localhost:{https}/"]
    assert (www["type"], www["to"]) == ("redirect", url)
    assert routes[f"http://localhost:{http}/"]["to"] == url
    assert document["build"] == "absent", "PLATFORM_ROUTES must not be set in the build"
    # get_route() wrote "url" into the web's document; the worker's has none.
    without_url = {key: {k: v for k, v in route.items() if k != "url"} for key, route in routes.items()}
    assert worker["routes"] == without_url and worker["primary"] == primary and worker["raw"]
