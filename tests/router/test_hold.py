"""While an app's web instance does not answer, the real nginx hands requests to the hold server:
held for the hold time, then a 503 naming the instance; passed on, body intact, to an instance
that starts during the hold; an app with no web start command says so at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from sunup.router.hold import RETRY, Down
from sunup.router.site import RouterSite
from tests.conftest import project_maker
from tests.plan.golden import resolve
from tests.router.rig import Answer, EchoApp, Rig, fetch, free_address, make_site, until

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
routes:
  "http://{default}/":
    type: upstream
    upstream: "app:http"
    cache:
      enabled: false
"""


def down(app: str) -> Down:
    """What the supervisor says of a stopped web instance."""
    return Down(
        "web.0", "stopped (stopped by a user: sunup start --web starts it)", "exit status 1", "sunup logs --web"
    )


def site_for(tmp_path: Path, upstreams: tuple[str, ...]) -> RouterSite:
    project = project_maker(tmp_path)({".upsun/config.yaml": CONFIG, "app.py": "", "public/page.html": "a page"})
    return make_site(
        resolve(project), tmp_path / "state", free_address(), roots={"app": project}, upstreams={"app": upstreams}
    )


def in_thread(call: Callable[[], Answer]) -> tuple[threading.Thread, list[Answer | BaseException]]:
    found: list[Answer | BaseException] = []

    def run() -> None:
        try:
            found.append(call())
        except BaseException as exc:  # reported by the test
            found.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, found


def test_a_stopped_app_is_held_then_answered_503_naming_it(tmp_path: Path) -> None:
    """With the app not listening, a GET waits the hold time, then gets a 503 page naming the
    instance, its last exit and `sunup logs`; static files are still served meanwhile."""
    site = site_for(tmp_path, (f"unix:{tmp_path / 'app.sock'}",))
    with Rig(site, tmp_path, describe=down, hold=1.0) as rig:
        assert fetch(rig.url("http", path="/page.html")).body == b"a page"
        started = time.monotonic()
        answer = fetch(rig.url("http", path="/dynamic"))
        waited = time.monotonic() - started
    assert answer.status == 503
    # The hold gives up when its next try would fall past the deadline: up to RETRY early.
    assert 1.0 - RETRY <= waited < 10, f"answered after {waited:.2f} s, the hold is 1 s"
    page = answer.body.decode()
    assert "web.0" in page and "sunup logs --web" in page and "exit status 1" in page
    assert answer.header("Retry-After") is not None


def test_an_app_started_during_the_hold_gets_the_held_requests(tmp_path: Path) -> None:
    """A GET and a POST held while the app is down reach it, the POST's body intact, once it listens."""
    socket_path = tmp_path / "app.sock"
    site = site_for(tmp_path, (f"unix:{socket_path}",))
    body = bytes(range(256)) * 40
    with Rig(site, tmp_path, describe=down, hold=30.0) as rig:
        get, got = in_thread(lambda: fetch(rig.url("http", path="/held?x=1")))
        post, posted = in_thread(
            lambda: fetch(rig.url("http", path="/form"), method="POST", body=body, headers={"Content-Type": "x/y"})
        )
        hold = rig.hold_server
        assert hold is not None
        until(lambda: len(hold._clients) == 2, "both requests to be held")
        app = EchoApp("app", f"unix:{socket_path}")
        try:
            get.join(20)
            post.join(20)
        finally:
            app.stop()
    assert len(got) == 1 and isinstance(got[0], Answer), got
    assert len(posted) == 1 and isinstance(posted[0], Answer), posted
    held_get, held_post = got[0].json(), posted[0].json()
    assert (held_get["method"], held_get["path"]) == ("GET", "/held?x=1")
    assert (held_post["method"], held_post["path"]) == ("POST", "/form")
    assert held_post["body"].encode("latin-1") == body
    assert held_post["headers"]["content-type"] == "x/y"
    assert hold.passed == 2


def test_an_app_without_a_web_start_command_says_so(tmp_path: Path) -> None:
    """A request for the app of a site whose web has no start command gets a 503 saying so, at once."""
    site = site_for(tmp_path, ())
    with Rig(site, tmp_path, describe=down, hold=30.0) as rig:
        assert fetch(rig.url("http", path="/page.html")).body == b"a page"
        started = time.monotonic()
        answer = fetch(rig.url("http", path="/dynamic"))
        waited = time.monotonic() - started
    assert answer.status == 503 and waited < 5
    assert b"app app has no web instance" in answer.body and b"web.commands.start" in answer.body
