"""Instance output when the log cannot be written: the pipe is still read, lines are dropped and counted."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

from sunup.supervisor.child import output_pipe
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.logcapture import Buffers, LogFile
from sunup.supervisor.output import InstanceOutput
from sunup.supervisor.testing import ManualClock
from tests.supervisor.harness import run


class FullDisk(LogFile):
    """A log on a disk that is full while `full` is set: every write(2) fails with ENOSPC."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, 10_000_000)
        self.full = False

    def _append(self, buffers: Buffers) -> tuple[OSError | None, int]:
        if self.full:
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), 0
        return super()._append(buffers)


async def turns(condition: object, limit: int = 1000) -> None:
    """Let the event loop run until `condition()` holds (a bounded number of turns, no sleeping)."""
    for _ in range(limit):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("the event loop never got there")


def test_full_disk_drops_lines_and_says_so_once(tmp_path: Path) -> None:
    """While the log is full the pipe is still read (the writer never blocks), its lines are
    dropped, the problem is reported once, and the log then says how many lines were lost."""

    async def scenario() -> None:
        log = FullDisk(tmp_path / "app.log")
        problems: list[str] = []
        output = InstanceOutput(
            InstanceId("app", "queue", 0),
            loop=asyncio.get_running_loop(),
            clock=ManualClock(),
            log=log,
            console=None,
            problem=problems.append,
        )
        read_end, write_end = output_pipe()
        output.watch(read_end)
        os.write(write_end, b"one\n")
        await turns(lambda: (tmp_path / "app.log").stat().st_size > 0)
        log.full = True
        for number in range(3):
            os.write(write_end, f"lost {number}\n".encode())
            await turns(lambda: log.dropped_lines == number + 1)  # noqa: B023 - awaited at once
        assert len(problems) == 1 and "No space left on device" in problems[0] and "app.log" in problems[0]
        log.full = False
        os.write(write_end, b"two\n")
        os.close(write_end)
        await turns(lambda: output.open_pipes == 0)
        lines = [line.split(" ", 1)[1] for line in (tmp_path / "app.log").read_text().splitlines()]
        assert lines[0] == "one" and lines[2] == "two"
        assert lines[1].startswith("sunup: 3 lines (96 bytes) of output were dropped from ")  # with their timestamps
        assert lines[1].endswith(": No space left on device")
        assert problems[1] == f"writing {log.path} again (3 lines were dropped)"
        output.close()

    run(scenario())
