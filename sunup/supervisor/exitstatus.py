"""How an instance's main process ended: an exit code or a signal, when, and after how long."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """The end of one run of an instance's start command."""

    #: The exit code, None when a signal ended the process.
    code: int | None
    #: The signal number that ended the process, None when it exited.
    signal: int | None
    #: Wall-clock time (seconds since the epoch) of the exit.
    at: float
    #: How long the process ran, in seconds.
    uptime: float
    #: The kernel killed it for memory (known only with cgroups).
    oom: bool = False
    #: The memory limit it ran under, in MB, when known.
    limit_mb: int | None = None

    @classmethod
    def from_wait_status(
        cls, status: int, *, at: float, uptime: float, oom: bool = False, limit_mb: int | None = None
    ) -> ExitStatus:
        """The value of a `waitpid` status."""
        if os.WIFSIGNALED(status):
            return cls(None, os.WTERMSIG(status), at, uptime, oom, limit_mb)
        return cls(os.waitstatus_to_exitcode(status), None, at, uptime, oom, limit_mb)

    @property
    def signal_name(self) -> str | None:
        if self.signal is None:
            return None
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return f"signal {self.signal}"

    @property
    def success(self) -> bool:
        return self.code == 0

    def describe(self) -> str:
        """``exit status 1``, ``killed by SIGKILL``, ``killed by the kernel: out of memory``."""
        if self.oom:
            limit = f" (limit {self.limit_mb} MB)" if self.limit_mb else ""
            return f"killed by the kernel: out of memory{limit}"
        if self.signal is not None:
            return f"killed by {self.signal_name}"
        return f"exit status {self.code}"

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "signal": self.signal_name,
            "at": self.at,
            "uptime": round(self.uptime, 3),
            "oom": self.oom,
            "limit_mb": self.limit_mb,
            "description": self.describe(),
        }
