"""The seed example end to end (spec §9): web, queue and mail on real MariaDB and RabbitMQ.

Slow: it builds the example (pip installs its requirements from PyPI), initialises both
servers and starts three instances. Everything runs on a copy of examples/workers in a temp
folder, with its own state folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

pymysql = pytest.importorskip("pymysql", reason="the end-to-end test needs the dev extras (pymysql)")

pytestmark = pytest.mark.slow
BOUND = 60.0


class Seed:
    def __init__(self, root: Path, state: Path) -> None:
        self.root = root
        self.env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "NO_COLOR": "1",
            "SUNUP_STATE_DIR": str(state),
            "SUNUP_STOP_GRACE": "5",
        }

    def sunup(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sunup", "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def instance_env(self, *selection: str) -> dict[str, str]:
        result = self.sunup("ssh", *selection, "--", "env", "-0", timeout=60)
        assert result.returncode == 0, result.stderr
        return dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)

    def web_port(self) -> int:
        rows = json.loads(self.sunup("ps", "--json", timeout=60).stdout)
        return int(next(r["port"] for r in rows if r["group"] == "web"))

    def http(self, method: str, path: str, body: str = "") -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.web_port()}{path}", data=body.encode() if body else None, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seed]:
    base = tmp_path_factory.mktemp("seed")
    root = base / "workers"
    shutil.copytree(EXAMPLES / "workers", root, ignore=shutil.ignore_patterns(".sunup", "__pycache__"))
    running = Seed(root, base / "state")
    started = running.sunup("up", "-d")
    try:
        assert started.returncode == 0, f"sunup up -d failed:\n{started.stdout}\n{started.stderr}"
        yield running
    finally:
        down = running.sunup("down", timeout=120)
        assert down.returncode == 0, down.stderr


def _until(check: object, what: str) -> object:
    deadline = time.monotonic() + BOUND
    while True:
        value = check()  # type: ignore[operator]
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {BOUND:g} s waiting for {what}")
        time.sleep(0.2)


def test_build_saw_itself_as_a_build(seed: Seed) -> None:
    """In the build hook, the platform's Python client reports in_build() (no environment, no relationships)."""
    build_log = seed.root.parent / "state" / "logs" / "app" / "build.log"
    assert "platformshconfig: in_build() is true" in build_log.read_text()


def test_job_posted_to_web_lands_in_mariadb_through_queue(seed: Seed) -> None:
    """A job POSTed to the web instance goes through RabbitMQ to the queue worker, which writes its row."""
    status, body = seed.http("POST", "/jobs", "resize image 42")
    assert status == 202
    job = body["id"]

    def written() -> dict[str, object] | None:
        code, row = seed.http("GET", f"/jobs/{job}")
        return row if code == 200 else None

    row = _until(written, f"job {job} to be written by the queue worker")
    assert row == {"id": job, "payload": "resize image 42", "worker": "app--queue"}


def test_mail_job_shows_in_mail_log(seed: Seed) -> None:
    """A mail job reaches the mail worker, whose log says what it would send."""
    status, _body = seed.http("POST", "/mail", "ada@example.com")
    assert status == 202
    _until(
        lambda: "would send mail to ada@example.com" in seed.sunup("logs", "--worker", "mail", "-n", "50").stdout,
        "the mail worker to report the mail",
    )


def test_each_instance_has_its_type_and_only_its_relationships(seed: Seed) -> None:
    """TYPE is web/worker/worker; mail has only rabbitmq; web and queue have both services."""
    web, queue, mail = (
        seed.instance_env("--web"),
        seed.instance_env("--worker", "queue"),
        seed.instance_env("--worker", "mail"),
    )
    assert (web["TYPE"], queue["TYPE"], mail["TYPE"]) == ("web", "worker", "worker")
    assert queue["PLATFORM_APPLICATION_NAME"] == "app--queue" and "PORT" not in queue and "PORT" in web
    for env in (web, queue):
        assert env["MYSQL_HOST"] and env["RABBITMQ_HOST"]
    assert not any(name.startswith("MYSQL_") for name in mail), "mail must get no MySQL credentials"
    assert mail["RABBITMQ_USERNAME"]


def test_mail_cannot_reach_mariadb_with_what_it_holds(seed: Seed) -> None:
    """Connecting to the MariaDB port with any credentials mail holds is refused."""
    web, mail = seed.instance_env("--web"), seed.instance_env("--worker", "mail")
    port = int(web["MYSQL_PORT"])
    with pymysql.connect(host="127.0.0.1", port=port, user=web["MYSQL_USERNAME"], password=web["MYSQL_PASSWORD"]):
        pass  # the port is right: web's own credentials get in
    for user, password in ((mail["RABBITMQ_USERNAME"], mail["RABBITMQ_PASSWORD"]), ("root", ""), ("mysql", "")):
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(host="127.0.0.1", port=port, user=user, password=password, connect_timeout=5)


def test_platformshconfig_inside_the_queue_worker(seed: Seed) -> None:
    """Inside an instance, platformshconfig sees a platform at run time with both relationships."""
    script = (
        "from platformshconfig import Config; c = Config(); "
        "print(c.is_valid_platform(), c.in_build(), c.credentials('mysql')['scheme'], c.credentials('rabbitmq')['scheme'])"
    )
    result = seed.sunup("ssh", "--worker", "queue", "--", "python", "-c", script, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "mysql", "amqp"]
