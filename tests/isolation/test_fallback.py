"""The fallback backend's own machinery: the tag it hands out and its shared scans of /proc."""

from __future__ import annotations

from pathlib import Path

from sunup.isolation import open_isolation
from sunup.isolation.fallback import TAG_VARIABLE, Census


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_instance_gets_its_own_tag_in_its_environment(tmp_path: Path) -> None:
    """The environment to pass names the project's top-level group and the instance."""
    isolation = open_isolation(tmp_path, backend="none")
    web = isolation.prepare("web.0").environment[TAG_VARIABLE]
    queue = isolation.prepare("queue.0").environment[TAG_VARIABLE]
    assert web != queue
    assert web.endswith("/web.0")
    assert web.split("/")[0] == queue.split("/")[0]


def test_a_display_scan_is_reused_while_recent_and_never_for_other_questions() -> None:
    """take(max_age) reuses the last take(max_age) scan younger than max_age; take() always rescans."""
    clock = Ticks()
    census = Census(clock)
    fresh = census.take()
    display = census.take(max_age=1.0)
    assert display is not fresh
    assert census.take(max_age=1.0) is display
    assert census.take() is not display
    clock.now += 2.0
    assert census.take(max_age=1.0) is not display
