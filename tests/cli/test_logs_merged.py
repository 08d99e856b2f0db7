"""`sunup logs` without a selection: every instance, merged in time order, prefixed, like
`docker compose logs` (`-n` per instance, `-f` follows them all, colour on a terminal only)."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.test_runtime_commands import sunup

CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    web:
      commands:
        start: "echo web one; sleep 0.3; echo web two; exec sleep 1000"
    workers:
      queue:
        commands:
          start: "sleep 0.15; echo queue one; sleep 0.3; echo queue two; exec sleep 1001"
"""

LINE = re.compile(r"^(web\.0  |queue\.0) \| (\d{4}-\d\d-\d\dT\S+Z) (.*)$")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The project above, up in the background, each instance's lines written (then down)."""
    root = tmp_path_factory.mktemp("logs") / "project"
    (root / ".upsun").mkdir(parents=True)
    (root / ".upsun" / "config.yaml").write_text(CONFIG)
    started = sunup(root, "up", "-d", "--settle", "0.2")
    assert started.returncode == 0, started.stderr
    deadline = time.monotonic() + 20
    while "queue two" not in sunup(root, "logs", "--worker", "queue").stdout:
        assert time.monotonic() < deadline, "the queue worker did not write its lines"
    yield root
    sunup(root, "down")


def parsed(text: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in text.splitlines():
        found = LINE.match(line)
        assert found, f"not a prefixed log line: {line!r}"
        rows.append((found.group(1).strip(), found.group(2), found.group(3)))
    return rows


@pytest.mark.slow
def test_logs_without_selection_merges_every_instance(running: Path) -> None:
    """Both instances' lines, each after `name |`, in time order, no colour when not a terminal."""
    result = sunup(running, "logs")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    rows = parsed(result.stdout)
    said = [(name, text) for name, _, text in rows if not text.startswith("sunup")]
    assert said == [("web.0", "web one"), ("queue.0", "queue one"), ("web.0", "web two"), ("queue.0", "queue two")]
    assert [stamp for _, stamp, _ in rows] == sorted(stamp for _, stamp, _ in rows)


@pytest.mark.slow
def test_logs_lines_count_per_instance_and_selection_as_before(running: Path) -> None:
    """`-n 1` is one line of each instance; `--worker queue` is that log alone, unprefixed."""
    last = parsed(sunup(running, "logs", "-n", "1").stdout)
    assert [(name, text) for name, _, text in last] == [("web.0", "web two"), ("queue.0", "queue two")]
    alone = sunup(running, "logs", "--worker", "queue", "-n", "1").stdout
    assert alone.endswith(" queue two\n") and "|" not in alone
    web = sunup(running, "logs", "--web", "-n", "1").stdout
    assert web.endswith(" web two\n") and "|" not in web


@pytest.mark.slow
def test_logs_are_coloured_on_a_terminal(running: Path) -> None:
    """On a terminal, each instance's prefix has a colour of its own (as in `sunup up`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "SUNUP_STATE_DIR")}
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "sunup", "logs", "-n", "1"],
            cwd=running,
            env=env,
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=30,
            check=False,
        )
        assert process.returncode == 0, process.stderr
        seen = b""
        while select.select([leader], [], [], 0.5)[0]:
            seen += os.read(leader, 65536)
    finally:
        os.close(leader)
        os.close(follower)
    assert b"\x1b[36mweb.0   | \x1b[0m" in seen, seen
    assert b"\x1b[33mqueue.0 | \x1b[0m" in seen, seen


@pytest.mark.slow
def test_logs_follow_shows_every_instance(running: Path) -> None:
    """`logs -f` without a selection prints the new lines of each instance as they come."""
    env = {**os.environ, "NO_COLOR": "1"}
    follower = subprocess.Popen(
        [sys.executable, "-m", "sunup", "logs", "-n", "0", "-f"], cwd=running, env=env, stdout=subprocess.PIPE
    )
    assert follower.stdout is not None
    try:
        seen = b""
        for option, line in (("--worker", rb"queue\.0 \| \S+ queue one"), ("--web", rb"web\.0   \| \S+ web one")):
            assert sunup(running, "restart", option, *(["queue"] if option == "--worker" else [])).returncode == 0
            deadline = time.monotonic() + 15
            while not re.search(line, seen):
                remaining = deadline - time.monotonic()
                assert remaining > 0 and select.select([follower.stdout], [], [], remaining)[0], seen
                seen += os.read(follower.stdout.fileno(), 65536)
    finally:
        follower.terminate()
        follower.wait(timeout=10)
        follower.stdout.close()


def test_logs_without_a_supervisor_read_every_instance_folder(make_project: Callable[..., Path]) -> None:
    """With nothing running, `sunup logs` merges the logs the instances left (by their folders)."""
    root = make_project({".upsun/config.yaml": CONFIG})
    logs = root / ".sunup" / "logs" / "app"
    for name, text in (("web.0", "2026-01-01T00:00:02.000Z b\n"), ("queue.0", "2026-01-01T00:00:01.000Z a\n")):
        (logs / name).mkdir(parents=True)
        (logs / name / "app.log").write_text(text)
    result = sunup(root, "logs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "queue.0 | 2026-01-01T00:00:01.000Z a\nweb.0   | 2026-01-01T00:00:02.000Z b\n"
