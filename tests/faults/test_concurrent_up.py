"""Two `sunup up` started at the same moment, in the foreground or with -d: exactly one runs the
project; the other is refused, naming the running supervisor, and disturbs nothing."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.errors import RuntimeFailure
from sunup.supervisor.statedir import StateDir, SupervisorLock
from tests.faults.conftest import WAIT, Project, wait_for
from tests.supervisor.harness import alive

CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    web:
      commands:
        start: "echo $$ >> {marks}/web; exec sleep 36041"
    workers:
      queue:
        commands:
          start: "echo $$ >> {marks}/queue; exec sleep 36042"
"""

MODES = {"background": ("up", "-d", "--settle", "0.5"), "foreground": ("up",)}


def started(marks: Path, name: str) -> list[int]:
    path = marks / name
    return [int(word) for word in path.read_text().split()] if path.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize(
    ("first", "second"), [("background", "background"), ("foreground", "foreground"), ("foreground", "background")]
)
def test_one_of_two_ups_started_together_wins(
    faulty: Callable[[dict[str, str]], Project], tmp_path: Path, first: str, second: str
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    project = faulty({".upsun/config.yaml": CONFIG.format(marks=marks)})
    ups = [project.start(*MODES[first]), project.start(*MODES[second])]

    def refused() -> subprocess.Popen[bytes] | None:
        """The `up` that ended with a failure (the foreground winner never ends by itself)."""
        ended = [up for up in ups if up.poll() not in (None, 0)]
        return ended[0] if ended else None

    wait_for(refused, "one `sunup up` to be refused")
    loser = refused()
    assert loser is not None
    winner = ups[1 - ups.index(loser)]
    if MODES[first if winner is ups[0] else second] == MODES["background"]:
        assert winner.wait(timeout=WAIT) == 0, project.output(winner)
    wait_for(lambda: started(marks, "web") and started(marks, "queue"), "the winner's instances")

    said = project.output(loser)
    supervisor = project.supervisor()
    assert supervisor is not None and supervisor > 0
    assert loser.returncode == 1, said
    assert f"sunup is already running for this project (pid {supervisor})" in said, said
    assert "Traceback" not in said

    ps = project("ps", "--json")
    assert ps.returncode == 0, ps.stderr
    rows = {row["name"]: row for row in json.loads(ps.stdout)}
    assert {name: (row["state"], row["restarts"]) for name, row in rows.items()} == {
        "web.0": ("running", 0),
        "queue.0": ("running", 0),
    }
    assert started(marks, "web") == [rows["web.0"]["pid"]], "web.0 was started twice"
    assert started(marks, "queue") == [rows["queue.0"]["pid"]], "queue.0 was started twice"

    if winner.poll() is None:  # a foreground winner: stop it as a user would
        winner.send_signal(signal.SIGINT)
        assert winner.wait(timeout=WAIT) == 0, project.output(winner)
    else:
        assert project("down").returncode == 0
    assert not any(alive(pid) for pid in started(marks, "web") + started(marks, "queue"))


def test_the_refusal_names_the_supervisor_that_just_took_the_lock(tmp_path: Path) -> None:
    """The lock is taken, and the pid written just after: a `sunup up` refused in between names
    the new supervisor, not the killed one whose pid the file still holds (nor none)."""
    state = StateDir(tmp_path / ".sunup")
    state.create()
    dead = subprocess.Popen(["true"])
    dead.wait()
    state.lock.write_text(f"{dead.pid}\n")  # what a SIGKILLed supervisor leaves
    winner = os.open(state.lock, os.O_RDWR)
    fcntl.flock(winner, fcntl.LOCK_EX | fcntl.LOCK_NB)
    writes = threading.Timer(0.2, lambda: os.pwrite(winner, f"{os.getpid()}\n".encode().ljust(8), 0))
    writes.start()
    try:
        with pytest.raises(RuntimeFailure, match=rf"already running for this project \(pid {os.getpid()}\)"):
            SupervisorLock(state).acquire()
    finally:
        writes.join()
        os.close(winner)
