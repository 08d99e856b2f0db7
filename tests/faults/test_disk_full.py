"""A full disk under sunup: the log folder, then the whole state folder, on a small tmpfs filled up.

sunup says so once (naming the instance and the file), keeps supervising (the instances run on,
`ps` answers, restarts work), never replaces a good state file by a part of one, drops the
output it cannot write instead of blocking the instance on its full pipe, and writes again as
soon as there is room, beginning with a note of what was dropped.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sunup.supervisor.logcapture import LogFile
from tests.faults.conftest import Project, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a tmpfs: needs root")

#: `chatty` writes a 16 KB line every 20 ms (its pipe, 1 MB, would be full in about a second if
#: it were not read) and counts its lines in a file of its `tmp` mount, not on the full disk.
CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    mounts:
      progress: {source: tmp}
    web:
      commands:
        start: "exec sleep 36061"
    workers:
      chatty:
        commands:
          start: |
            pad=$(printf '%016000d' 0)
            i=0
            while :; do
              i=$((i+1))
              echo "tick $i $pad"
              echo $i > progress/count.new && mv progress/count.new progress/count
              sleep 0.02
            done
"""


def fill(folder: Path, leave: int = 0) -> Path:
    """Write a file in `folder` until its disk is full (but for `leave` bytes); the file, to
    delete to make room again."""
    filler = folder / f"filler-{len(list(folder.glob('filler-*')))}"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, filler.stat().st_size - leave)
        return filler
    with pytest.raises(OSError) as full:  # nothing more fits
        (folder / "probe").write_bytes(b"\0" * 8192)
    assert full.value.errno == errno.ENOSPC
    (folder / "probe").unlink(missing_ok=True)
    return filler


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` at `mountpoint`, unmounted (lazily, whatever still uses it) at the end."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)


def test_a_log_on_a_full_disk(tmp_path: Path) -> None:
    """LogFile on a real full disk: lines dropped and counted, never an exception; the note
    starts on a line of its own; a log that cannot be cut (no room for its half) is kept whole."""
    problems: list[str] = []
    line = b"x" * 999 + b"\n"
    with tmpfs(tmp_path / "disk", "256k") as disk:
        log = LogFile(disk / "app.log", limit=150_000, problem=problems.append)
        log.write([line] * 20)
        filler = fill(disk)
        for _ in range(50):
            log.write([line, line])
        assert log.dropping and log.dropped_lines >= 90, log.dropped_lines
        assert len(problems) == 1 and "No space left on device" in problems[0], problems
        filler.unlink()
        log.write(b"after\n")
        assert not log.dropping
        written = (disk / "app.log").read_bytes().split(b"\n")
        note = next(i for i, text in enumerate(written) if b"of output were dropped" in text)
        assert all(text == line[:-1] for text in written[:note][:20]), "the lines before are whole"
        assert written[note].split(b" ", 1)[1].startswith(b"sunup: "), "the note starts its own line"
        assert written[note + 1 :] == [b"after", b""]
        assert problems[1].startswith(f"writing {log.path} again")

        log.close()

        big = LogFile(disk / "big.log", limit=100_000, problem=problems.append)
        big.write([line] * 90)
        filler = fill(disk, leave=16_384)  # room for 12 more lines, not for the newest half
        big.write([line] * 12)
        assert any(f"cannot cut {big.path}" in problem for problem in problems), problems
        assert (disk / "big.log").read_bytes() == line * 102, "the log is kept whole"
        assert not list(disk.glob("*.trim")), "no half-written copy left"
        filler.unlink()
        big.write([line] * 10)  # room again: tried again a tenth of the limit later, and cut
        assert (disk / "big.log").stat().st_size <= 50_000
        big.close()


@pytest.fixture
def on_small_disk(faulty: Callable[[dict[str, str]], Project]) -> Iterator[Callable[[str, str], Project]]:
    """A project whose `folder` (relative to it) is a tmpfs of `size`; the project is cleaned up
    (`sunup down`, anything left killed) before the tmpfs is unmounted, even when the test fails."""
    made: list[tuple[Project, Path]] = []

    def make(folder: str, size: str) -> Project:
        project = faulty({".upsun/config.yaml": CONFIG})
        mountpoint = project.root / folder
        mountpoint.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)], check=True)
        made.append((project, mountpoint))
        return project

    yield make
    for project, mountpoint in made:
        try:
            for filler in mountpoint.glob("filler-*"):  # a test that failed on a full disk
                filler.unlink()
            project.cleanup()
        finally:
            subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)


def count(project: Project) -> int:
    """How many lines `chatty` has written (0 before it started)."""
    found = list(project.state.root.glob("volumes/app/app/chatty/tmp/0/*/count"))
    try:
        return int(found[0].read_text()) if found else 0
    except (OSError, ValueError):
        return 0


def instances(project: Project) -> dict[str, dict[str, object]]:
    ps = project("ps", "--json")
    assert ps.returncode == 0, ps.stderr
    return {row["name"]: row for row in json.loads(ps.stdout)}


def lines(path: Path, text: str) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if text in line]


@pytest.mark.slow
def test_full_log_folder(on_small_disk: Callable[[str, str], Project]) -> None:
    """With the log folder full, sunup reports it once, the writer is not blocked (its lines are
    dropped), ps and restart work, and logging resumes with a note once there is room."""
    project = on_small_disk(".sunup/logs", "16m")
    up = project("up", "-d", "--settle", "0")
    assert up.returncode == 0, up.stderr
    app_log = project.state.root / "logs" / "app" / "chatty.0" / "app.log"
    wait_for(lambda: app_log.exists() and b"tick" in app_log.read_bytes(), "chatty's first lines")

    filler = fill(project.state.root / "logs")
    wait_for(lambda: lines(project.state.supervisor_log, "cannot write"), "sunup to report the full log folder")
    [report] = lines(project.state.supervisor_log, "cannot write")
    assert "chatty.0" in report and str(app_log) in report and "No space left on device" in report, report
    start = count(project)
    wait_for(lambda: count(project) >= start + 150, "chatty to write 2.4 MB more (its pipe holds 1 MB)")
    assert len(lines(project.state.supervisor_log, "cannot write")) == 1, "reported once, not at every line"

    before = instances(project)
    assert before["chatty.0"]["state"] == "running" and before["web.0"]["state"] == "running"
    restart = project("restart", "--worker", "chatty")
    assert restart.returncode == 0, restart.stderr
    after = instances(project)
    assert after["chatty.0"]["pid"] != before["chatty.0"]["pid"] and after["chatty.0"]["state"] == "running"
    wait_for(lambda: count(project) >= 50, "the restarted chatty to write, its log still full")

    filler.unlink()
    wait_for(lambda: lines(app_log, "of output were dropped"), "the note of the dropped lines")
    note = lines(app_log, "of output were dropped")[0]
    assert "No space left on device" in note, note
    dropped = int(note.split("sunup: ", 1)[1].split()[0])
    assert dropped >= 150, note
    wait_for(lambda: app_log.read_text(errors="replace").split(note, 1)[1].count("tick") >= 5, "new lines")
    assert lines(project.state.supervisor_log, f"writing {app_log} again"), "the end of the problem is said too"


@pytest.mark.slow
def test_full_state_folder(on_small_disk: Callable[[str, str], Project]) -> None:
    """With the whole state folder full, a command that must write a state file fails naming it
    and leaves the good file as it was; the instances run on; all works again once there is room."""
    project = on_small_disk(".sunup", "4m")
    up = project("up", "-d", "--settle", "0")
    assert up.returncode == 0, up.stderr
    settings = project.state.root / "resources.json"
    assert project("resources:set", "--size", "chatty:0.25").returncode == 0
    good = settings.read_bytes()

    filler = fill(project.state.root)
    refused = project("resources:set", "--count", "chatty:2")
    assert refused.returncode == 1, refused.stderr
    assert "No space left on device" in refused.stderr and str(settings) in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert settings.read_bytes() == good, "a failed write left the good file as it was"
    assert not list(project.state.root.glob(".resources.json.*")), "no temporary file left behind"
    assert set(instances(project)) == {"web.0", "chatty.0"}, "the refused change was not applied"

    restart = project("restart")
    assert restart.returncode == 0, restart.stderr
    assert all(row["state"] == "running" for row in instances(project).values())
    down = project("down")
    assert down.returncode == 0, down.stderr
    more = fill(project.state.root)  # what `down` freed (the `tmp` mounts)
    refused_up = project("up", "-d", "--settle", "0")
    assert refused_up.returncode == 1 and "No space left on device" in refused_up.stderr, refused_up.stderr
    assert "Traceback" not in refused_up.stderr + project.state.supervisor_log.read_text(errors="replace")
    assert project.supervisor() is None, "a refused `up` leaves no supervisor"

    filler.unlink()
    more.unlink()
    up = project("up", "-d", "--settle", "0")
    assert up.returncode == 0, up.stderr
    grown = project("resources:set", "--count", "chatty:2")
    assert grown.returncode == 0, grown.stderr
    assert json.loads(settings.read_bytes())["app:chatty"] == {"cpu": 0.25, "count": 2}
    wait_for(lambda: set(instances(project)) == {"web.0", "chatty.0", "chatty.1"}, "chatty.1 to start")
