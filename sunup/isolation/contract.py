"""The seam between the supervisor and the isolation backends: two protocols and their values.

Every backend (`cgroup_v1`, `cgroup_v2`, `fallback`) implements `Isolation` and hands out
`InstanceCgroup` handles; the supervisor sees nothing else. The values are frozen.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sunup.errors import RuntimeFailure

#: Backend names, as `Isolation.backend` reports them and `SUNUP_ISOLATION` selects them.
CGROUP_V1 = "cgroup-v1"
CGROUP_V2 = "cgroup-v2"
NONE = "none"
BACKENDS = (CGROUP_V1, CGROUP_V2, NONE)

#: The kinds of limit, as `Isolation.enforced` names them.
LIMIT_KINDS = frozenset({"cpu", "memory", "pids"})

#: The default time `kill_all(SIGKILL)` may take before it gives up and raises.
KILL_TIMEOUT = 5.0


class IsolationError(RuntimeFailure):
    """A cgroup could not be created, written, emptied or removed; says which and why."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What one instance may use: CPU in cores (0.25 = a quarter of one), memory, processes.

    None means "not limited".
    """

    cpu: float | None = None
    memory_mb: int | None = None
    pids: int | None = None

    def __post_init__(self) -> None:
        if self.cpu is not None and self.cpu <= 0:
            raise ValueError(f"cpu must be positive, got {self.cpu}")
        if self.memory_mb is not None and self.memory_mb <= 0:
            raise ValueError(f"memory_mb must be positive, got {self.memory_mb}")
        if self.pids is not None and self.pids <= 0:
            raise ValueError(f"pids must be positive, got {self.pids}")

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory_mb is None else self.memory_mb * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CgroupStats:
    """What an instance's processes use now, from the cgroup's own accounting where there is one."""

    #: CPU time (user + system) of every process that ran in the group since `prepare`.
    cpu_seconds: float
    #: Memory in use, page cache that can be dropped (inactive files) excluded.
    memory_bytes: int
    #: The enforced memory limit in bytes, None when there is none.
    memory_limit: int | None


class InstanceCgroup(Protocol):
    """The processes of one instance, as one unit that can be limited, counted and killed."""

    @property
    def instance_id(self) -> str: ...

    @property
    def limits(self) -> Limits | None: ...

    @property
    def environment(self) -> Mapping[str, str]:
        """Variables to add to the environment the instance is started with (the fallback's
        tag; empty for the cgroup backends)."""
        ...

    def shell_prelude(self) -> str:
        """POSIX sh lines that move the shell running them into the group (and apply limits).

        Put them in front of the instance's command (`sh -c PRELUDE + command`): the shell joins
        before it runs anything, so no descendant can be forked outside the group. Exits 125 if
        joining fails. Ends with a newline.
        """
        ...

    def join_argv(self, argv: Sequence[str]) -> list[str]:
        """`argv` wrapped in `/bin/sh -c` so that it joins the group, then execs `argv`."""
        ...

    def procs_files(self) -> tuple[str, ...] | None:
        """The `cgroup.procs` files a process joins the group by writing its pid to (what
        `shell_prelude` does, for a starter that does it itself); None when writing them is not
        all the prelude does (the fallback)."""
        ...

    def add(self, pid: int) -> None:
        """Move a running process into the group; whatever it forked before stays outside."""
        ...

    def pids(self) -> list[int]:
        """Every live process of the group, in ascending order."""
        ...

    def empty(self) -> bool: ...

    def kill_all(self, sig: int = signal.SIGKILL, *, timeout: float = KILL_TIMEOUT) -> None:
        """Send `sig` to every process of the group, forks racing the kill included.

        With SIGKILL, returns once the group is empty and raises `IsolationError` after
        `timeout` seconds if it is not; with another signal, delivers it once to each process.
        """
        ...

    def stats(self) -> CgroupStats: ...

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this group for memory since it was prepared."""
        ...

    def forks_refused(self) -> int:
        """How many forks the process-count limit refused since the group was prepared
        (`pids.events`; 0 where nothing counts them)."""
        ...

    def remove(self) -> None:
        """Kill what is left in the group and delete it."""
        ...


class Isolation(Protocol):
    """One project's isolation: a top-level group named after its state folder, with one
    child group per instance."""

    @property
    def backend(self) -> str:
        """``cgroup-v1``, ``cgroup-v2`` or ``none``."""
        ...

    @property
    def warning(self) -> str | None:
        """One line saying what is not enforced here and why; None when nothing is lost."""
        ...

    @property
    def enforced(self) -> frozenset[str]:
        """The limits enforced on an instance as a whole: some of ``cpu``, ``memory``, ``pids``."""
        ...

    @property
    def location(self) -> str:
        """Where the groups live, for messages (a cgroup folder, or the tag of the fallback)."""
        ...

    @property
    def tops(self) -> tuple[str, ...]:
        """The cgroup folders holding one folder per group (empty for the fallback): what the
        supervisor's watchdog empties if the supervisor dies."""
        ...

    def prepare(self, instance_id: str, limits: Limits | None = None) -> InstanceCgroup:
        """An empty group for the instance with `limits` applied; call it before every start.

        A group left under that name (the last run's, or a dead supervisor's) is emptied and
        reused, with its limits rewritten and its counters (CPU time, OOM kills) counted afresh.
        """
        ...

    def stale(self) -> list[str]:
        """Instances with a group that this object did not prepare: left by a dead supervisor."""
        ...

    def clear_stale(self) -> list[str]:
        """Kill and remove every stale group; returns their instance ids."""
        ...

    def close(self) -> None:
        """Remove the top-level group(s) if no instance group is left in them."""
        ...
