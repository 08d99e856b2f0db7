"""What every manager's driver does, and the bookkeeping shared by all of them.

A driver writes the manager's configuration for a list of `Program`s into a work folder, starts
the manager (`launch`), stops it the way its users do (`stop`), and says which process supervises
(`manager_pid`) and where the programs' output lands (`log_files`). Every process started carries
the run's marker in its environment, so the scenario runner can kill whatever is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from sidebyside.procfs import MARKER_VARIABLE
from sidebyside.program import Program


@dataclass
class Launched:
    """A manager started by a driver."""

    workdir: Path
    marker: str
    programs: tuple[Program, ...]
    #: The process the driver started: the manager itself, or a client that starts it.
    process: subprocess.Popen[bytes]
    #: time.monotonic() just before the process was started.
    started_at: float
    output: IO[bytes]
    #: Driver-specific facts; "note" is shown beside the scenario's first figure.
    extra: dict[str, object] = field(default_factory=dict)


class Driver(Protocol):
    name: str

    def unavailable(self) -> str | None:
        """Why this manager cannot run here, or None."""
        ...

    def warm_up(self, programs: Sequence[Program], workdir: Path, marker: str) -> None:
        """Do, untimed, what a user's second start would not redo (sunup: the build)."""
        ...

    def launch(self, programs: Sequence[Program], workdir: Path, marker: str) -> Launched: ...

    def manager_pid(self, launched: Launched) -> int | None:
        """The supervising process (None once it is gone)."""
        ...

    def stop(self, launched: Launched) -> None:
        """Stop everything the way the manager's users do; returns once the request is made."""
        ...

    def log_files(self, launched: Launched) -> list[Path]: ...

    def cleanup(self, workdir: Path) -> None:
        """Release what killing the run's processes does not (sunup: its cgroups), whether or
        not a launch happened (a warm-up may have failed half-way)."""
        ...


def spawn(
    argv: Sequence[str],
    workdir: Path,
    marker: str,
    programs: Sequence[Program],
    *,
    extra_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Launched:
    """Start `argv` in `cwd` (default `workdir`), in its own session, with the marker; output
    to `workdir`/manager.out."""
    output = open(workdir / "manager.out", "wb")  # noqa: SIM115 - closed by `release`
    env = {**os.environ, **(extra_env or {}), MARKER_VARIABLE: marker, "PYTHONUNBUFFERED": "1"}
    started_at = time.monotonic()
    process = subprocess.Popen(
        list(argv),
        cwd=cwd or workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Launched(workdir, marker, tuple(programs), process, started_at, output)


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def release(launched: Launched) -> None:
    """Kill the started process's session if it is still there, reap it, close its output."""
    if launched.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launched.process.pid, signal.SIGKILL)
        launched.process.wait(timeout=10)
    launched.output.close()


def run_quietly(
    argv: Sequence[str], cwd: Path, timeout: float, marker: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A manager's control command (supervisorctl, circusctl, sunup down), output captured.

    It carries the run's marker only when it may start something (it is a client otherwise, not
    part of what is measured).
    """
    env = {**os.environ, MARKER_VARIABLE: marker} if marker else None
    return subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
