"""The PHP seed example end to end (examples/php-workers): web on PHP-FPM behind the router, a
queue worker and a mail worker, on real MariaDB and Redis.

Slow: it builds the example (the composer flavor: an autoloader, nothing downloaded), initialises
MariaDB and starts three instances. Everything runs on a copy of the example in a temp folder,
with its own state folder. Requests go through the router (`sunup url`), as a browser's would.
"""

from __future__ import annotations

import base64
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import EXAMPLES
from tests.e2e.test_seed import Seed, _until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("php-fpm8.2") is None and shutil.which("php-fpm") is None, reason="needs Debian's php8.2-fpm"
    ),
]


class PhpExample(Seed):
    """`Seed`'s helpers, with requests sent to the router's primary URL."""

    url = ""

    def http(self, method: str, path: str, body: str = "") -> tuple[int, dict[str, object]]:
        if not self.url:
            printed = self.sunup("url", timeout=60)
            assert printed.returncode == 0, printed.stderr
            self.url = printed.stdout.strip().rstrip("/")
        request = urllib.request.Request(f"{self.url}{path}", data=body.encode() if body else None, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhpExample]:
    base = tmp_path_factory.mktemp("php")
    root = base / "php-workers"
    shutil.copytree(EXAMPLES / "php-workers", root, ignore=shutil.ignore_patterns(".sunup", "vendor"))
    running = PhpExample(root, base / "state")
    started = running.sunup("up", "-d")
    try:
        assert started.returncode == 0, f"sunup up -d failed:\n{started.stdout}\n{started.stderr}"
        yield running
    finally:
        down = running.sunup("down", timeout=120)
        assert down.returncode == 0, down.stderr


def test_build_ran_the_composer_flavor(example: PhpExample) -> None:
    """The composer flavor installed the autoloader before the build hook, which used it."""
    build_log = (example.root.parent / "state" / "logs" / "app" / "build.log").read_text()
    assert "composer --no-ansi --no-interaction install --no-progress --prefer-dist" in build_log
    assert "autoload: ok" in build_log
    assert not (example.root / "vendor").exists(), "the build must not write into the working copy"


def test_web_runs_on_fpm_with_the_apps_php_ini(example: PhpExample) -> None:
    """Through the router to nginx to PHP-FPM: the front controller answers, with TYPE=web and
    the app's memory_limit."""
    status, body = example.http("GET", "/")
    assert status == 200, body
    assert body == {"type": "web", "app": "app", "memory_limit": "192M", "sapi": "fpm-fcgi"}


def test_job_posted_to_web_lands_in_mariadb_through_queue(example: PhpExample) -> None:
    """A job POSTed to web goes through Redis to the queue worker, which writes its row; GET /jobs lists it."""
    status, body = example.http("POST", "/jobs", "resize image 42")
    assert status == 202, body
    job = body["id"]

    def listed() -> dict[str, object] | None:
        code, answer = example.http("GET", "/jobs")
        rows = answer.get("jobs") if code == 200 else None
        return next((r for r in rows if r["id"] == job), None) if isinstance(rows, list) else None

    row = _until(listed, f"job {job} to be written by the queue worker")
    assert row == {"id": job, "payload": "resize image 42", "worker": "app--queue"}


def test_mail_job_shows_in_mail_log(example: PhpExample) -> None:
    status, _body = example.http("POST", "/mail", "ada@example.com")
    assert status == 202
    _until(
        lambda: "would send mail to ada@example.com" in example.sunup("logs", "--worker", "mail", "-n", "50").stdout,
        "the mail worker to report the mail",
    )


def test_mail_worker_has_no_database_credentials(example: PhpExample) -> None:
    """mail has only the redis relationship: no MYSQL_* variables, no mysql in PLATFORM_RELATIONSHIPS."""
    web, mail = example.instance_env("--web"), example.instance_env("--worker", "mail")
    assert web["MYSQL_HOST"] and web["REDIS_HOST"]
    assert not any(name.startswith("MYSQL_") for name in mail), "mail must get no MySQL credentials"
    relationships = json.loads(base64.b64decode(mail["PLATFORM_RELATIONSHIPS"]))
    assert set(relationships) == {"redis"}
    assert (web["TYPE"], mail["TYPE"]) == ("web", "worker")


def test_global_composer_packages_are_on_path(example: PhpExample) -> None:
    """dependencies.php: composer/composer ^2 is met by this machine's Composer (said in the build
    log); the global packages' bin folder, in the build's cache, is on every instance's PATH."""
    build_log = (example.root.parent / "state" / "logs" / "app" / "build.log").read_text()
    assert "composer/composer ^2: using this machine's Composer" in build_log
    for selection in (("--web",), ("--worker", "queue")):
        path = example.instance_env(*selection)["PATH"].split(":")
        assert any(entry.endswith("/cache/composer-home/vendor/bin") for entry in path), path


def test_worker_php_cli_has_the_apps_php_ini(example: PhpExample) -> None:
    """`php -i` in the queue worker shows the app's php.ini settings (variables.php)."""
    shown = example.sunup("ssh", "--worker", "queue", "--", "php", "-i", timeout=60)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "memory_limit => 192M => 192M" in lines, [line for line in lines if "memory_limit" in line]
    assert "date.timezone => Europe/Paris => Europe/Paris" in lines
