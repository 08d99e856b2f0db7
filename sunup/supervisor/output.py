"""The output of one instance: its pipes, read by the event loop into app.log and the console.

Each spawn gets a new pipe (stdout and stderr of the start command and post_start); a pipe that
a stray descendant keeps open is read until its end of file without anyone waiting on it. The
latest raw output is kept (`tail`) to explain a failure.

When app.log cannot be written (disk full), the pipes are still read and the lines dropped
(`LogFile`): the instance never blocks on a full disk; the problem is reported once, as one of
the instance's problems, and the log says how many lines were lost once it can be written again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from sunup.supervisor.clock import Clock
from sunup.supervisor.console import Console
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.logcapture import Buffers, LineFramer, LogFile, Timestamps

#: Bytes read per call: measured fastest here (bigger reads cost page faults for fresh buffers).
READ_SIZE = 128 * 1024
#: How much of the latest output is kept to explain a failure.
TAIL_SIZE = 4096


class InstanceOutput:
    def __init__(
        self,
        instance: InstanceId,
        *,
        loop: asyncio.AbstractEventLoop,
        clock: Clock,
        log: LogFile,
        console: Console | None,
        problem: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.instance = instance
        #: The latest output, for failure reports.
        self.tail = b""
        self._loop = loop
        self._clock = clock
        self._log = log
        log.problem = problem
        self._console = console
        self._stamps = Timestamps()
        #: {fd: (framer for app.log, framer for the console or None)}.
        self._pipes: dict[int, tuple[LineFramer, LineFramer | None]] = {}

    def watch(self, fd: int) -> None:
        """Read the non-blocking pipe `fd` whenever it has data, until its end of file."""
        self._pipes[fd] = (LineFramer(), LineFramer() if self._console is not None else None)
        self._loop.add_reader(fd, self._read, fd)

    @property
    def open_pipes(self) -> int:
        return len(self._pipes)

    def drain(self) -> None:
        """Read everything the pipes hold now (so a process's last lines precede its exit)."""
        for fd in list(self._pipes):
            while fd in self._pipes and self._read(fd):
                pass

    def _read(self, fd: int) -> bool:
        """Read one chunk; False when nothing more is there now (or at end of file)."""
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self._forget(fd)
            return False
        framer, console_framer = self._pipes[fd]
        buffers = framer.feed(data, self._stamps.prefix(self._clock.wall()))
        if buffers:
            self._write(buffers)
        if self._console is not None and console_framer is not None:
            self._console.lines(console_framer.feed(data, self._console.prefix(self.instance)))
        self.tail = data[-TAIL_SIZE:] if len(data) >= TAIL_SIZE else (self.tail + data)[-TAIL_SIZE:]
        return len(data) == READ_SIZE

    def _write(self, buffers: Buffers) -> None:
        self._log.write(buffers)

    def _forget(self, fd: int) -> None:
        """End of a pipe: write its unfinished last line, close it."""
        self._loop.remove_reader(fd)
        os.close(fd)
        framer, console_framer = self._pipes.pop(fd)
        block = framer.flush(self._stamps.prefix(self._clock.wall()))
        if block:
            self._write(block)
        if self._console is not None and console_framer is not None:
            self._console.lines(console_framer.flush(self._console.prefix(self.instance)))

    def close(self) -> None:
        """Read what is left, close every pipe and the log."""
        self.drain()
        for fd in list(self._pipes):
            self._forget(fd)
        self._log.close()
