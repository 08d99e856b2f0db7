"""The output of one instance: its pipes, read by the event loop into app.log and the console.

Each spawn gets a new pipe (stdout and stderr of the start command and post_start); a pipe that
a stray descendant keeps open is read until its end of file without anyone waiting on it. The
latest raw output is kept (`tail`) to explain a failure.

When app.log cannot be written (disk full), nothing is dropped: the unwritten lines are held,
the pipes are no longer read (so the instance blocks on its full pipe, as with a slow disk), the
problem is reported once, and writing is tried again every `RETRY` seconds until it works.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from sunup.supervisor.clock import Clock, Timer
from sunup.supervisor.console import Console
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.logcapture import Buffers, LineFramer, LogFile, LogWriteError, Timestamps

#: Bytes read per call: measured fastest here (bigger reads cost page faults for fresh buffers).
READ_SIZE = 128 * 1024
#: How much of the latest output is kept to explain a failure.
TAIL_SIZE = 4096
#: Seconds between two tries to write a log that could not be written.
RETRY = 1.0


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
        self._console = console
        self._stamps = Timestamps()
        self._problem = problem
        #: {fd: (framer for app.log, framer for the console or None)}.
        self._pipes: dict[int, tuple[LineFramer, LineFramer | None]] = {}
        #: Lines the log could not take yet; while there are some, the pipes are not read.
        self._held = b""
        self._retry: Timer | None = None

    def watch(self, fd: int) -> None:
        """Read the non-blocking pipe `fd` whenever it has data, until its end of file."""
        self._pipes[fd] = (LineFramer(), LineFramer() if self._console is not None else None)
        self._loop.add_reader(fd, self._read, fd)

    @property
    def paused(self) -> bool:
        """The log could not take the latest lines: the pipes wait."""
        return bool(self._held)

    @property
    def open_pipes(self) -> int:
        return len(self._pipes)

    def drain(self) -> None:
        """Read everything the pipes hold now (so a process's last lines precede its exit)."""
        if self._held:
            return
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
        return len(data) == READ_SIZE and not self._held

    def _write(self, buffers: Buffers) -> None:
        try:
            self._log.write(buffers)
        except LogWriteError as exc:
            self._held = exc.rest
            for fd in self._pipes:
                self._loop.remove_reader(fd)
            self._problem(
                f"cannot write {self._log.path}: {exc}; its output waits in its pipe (the instance is "
                f"slowed down, nothing is lost) and sunup tries again every {RETRY:g} s"
            )
            self._retry = self._clock.call_at(self._clock.monotonic() + RETRY, self._resume)

    def _resume(self) -> None:
        self._retry = None
        try:
            self._log.write(self._held)
        except LogWriteError as exc:
            self._held = exc.rest
            self._retry = self._clock.call_at(self._clock.monotonic() + RETRY, self._resume)
            return
        self._held = b""
        self._problem(f"writing {self._log.path} again")
        for fd in self._pipes:
            self._loop.add_reader(fd, self._read, fd)

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
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._held:
            try:
                self._log.write(self._held)
            except LogWriteError as exc:
                self._problem(f"{len(exc.rest)} bytes of output could not be written to {self._log.path}: {exc}")
            self._held = b""
        self.drain()
        for fd in list(self._pipes):
            self._forget(fd)
        if self._retry is not None:
            self._retry.cancel()
        self._log.close()
