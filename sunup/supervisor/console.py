"""Foreground output of `sunup up`: every instance's lines prefixed with its name, and events.

    web.0   | [2025-01-31 12:00:00 +0000] [42] [INFO] Listening at: http://127.0.0.1:8000
    queue.0 | sunup: running (pid 4242)

Names are aligned and, on a terminal (and without NO_COLOR), coloured one colour per instance.
Lines go out whole, in the order they were read; writes block rather than drop.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from sunup.supervisor.events import Event
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.logcapture import Buffers, prefix_lines

#: The prefixes' colours, one per instance in turn (also `sunup logs`': `sunup.cli.output`).
#: The prefixes' colours, one per instance in turn (`sunup logs` uses them too: `sunup.cli.output`).
COLOURS = (36, 33, 32, 35, 34, 96, 93, 92, 95, 94)


class Console:
    """Writes prefixed instance output and one line per event to a file descriptor."""

    def __init__(self, instances: Sequence[InstanceId], *, fd: int = 1, colour: bool | None = None) -> None:
        self._fd = fd
        if colour is None:
            colour = os.isatty(fd) and not os.environ.get("NO_COLOR")
        self._with_app = len({i.app for i in instances}) > 1
        self._width = max((len(i.label(with_app=self._with_app)) for i in instances), default=0)
        self._prefixes: dict[InstanceId, bytes] = {}
        self._colour = colour
        for instance in instances:
            self.add(instance)

    def add(self, instance: InstanceId) -> None:
        """Give an instance its prefix (the next colour; a group grew while sunup runs)."""
        text = instance.label(with_app=self._with_app).ljust(self._width) + " | "
        if self._colour:
            text = f"\x1b[{COLOURS[len(self._prefixes) % len(COLOURS)]}m{text}\x1b[0m"
        self._prefixes[instance] = text.encode()

    def prefix(self, instance: InstanceId) -> bytes:
        return self._prefixes.get(instance, b"? | ")

    def lines(self, buffers: Buffers) -> None:
        """Write whole prefixed lines (from a `LineFramer` fed with `prefix(instance)`)."""
        if buffers:
            self._write(b"".join(buffers))

    def event(self, event: Event) -> None:
        """An observer: one line per state change or problem."""
        text = f"sunup: {event.describe()}"
        if self._colour:
            text = f"\x1b[2m{text}\x1b[0m"
        self._write(prefix_lines(text.encode() + b"\n", self._prefixes.get(event.instance, b"")))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except BlockingIOError:
            os.set_blocking(self._fd, True)
            self._write(bytes(view))
        except BrokenPipeError:
            return
