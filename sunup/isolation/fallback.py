"""No cgroups: an instance's processes are found in /proc, and limited with rlimits.

An instance's processes are: those whose environment carries its tag (`SUNUP_ISOLATION_TAG`, in
`environment` for the supervisor to pass, exported again by the shell prelude, and inherited by
every descendant that keeps its environment),
the processes added by pid, their descendants by parent chain, and every process seen among them
before (a double-forked orphan stays known once seen). A kill stops them all with SIGSTOP,
rescans until no new process appears, then sends SIGKILL: nothing forks in between.

What is lost, and said once in `warning`: CPU quotas and process-count limits; the memory limit is
per process (`RLIMIT_DATA`: a process that allocates past it gets an allocation error, and no
out-of-memory kill is reported); a process that clears its environment and is orphaned before
sunup has seen it can outlive a stop.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shlex
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sunup.isolation import cgroupfs, proctree
from sunup.isolation.contract import KILL_TIMEOUT, NONE, CgroupStats, IsolationError, Limits
from sunup.isolation.deadline import Deadline

#: The environment variable that marks an instance's processes.
TAG_VARIABLE = "SUNUP_ISOLATION_TAG"

#: How many scans a kill may take to catch processes forking while they are being stopped.
STOP_ROUNDS = 20
#: How old a scan `stats` may reuse from an earlier `stats`.
STATS_MAX_AGE = 0.5


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One scan of /proc: every process, and the tag of each tagged live one."""

    table: Mapping[int, proctree.ProcessInfo]
    tags: Mapping[int, str]
    taken: float


class Census:
    """The scans of /proc shared by the groups of one isolation.

    Reading every process's environment is most of a scan's cost; a process's tag is kept for as
    long as its pid, start time and command name stay the same (the environment changes only at
    exec(2), which renames the process in practice). `stats` may reuse an earlier `stats` scan
    for a moment; every other question gets a fresh scan.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._display: Snapshot | None = None
        #: {(pid, start time, command name): tag or None}
        self._tags: dict[tuple[int, int, str], str | None] = {}

    def take(self, max_age: float = 0.0) -> Snapshot:
        """A fresh scan; or, with `max_age`, the last scan taken with a `max_age` if it is at
        most that old (so that `ps` of 200 instances scans once)."""
        now = self._clock()
        if max_age > 0 and self._display is not None and now - self._display.taken <= max_age:
            return self._display
        table = proctree.scan()
        me = os.getpid()
        known = self._tags
        self._tags = {}
        tags: dict[int, str] = {}
        for pid, info in table.items():
            if not info.alive or pid == me:
                continue
            key = (pid, info.start_ticks, info.comm)
            tag = known[key] if key in known else proctree.environ_value(pid, TAG_VARIABLE)
            self._tags[key] = tag
            if tag is not None:
                tags[pid] = tag
        snapshot = Snapshot(table, tags, now)
        if max_age > 0:
            self._display = snapshot
        return snapshot


class ProcessTreeIsolation:
    """The fallback backend: process tags, /proc scans and rlimits."""

    backend = NONE

    def __init__(self, top: str, reason: str) -> None:
        self._top = top
        self._reason = reason
        self._prepared: set[str] = set()
        self._census = Census()
        #: Instances with processes left from before this object existed, once scanned.
        self._leftovers: set[str] | None = None

    @property
    def warning(self) -> str:
        return (
            f"no usable cgroups ({self._reason}): CPU quotas and process-count limits are not "
            "enforced (SUNUP_PIDS_LIMIT: a fork bomb is not contained), memory limits apply per "
            "process (RLIMIT_DATA) and out-of-memory kills are not reported, and a process that "
            "clears its environment and leaves its parent can outlive a stop"
        )

    @property
    def enforced(self) -> frozenset[str]:
        return frozenset()

    @property
    def location(self) -> str:
        return f"processes with {TAG_VARIABLE}={self._top}/<instance>"

    @property
    def tops(self) -> tuple[str, ...]:
        return ()

    def prepare(self, instance_id: str, limits: Limits | None = None) -> ProcessTreeGroup:
        group = ProcessTreeGroup(instance_id, f"{self._top}/{instance_id}", limits, self._census)
        if self._leftovers is None:
            # One scan of /proc for all instances, at the first start.
            self._leftovers = set(self._tagged())
        if instance_id in self._prepared or instance_id in self._leftovers:
            group.kill_all()
            self._leftovers.discard(instance_id)
        self._prepared.add(instance_id)
        return group

    def _tagged(self) -> dict[str, list[int]]:
        """{instance id: pids} of every live process tagged with this project's top name."""
        prefix = self._top + "/"
        found: dict[str, list[int]] = {}
        for pid, tag in self._census.take().tags.items():
            if tag.startswith(prefix):
                found.setdefault(tag[len(prefix) :], []).append(pid)
        return found

    def stale(self) -> list[str]:
        return sorted(i for i in self._tagged() if i not in self._prepared)

    def clear_stale(self) -> list[str]:
        stale = self.stale()
        for instance_id in stale:
            ProcessTreeGroup(instance_id, f"{self._top}/{instance_id}", None, self._census).kill_all()
        return stale

    def close(self) -> None:
        return None


class ProcessTreeGroup:
    """One instance's processes, found by tag, parentage and memory of what was seen."""

    def __init__(self, instance_id: str, tag: str, limits: Limits | None, census: Census) -> None:
        self._instance_id = instance_id
        self._tag = tag
        self._limits = limits
        self._census = census
        #: {pid: start time} of every process seen in the group, roots included.
        self._known: dict[int, int] = {}

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def limits(self) -> Limits | None:
        return self._limits

    @property
    def environment(self) -> Mapping[str, str]:
        return {TAG_VARIABLE: self._tag}

    def shell_prelude(self) -> str:
        lines = [f"export {TAG_VARIABLE}={shlex.quote(self._tag)}"]
        memory = self._limits.memory_bytes if self._limits else None
        if memory is not None:
            lines.append(f"ulimit -d {memory // 1024} 2>/dev/null")
        return "\n".join(lines) + "\n"

    def join_argv(self, argv: Sequence[str]) -> list[str]:
        return cgroupfs.wrap_argv(self.shell_prelude(), argv)

    def procs_files(self) -> None:
        return None

    def add(self, pid: int) -> None:
        info = proctree.read_process(pid)
        if info is None:
            raise IsolationError(f"{self._instance_id}: there is no process {pid} to add")
        self._known[pid] = info.start_ticks
        memory = self._limits.memory_bytes if self._limits else None
        if memory is not None:
            # A process that is gone, or whose hard limit is lower already, keeps what it has.
            with contextlib.suppress(ProcessLookupError, PermissionError, ValueError):
                resource.prlimit(pid, resource.RLIMIT_DATA, (memory, memory))

    def pids(self) -> list[int]:
        return self._members(self._census.take())

    def _members(self, snapshot: Snapshot) -> list[int]:
        table = snapshot.table
        me = os.getpid()
        seeds = {pid for pid, start in self._known.items() if pid in table and table[pid].start_ticks == start}
        seeds.update(pid for pid, tag in snapshot.tags.items() if tag == self._tag)
        members = {p for p in proctree.descendants(table, seeds) if table[p].alive and p != me}
        self._known = {pid: table[pid].start_ticks for pid in members}
        return sorted(members)

    def empty(self) -> bool:
        return not self.pids()

    def kill_all(self, sig: int = signal.SIGKILL, *, timeout: float = KILL_TIMEOUT) -> None:
        if sig != signal.SIGKILL:
            _signal(self.pids(), sig)
            return
        deadline = Deadline(timeout)
        while True:
            stopped: set[int] = set()
            for _ in range(STOP_ROUNDS):
                fresh = set(self.pids()) - stopped
                if not fresh:
                    break
                _signal(fresh, signal.SIGSTOP)
                stopped |= fresh
            _signal(stopped, signal.SIGKILL)
            if Deadline(min(0.5, deadline.remaining())).until(self.empty):
                return
            if deadline.expired():
                raise IsolationError(
                    f"{self._instance_id}: processes {self.pids()} survived SIGKILL for {timeout:g} s",
                    hint="a process stuck in uninterruptible sleep (state D) cannot die until its I/O ends",
                )

    def stats(self) -> CgroupStats:
        snapshot = self._census.take(STATS_MAX_AGE)
        members = [snapshot.table[p] for p in self._members(snapshot)]
        memory = self._limits.memory_bytes if self._limits else None
        return CgroupStats(proctree.cpu_seconds(members), proctree.rss_bytes(members), memory)

    def oom_killed(self) -> bool:
        return False

    def forks_refused(self) -> int:
        return 0

    def remove(self) -> None:
        self.kill_all()


def _signal(pids: set[int] | list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue
