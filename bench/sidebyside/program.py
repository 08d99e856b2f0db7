"""What the managers are asked to run: programs (a shell command, run `count` times), and the
commands of each scenario's workload."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Characters that make a command need a shell (the managers that do not use one get `sh -c`).
SHELL_SYNTAX = set("&|;<>()$`'\"\n*?[]~=")

WRITER = Path(__file__).with_name("writer.py")
#: Bytes per line written by `writer`, newline included.
LINE_BYTES = 99

#: Exits 1 s after SIGTERM (stop scenario); `wait` lets the trap run at once.
SLOW_STOPPER = "trap 'sleep 1; exit 0' TERM; while :; do sleep 0.1 & wait $!; done"


@dataclass(frozen=True, slots=True)
class Program:
    #: [a-z0-9_]+: a supervisord program, a circus watcher, a Procfile entry, a sunup worker.
    name: str
    #: A POSIX shell command line.
    command: str
    count: int = 1
    #: CPU size for managers that limit instances (sunup: 0.5 by default, as on Upsun); the
    #: peers do not limit.
    cpu: float | None = None

    @property
    def needs_shell(self) -> bool:
        return bool(SHELL_SYNTAX & set(self.command))

    def argv(self) -> list[str]:
        """The command as an argv: split when it is a plain command, else run by sh."""
        return ["/bin/sh", "-c", self.command] if self.needs_shell else shlex.split(self.command)


def sleeper(seconds: int) -> str:
    """A process that does nothing; `seconds` makes its command line unique to a scenario."""
    return f"sleep {seconds}"


def is_sleep(seconds: int) -> Callable[[tuple[str, ...]], bool]:
    """A predicate matching the command line of `sleeper(seconds)`."""
    wanted = ("sleep", str(seconds))

    def match(cmdline: tuple[str, ...]) -> bool:
        return cmdline == wanted

    return match


def writer(stream: int, lines: int, then_sleep: int) -> str:
    """Prints `lines` numbered lines as fast as Python can, then turns into `sleep then_sleep`."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(WRITER))} {stream} {lines} {then_sleep}"
