"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright, against a
real `sunup up -d` (real processes, real signals, the real HTTP server in the supervisor)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sunup.dashboard.chromium import ARGS, CHROMIUM
from tests.cli.test_runtime_commands import ps, sunup
from tests.conftest import project_maker

#: What the issue promises: a change on screen within a second.
LIVE = 1000
#: Longest wait for something that takes its own time (a restart).
SETTLE = 10_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"),
]

CONFIG = """\
applications:
  app:
    type: python:3.12
    web:
      commands:
        start: "sleep 36001"
    workers:
      ticker:
        commands:
          start: "sleep 36002"
      flaky:
        commands:
          start: "test -e {flag} && exit 3; exec sleep 36003"
      echoer:
        commands:
          start: "while :; do cat {fifo}; done"
"""


@dataclass(frozen=True)
class Running:
    project: Path
    link: str
    flag: Path
    fifo: Path

    @property
    def origin(self) -> str:
        return self.link.split("/?", 1)[0]

    @property
    def token(self) -> str:
        return self.link.split("token=", 1)[1]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    base = tmp_path_factory.mktemp("dashboard")
    flag, fifo = base / "crash", base / "inbox"
    os.mkfifo(fifo)
    project = project_maker(base)({".upsun/config.yaml": CONFIG.format(flag=flag, fifo=fifo)})
    started = sunup(project, "up", "-d", "--settle", "0")
    try:
        assert started.returncode == 0, started.stderr
        printed = sunup(project, "dashboard")
        assert printed.returncode == 0, printed.stderr
        link = printed.stdout.strip()
        assert link.startswith("http://127.0.0.1:") and "token=" in link, link
        yield Running(project, link, flag, fifo)
    finally:
        sunup(project, "down")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=list(ARGS), headless=True, viewport={"width": 1280, "height": 900}
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser: Any, running: Running) -> Iterator[Any]:
    """The dashboard, open and live (its event stream connected)."""
    opened = browser.new_page()
    opened.goto(running.link)
    opened.wait_for_selector("#link.up", timeout=SETTLE)
    opened.wait_for_selector('#instances tr[data-key="app.ticker.0"]', timeout=SETTLE)
    try:
        yield opened
    finally:
        opened.close()


def row(page: Any, key: str) -> Any:
    return page.locator(f'#instances tr[data-key="{key}"]')


def pid_of(running: Running, name: str) -> int:
    pid = ps(running.project)[name]["pid"]
    assert isinstance(pid, int), f"{name} has no pid"
    return pid


def test_restart_button_gives_the_instance_a_new_pid(page: Any, running: Running) -> None:
    """Clicking restart on ticker.0 restarts it: its pid changes on the page and in `sunup ps`."""
    before = pid_of(running, "ticker.0")
    pid_cell = row(page, "app.ticker.0").locator('[data-field="pid"]')
    assert pid_cell.inner_text() == str(before)
    row(page, "app.ticker.0").locator('button[data-command="restart"]').click()
    page.wait_for_function(
        """([cell, old]) => { const t = document.querySelector(cell).textContent; return t && t !== old; }""",
        arg=['#instances tr[data-key="app.ticker.0"] [data-field="pid"]', str(before)],
        timeout=SETTLE,
    )
    after = pid_of(running, "ticker.0")
    assert after != before
    assert pid_cell.inner_text() == str(after)


def test_a_crash_looping_worker_shows_backoff_within_a_second(page: Any, running: Running) -> None:
    """flaky.0 killed while its start command now fails at once: backoff on screen within 1 s."""
    running.flag.touch()
    try:
        pid = pid_of(running, "flaky.0")
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        row(page, "app.flaky.0").locator(".state.backoff").wait_for(timeout=LIVE)
        seen = time.monotonic() - killed
        assert seen < LIVE / 1000, f"backoff showed after {seen:.2f} s"
        assert "next try in" in row(page, "app.flaky.0").locator('[data-field="state"]').inner_text()
    finally:
        running.flag.unlink()
        sunup(running.project, "restart", "--worker", "flaky")


def test_a_line_printed_by_a_worker_appears_within_a_second(page: Any, running: Running) -> None:
    """A line echoer.0 prints is in the log view (all instances, prefixed) within 1 s."""
    line = f"hello dashboard {time.monotonic_ns()}"
    page.locator("#log-filter").fill("hello dashboard")
    try:
        writer = os.open(running.fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        pytest.fail(f"echoer.0 does not read its fifo: {exc}")
    written = time.monotonic()
    with os.fdopen(writer, "w") as handle:
        handle.write(line + "\n")
    page.locator("#log", has_text=line).wait_for(timeout=LIVE)
    seen = time.monotonic() - written
    assert seen < LIVE / 1000, f"the line showed after {seen:.2f} s"
    assert "app.echoer.0" in page.locator("#log").inner_text()


def _status(url: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, method=method, headers=headers or {}, data=b"{}" if method == "POST" else None
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_without_the_token_every_route_answers_401_and_no_data(browser: Any, running: Running) -> None:
    """The page, both event streams and a button, without (or with a wrong) token: 401, nothing of the project."""
    json_post = {"Content-Type": "application/json"}
    for url, method, headers in [
        (f"{running.origin}/", "GET", {}),
        (f"{running.origin}/events", "GET", {}),
        (f"{running.origin}/logs?instance=all", "GET", {}),
        (f"{running.origin}/?token=wrong", "GET", {}),
        (f"{running.origin}/api/restart", "POST", {**json_post, "X-Sunup-Token": "wrong"}),
    ]:
        status, body = _status(url, method=method, headers=headers)
        assert status == 401, (url, status)
        assert b"ticker" not in body and b"app." not in body, body
    opened = browser.new_page()
    try:
        answer = opened.goto(f"{running.origin}/")
        assert answer is not None and answer.status == 401
        assert "ticker" not in opened.content()
    finally:
        opened.close()


class _Attacker(http.server.BaseHTTPRequestHandler):
    """Another site: serves the page it was given."""

    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_site() -> Iterator[tuple[type[_Attacker], str]]:
    handler = type("Attacker", (_Attacker,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield handler, f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_cross_site_post_is_refused_even_with_the_token(browser: Any, running: Running, other_site: Any) -> None:
    """A page on another origin that knows the token can neither post a form nor fetch with the
    header: 403 / blocked, and ticker.0 keeps its pid."""
    handler, site = other_site
    target = f"{running.origin}/api/restart?token={running.token}"
    body = json.dumps({"instances": ["app.ticker.0"]})
    handler.html = f"""<!doctype html><body>
<form id="f" method="POST" action="{target}" enctype="text/plain">
<input name='{body[:-1]}, "x": "' value='"}}'></form>
<script>
window.fetched = fetch("{target}", {{method: "POST", headers: {{"Content-Type": "application/json",
  "X-Sunup-Token": "{running.token}"}}, body: '{body}'}}).then(r => "answered " + r.status, e => "blocked");
</script></body>""".encode()
    before = pid_of(running, "ticker.0")
    opened = browser.new_page()
    try:
        opened.goto(site)
        assert opened.evaluate("window.fetched") == "blocked"
        with opened.expect_navigation() as navigation:
            opened.evaluate("document.getElementById('f').submit()")
        answer = navigation.value
        assert answer is not None and answer.status == 403
        assert "cross-site" in opened.content()
    finally:
        opened.close()
    assert pid_of(running, "ticker.0") == before, "the cross-site request restarted ticker.0"


def test_the_page_weighs_under_200_kb_and_loads_nothing_from_elsewhere(browser: Any, running: Running) -> None:
    """Everything the page fetches comes from the dashboard itself, the page under 200 KB."""
    requested: list[str] = []
    opened = browser.new_page()
    opened.on("request", lambda request: requested.append(request.url))
    try:
        answer = opened.goto(running.link)
        assert answer is not None and answer.status == 200
        size = len(answer.body())
        opened.wait_for_selector("#link.up", timeout=SETTLE)
        opened.wait_for_selector("#crons tbody tr", timeout=SETTLE)
    finally:
        opened.close()
    assert size < 200 * 1024, f"the page is {size} bytes"
    assert requested and all(url.startswith(running.origin + "/") for url in requested), requested
