"""No file outside a location's root is ever served (spec §11): traversal attempts, sent byte for
byte to the real nginx, through the router and straight to the app's web server, never bring
back a byte of a secret file placed outside the roots, whatever the status."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import project_maker
from tests.plan.golden import resolve
from tests.router.rig import EchoApp, Rig, free_address, make_site, raw_request

CONFIG = """
applications:
  app:
    type: "python:3.11"
    web:
      commands:
        start: "python app.py"
      locations:
        "/":
          root: "public"
          passthru: true
        "/static":
          root: "static"
          passthru: false
    mounts:
      "public/uploads":
        source: storage
        source_path: uploads
routes:
  "http://{default}/":
    type: upstream
    upstream: "app:http"
    cache:
      enabled: false
"""

#: Requests for files next to, above or through links out of each location's root.
ATTACKS = [
    "../app-secret.txt",
    "../../outside/secret.txt",
    "../../../outside/secret.txt",
    "..%2fapp-secret.txt",
    "..%2F..%2Foutside%2Fsecret.txt",
    "%2e%2e/app-secret.txt",
    "%2E%2E/%2E%2E/outside/secret.txt",
    "%2e%2e%2fapp-secret.txt",
    ".%2e/app-secret.txt",
    "%252e%252e%252fapp-secret.txt",
    "%252e%252e/app-secret.txt",
    "..\\app-secret.txt",
    "..%5capp-secret.txt",
    "..%5c..%5coutside%5csecret.txt",
    "app-secret.txt%00.css",
    "..%00/app-secret.txt",
    "%00../app-secret.txt",
    "/../app-secret.txt",
    "//../app-secret.txt",
    ".//..//app-secret.txt",
    "....//app-secret.txt",
    "..;/app-secret.txt",
    "%c0%ae%c0%ae/app-secret.txt",
    "link-dir/secret.txt",
    "link-file.txt",
    "link-app.txt",
    "link-up/app-secret.txt",
    "link-up/../app-secret.txt",
    "uploads/evil/secret.txt",
    "uploads/evil-file.txt",
    "uploads/../../app-secret.txt",
]
PREFIXES = ["/", "/static/", "/uploads/", "//", "/static//", "/./static/"]


class Target:
    def __init__(self, rig: Rig, secrets_: list[bytes], app_socket: Path) -> None:
        self.rig, self.secrets, self.app_socket = rig, secrets_, app_socket


def write_files(base: Path, project: Path, uploads: Path) -> list[bytes]:
    """The roots' files, the secrets outside them, and links leaving the roots."""
    outside_token, app_token = secrets.token_hex(16).encode(), secrets.token_hex(16).encode()
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"outside " + outside_token)
    (project / "app-secret.txt").write_bytes(b"in the app " + app_token)
    public = project / "public"
    public.mkdir()
    (public / "ok.txt").write_text("public file")
    (public / "link-dir").symlink_to(outside, target_is_directory=True)
    (public / "link-file.txt").symlink_to(outside / "secret.txt")
    (public / "link-app.txt").symlink_to("../app-secret.txt")
    (public / "link-up").symlink_to("..", target_is_directory=True)
    (public / "uploads").mkdir()
    static = project / "static"
    static.mkdir()
    (static / "ok.css").write_text("static file")
    (static / "link-up").symlink_to("..", target_is_directory=True)
    uploads.mkdir(parents=True)
    (uploads / "ok.png").write_text("mount file")
    (uploads / "evil").symlink_to(outside, target_is_directory=True)
    (uploads / "evil-file.txt").symlink_to(outside / "secret.txt")
    return [outside_token, app_token]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    base = tmp_path_factory.mktemp("safety")
    project = project_maker(base)({".upsun/config.yaml": CONFIG, "app.py": ""})
    uploads = base / "volumes" / "uploads"
    tokens = write_files(base, project, uploads)
    app = EchoApp("app")
    try:
        site = make_site(
            resolve(project),
            base / "state",
            free_address(),
            roots={"app": project},
            upstreams={"app": (app.address,)},
            mounts={"app": {"public/uploads": uploads}},
        )
        with Rig(site, base) as rig:
            yield Target(rig, tokens, site.app_socket("app"))
    finally:
        app.stop()


def test_the_files_inside_the_roots_are_served(target: Target) -> None:
    """The checks below are not vacuous: each root's own files are served."""
    port = target.rig.site.address.http_port
    for path, content in (
        (b"/ok.txt", b"public file"),
        (b"/static/ok.css", b"static file"),
        (b"/uploads/ok.png", b"mount file"),
    ):
        answer = raw_request(port, path, b"localhost:%d" % port)
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(content), (path, answer[:200])


@pytest.mark.parametrize("way", ["router", "app-server"])
def test_no_byte_of_a_file_outside_the_roots_comes_back(target: Target, way: str) -> None:
    """No traversal attempt (encoded, doubled, NUL, backslash, symlinks out) returns a secret."""
    port = target.rig.site.address.http_port
    host = b"localhost:%d" % port
    leaks = []
    tried = 0
    for prefix in PREFIXES:
        for attack in ATTACKS:
            path = (prefix + attack).encode()
            for sent in (path, b"http://" + host + path):
                tried += 1
                answer = raw_request(port, sent, host, unix=target.app_socket if way == "app-server" else None)
                if any(secret in answer for secret in target.secrets):
                    leaks.append(sent)
    assert tried > 300
    assert not leaks, f"secret bytes came back for {leaks}"


def test_system_files_are_not_reachable(target: Target) -> None:
    """Climbing to / does not reach the machine's files (/etc/passwd)."""
    port = target.rig.site.address.http_port
    for path in (
        b"/../../../../../../etc/passwd",
        b"/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        b"/%2e%2e/" * 12 + b"etc/passwd",
    ):
        assert b"root:x:" not in raw_request(port, path, b"localhost:%d" % port)
