"""What the benchmarks read from /proc: which processes belong to a run, their command lines,
CPU time and proportional memory (PSS).

Every process a run starts carries the run's marker (`BENCH_RUN=<hex>`) in its environment: the
managers inherit it from the bench and pass it to their children (sunup through the project's
`variables`). Finding and killing processes by that marker is how a scenario cleans up after itself
without touching anything it did not start.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MARKER_VARIABLE = "BENCH_RUN"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Proc:
    pid: int
    ppid: int
    state: str
    #: user + system CPU seconds.
    cpu: float
    cmdline: tuple[str, ...]
    #: Start time in clock ticks after boot.
    start: int = 0

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def read_proc(pid: int) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = tuple(a.decode(errors="replace") for a in cmdline.read().split(b"\0")[:-1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rpartition(")")[2].split()
    return Proc(
        pid=pid,
        ppid=int(fields[1]),
        state=fields[0],
        cpu=(int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
        cmdline=argv,
        start=int(fields[19]),
    )


def marker_state(pid: int, marker: str) -> bool | None:
    """Whether the process carries the marker; None when its environment cannot be read now
    (a process in the middle of exec(2) shows an empty one), so the answer is not final."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            data = environ.read()
    except OSError:
        return None
    if not data:
        return None
    return f"\0{MARKER_VARIABLE}={marker}\0".encode() in b"\0" + data + b"\0"


def has_marker(pid: int, marker: str) -> bool:
    return marker_state(pid, marker) is True


def pids() -> list[int]:
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


class Tracker:
    """The live processes of one run, rescanned cheaply: environments are read once per pid."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self._marked: dict[int, bool] = {}

    def scan(self) -> list[Proc]:
        me = os.getpid()
        current = pids()
        alive = set(current)
        for pid in list(self._marked):
            if pid not in alive:
                del self._marked[pid]
        found: list[Proc] = []
        for pid in current:
            if pid == me:
                continue
            marked = self._marked.get(pid)
            if marked is None:
                marked = marker_state(pid, self.marker)
                if marked is not None:
                    self._marked[pid] = marked
            if marked:
                proc = read_proc(pid)
                if proc is not None and proc.alive:
                    found.append(proc)
        return found

    def matching(self, predicate: Callable[[tuple[str, ...]], bool]) -> list[Proc]:
        return [p for p in self.scan() if predicate(p.cmdline)]

    def wait_for(
        self,
        predicate: Callable[[list[Proc]], bool],
        timeout: float,
        interval: float = 0.002,
    ) -> tuple[bool, list[Proc], float]:
        """Rescan until `predicate(processes)` holds; (held, processes, monotonic time it held)."""
        deadline = time.monotonic() + timeout
        while True:
            procs = self.scan()
            now = time.monotonic()
            if predicate(procs):
                return True, procs, now
            if now >= deadline:
                return False, procs, now
            time.sleep(interval)


def pss_bytes(pid: int) -> int:
    """The process's proportional set size: shared pages split between their users."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0
    return 0


def cpu_seconds(pids_: Iterable[int]) -> float:
    total = 0.0
    for pid in pids_:
        proc = read_proc(pid)
        if proc is not None:
            total += proc.cpu
    return total


def kill_marked(marker: str, timeout: float = 10.0) -> int:
    """SIGSTOP then SIGKILL every process of the run until none is left; returns how many."""
    tracker = Tracker(marker)
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs = tracker.scan()
        if not procs:
            break
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for proc in procs:
                try:
                    os.kill(proc.pid, sig)
                except ProcessLookupError:
                    continue
        killed.update(p.pid for p in procs)
        time.sleep(0.02)
    return len(killed)
