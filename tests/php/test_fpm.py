"""A PHP app's web instance on PHP-FPM (spec §12), through the real router, nginx and FPM.

One project (`tests.php.rig`) runs for the module: `type: php:8.3` on this machine's PHP 8.2,
`variables.php`, `runtime.extensions`, sizing hints, a PHP worker and a deploy hook."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.php.conftest import NEEDS_FPM
from tests.php.rig import PhpProject, until

pytestmark = [pytest.mark.slow, NEEDS_FPM]


def test_version_asked_and_local_both_named(php_project: PhpProject) -> None:
    said = php_project.started.stdout + php_project.started.stderr  # type: ignore[attr-defined]
    assert "type asks for PHP 8.3, which is not installed here" in said
    assert "using /usr/sbin/php-fpm8.2 (PHP 8.2) instead" in said


def test_front_controller_gets_the_request(php_project: PhpProject) -> None:
    """passthru: /index.php: a path with no file runs the front controller, REQUEST_URI as sent."""
    got = php_project.json("/blog/2024/hello?page=2&q=a+b")
    assert got["front"] is True
    assert got["request_uri"] == "/blog/2024/hello?page=2&q=a+b"
    assert got["query"] == "page=2&q=a+b"
    assert got["script_name"] == "/index.php"
    public = Path(str(got["document_root"]))
    assert public.name == "public" and (public / "index.php").is_file()
    assert got["script_filename"] == str(public / "index.php")
    assert got["sapi"] == "fpm-fcgi"


def test_post_body_reaches_php(php_project: PhpProject) -> None:
    got = php_project.json("/api/things", method="POST", body=b"name=sunup&x=1")
    assert (got["method"], got["body"]) == ("POST", "name=sunup&x=1")


def test_scripts_run_with_path_info(php_project: PhpProject) -> None:
    got = php_project.json("/info.php/extra/path")
    assert got == {"script": "info.php", "path_info": "/extra/path", "script_name": "/info.php"}
    assert php_project.json("/info.php")["path_info"] == ""


def test_scripts_of_another_location_run_from_its_root(php_project: PhpProject) -> None:
    """/tools (root: tools, scripts: true): its scripts run from that folder; a missing one is
    a 404 (no passthru), never the front controller."""
    got = php_project.json("/tools/run.php/a")
    assert Path(str(got["file"])).parts[-2:] == ("tools", "run.php")
    assert (got["script_name"], got["path_info"]) == ("/tools/run.php", "/a")
    assert php_project.raw("/tools/missing.php")[0] == 404


def test_index_file_runs(php_project: PhpProject) -> None:
    assert php_project.json("/")["script_name"] == "/index.php"


def test_static_files_still_served_by_nginx(php_project: PhpProject) -> None:
    status, body = php_project.raw("/style.css")
    assert (status, body) == (200, b"body { color: black; }\n")


def test_forwarded_headers_and_client_address(php_project: PhpProject) -> None:
    got = php_project.json("/forwarded", headers={"X-Forwarded-For": "6.6.6.6"})
    host, port = php_project.address()
    # The router's values, not the client's claim.
    assert got["forwarded_for"] == "127.0.0.1"
    assert got["remote_addr"] == "127.0.0.1"
    assert got["forwarded_proto"] == "http"
    assert got["forwarded_host"] == f"{host}:{port}"
    assert got["server_port"] == str(port)


def test_environment_reaches_php(php_project: PhpProject) -> None:
    """clear_env = no: the instance's variables (env:, PLATFORM_*) are PHP's getenv()."""
    got = php_project.json("/env")
    assert got["greeting"] == "hello from the config"
    assert got["relationships"] == ["cache"]
    host, port = php_project.address()
    assert f"http://{host}:{port}/" in got["routes"]  # type: ignore[operator]


def test_php_reaches_redis_through_its_relationship(php_project: PhpProject) -> None:
    """The redis extension and PLATFORM_RELATIONSHIPS, as a PHP app uses them."""
    assert php_project.json("/redis")["redis"] == "php"


def test_php_ini_from_variables_in_fpm(php_project: PhpProject) -> None:
    got = php_project.json("/ini")
    assert (got["memory_limit"], got["max_execution_time"], got["timezone"]) == ("200M", "17", "Europe/Paris")
    assert {"redis", "pdo_pgsql"} <= set(got["extensions"])  # type: ignore[arg-type]


def test_php_ini_in_shell_worker_and_hook(php_project: PhpProject) -> None:
    """The CLI reads the same settings in `sunup ssh`, in a worker and in the deploy hook."""
    shell = php_project.sunup("ssh", "--", "php", "-r", 'echo ini_get("memory_limit"), " ", ini_get("date.timezone");')
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == "200M Europe/Paris"
    until(
        lambda: "worker memory_limit=200M timezone=Europe/Paris" in php_project.logs("--worker", "queue"),
        "the worker's line in its log",
    )
    until(lambda: "deploy hook memory_limit=200M" in php_project.logs("deploy"), "the deploy hook's output")


def test_pool_size_from_sizing_hints(php_project: PhpProject) -> None:
    """(memory - reserved_memory) // request_memory children: 224 MB (0.5 CPU, HIGH_CPU) → 10."""
    web = next(r for r in php_project.ps() if r["group"] == "web")
    master = int(str(web["pid"]))
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == (224 - 24) // 20
    assert Path(f"/proc/{master}/exe").resolve() == Path("/usr/sbin/php-fpm8.2")
    # The children are in the instance's cgroup, with their master.
    assert {Path(f"/proc/{c}/cgroup").read_text() for c in children} == {Path(f"/proc/{master}/cgroup").read_text()}


def test_fatal_error_is_a_500_logged_and_the_instance_keeps_serving(php_project: PhpProject) -> None:
    status, body = php_project.raw("/fatal.php")
    assert status == 500
    assert b"call_to_an_undefined_function_of_sunup" not in body  # display_errors stays off
    until(
        lambda: (
            "PHP Fatal error:  Uncaught Error: Call to undefined function call_to_an_undefined_function_of_sunup()"
            in php_project.logs("--web")
        ),
        "the fatal error in the web instance's log",
    )
    assert php_project.json("/after-fatal")["front"] is True


def test_restart_answers_every_request_and_ends_them_gracefully(php_project: PhpProject) -> None:
    """`sunup restart --web`: a request FPM is running ends (SIGQUIT: graceful), requests sent
    while no FPM listens are held and passed to the new one (POST too), none fails."""
    before = php_project.json("/before")["pid"]
    slow: list[tuple[int, bytes]] = []
    failures: list[object] = []
    sent = [0]
    stop = threading.Event()

    def load(offset: int) -> None:
        number = offset
        while not stop.is_set():
            method = "POST" if number % 2 else "GET"
            body = f"n={number}".encode() if method == "POST" else b""
            status, content = php_project.raw(f"/during/{number}", method, body)
            if status != 200 or json.loads(content)["body"] != body.decode():
                failures.append((method, status, content[:300]))
            sent[0] += 1
            number += 2

    threads = [threading.Thread(target=lambda: slow.append(php_project.raw("/slow.php")))]
    threads += [threading.Thread(target=load, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        restart = php_project.sunup("restart", "--web", timeout=120)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert restart.returncode == 0, restart.stderr
    assert slow == [(200, b"slow done")]
    assert failures == []
    assert sent[0] > 4
    assert php_project.json("/after")["pid"] != before


def test_a_request_to_a_stopped_fpm_is_held_until_it_starts(php_project: PhpProject) -> None:
    """The hold cannot speak FastCGI: it waits for the new FPM, then hands the request back to
    nginx (X-Accel-Redirect), which passes it on, POST body included."""
    stopped = php_project.sunup("stop", "--web", timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    answers: list[tuple[int, bytes]] = []
    held = threading.Thread(target=lambda: answers.append(php_project.raw("/held", "POST", b"kept=yes")))
    held.start()
    held.join(timeout=1.0)
    assert answers == [], "answered while no FPM ran"
    started = php_project.sunup("start", "--web", timeout=120)
    assert started.returncode == 0, started.stderr
    held.join(timeout=60)
    assert len(answers) == 1 and answers[0][0] == 200, answers
    got = json.loads(answers[0][1])
    assert (got["method"], got["body"], got["request_uri"]) == ("POST", "kept=yes", "/held")
