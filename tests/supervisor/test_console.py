"""Foreground output: aligned instance names, colours only when asked, events on one line."""

from __future__ import annotations

import os

from sunup.supervisor.console import Console
from sunup.supervisor.events import ProblemEvent
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.logcapture import LineFramer

WEB = InstanceId("app", "web", 0)
QUEUE = InstanceId("app", "queue", 1)


def captured(colour: bool, instances: list[InstanceId]) -> tuple[Console, int]:
    read_end, write_end = os.pipe()
    return Console(instances, fd=write_end, colour=colour), read_end


def test_lines_are_prefixed_with_aligned_names() -> None:
    """Every line gets its instance's name, padded to the longest name, and a bar."""
    console, read_end = captured(False, [WEB, QUEUE])
    console.lines(LineFramer().feed(b"one\ntwo\n", console.prefix(WEB)))
    console.event(ProblemEvent(QUEUE, 0.0, "post_start failed with status 1"))
    assert os.read(read_end, 4096) == (
        b"web.0   | one\nweb.0   | two\nqueue.1 | sunup: post_start failed with status 1\n"
    )


def test_colours_only_when_asked() -> None:
    """With colour, each name is wrapped in an ANSI colour; without, there is no escape at all."""
    coloured, _ = captured(True, [WEB])
    plain, _ = captured(False, [WEB])
    assert coloured.prefix(WEB).startswith(b"\x1b[")
    assert b"\x1b" not in plain.prefix(WEB)


def test_several_apps_show_the_app() -> None:
    """In a project with several apps, names carry their app."""
    console, _ = captured(False, [WEB, InstanceId("api", "web", 0)])
    assert console.prefix(WEB) == b"app/web.0 | "
