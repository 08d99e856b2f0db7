"""Instance output when the log cannot be written: held, the pipe left unread, retried, nothing lost."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sunup.supervisor.child import output_pipe
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.logcapture import Buffers, LogFile, LogWriteError
from sunup.supervisor.output import RETRY, InstanceOutput
from sunup.supervisor.testing import ManualClock
from tests.supervisor.harness import run


class FullDisk(LogFile):
    """A log whose first `failures` writes fail as on a full disk."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path, 10_000_000)
        self.failures = failures

    def write(self, buffers: Buffers | bytes) -> None:
        if self.failures > 0:
            self.failures -= 1
            data = buffers if isinstance(buffers, bytes) else b"".join(buffers)
            raise LogWriteError(OSError(28, "No space left on device"), data)
        super().write(buffers)


async def turns(condition: object, limit: int = 1000) -> None:
    """Let the event loop run until `condition()` holds (a bounded number of turns, no sleeping)."""
    for _ in range(limit):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0)
    raise AssertionError("the event loop never got there")


def test_full_disk_holds_output_and_retries(tmp_path: Path) -> None:
    """Lines that cannot be written are held, the pipe is not read meanwhile, and all arrive in order."""

    async def scenario() -> None:
        clock = ManualClock()
        log = FullDisk(tmp_path / "app.log", failures=2)
        problems: list[str] = []
        output = InstanceOutput(
            InstanceId("app", "queue", 0),
            loop=asyncio.get_running_loop(),
            clock=clock,
            log=log,
            console=None,
            problem=problems.append,
        )
        read_end, write_end = output_pipe()
        output.watch(read_end)
        os.write(write_end, b"one\ntwo\n")
        await turns(lambda: output.paused)
        assert "No space left on device" in problems[0]
        os.write(write_end, b"three\n")
        for _ in range(50):
            await asyncio.sleep(0)
        assert output.paused, "the pipe must not be read while the log is full"
        clock.advance(RETRY)
        assert output.paused, "the second try fails too"
        clock.advance(RETRY)
        assert not output.paused
        os.close(write_end)
        await turns(lambda: output.open_pipes == 0)
        lines = [line.split(" ", 1)[1] for line in (tmp_path / "app.log").read_text().splitlines()]
        assert lines == ["one", "two", "three"]
        assert problems[-1].startswith("writing")
        output.close()

    run(scenario())
