"""cgroup v2: one folder per instance under a top-level group in a part of the unified tree this
user may manage.

Where: the user's systemd manager (`user@UID.service`, delegated to the user) when the supervisor
runs inside it, else the nearest writable ancestor of the supervisor's own group (root can write
them all), else the supervisor's own group (processes can be tracked and killed there, but no
controller can be enabled below a group that holds processes). Kill: `cgroup.kill` (Linux 5.14),
else freeze with `cgroup.freeze` (5.2), signal, thaw. Emptiness is awaited on `cgroup.events`
with poll(2), not by polling on a timer. Limits: `cpu.max`, `memory.max` with `memory.swap.max`
0, `pids.max`; OOM kills: the `oom_kill` counter of `memory.events`; forks the
process-count limit refused: the `max` counter of `pids.events`.
"""

from __future__ import annotations

import errno
import os
import select
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.isolation import cgroupfs
from sunup.isolation.cgroupfs import CgroupMount, HostCgroups
from sunup.isolation.contract import CGROUP_V2, KILL_TIMEOUT, LIMIT_KINDS, CgroupStats, IsolationError, Limits
from sunup.isolation.deadline import Deadline
from sunup.isolation.ledger import Ledger

#: CFS period for CPU quotas, in microseconds (the kernel's default).
CPU_PERIOD_US = 100_000
CPU_MIN_QUOTA_US = 1_000


def candidate_parents(own: str, uid: int) -> list[str]:
    """Where the top-level group may go, best first (cgroup paths, ``/`` = the root)."""
    parts = [p for p in own.split("/") if p]
    candidates: list[str] = []
    manager = f"user@{uid}.service"
    if manager in parts:
        candidates.append("/" + "/".join(parts[: parts.index(manager) + 1]))
    for depth in range(len(parts) - 1, -1, -1):
        candidates.append("/" + "/".join(parts[:depth]))
    candidates.append(own if own.startswith("/") else "/" + own)
    return list(dict.fromkeys(candidates))


class CgroupV2Isolation:
    """The v2 backend; build it with `open`."""

    backend = CGROUP_V2

    def __init__(self, top: Path, ledger: Ledger, warning: str | None, enforced: frozenset[str]) -> None:
        self._top = top
        self._enforced = enforced
        self._ledger = ledger
        self._warning = warning
        self._prepared: set[str] = set()

    @classmethod
    def open(
        cls, host: HostCgroups, top: str, ledger: Ledger, *, mount: CgroupMount | None = None
    ) -> CgroupV2Isolation:
        """Create the top-level group in the best writable place; raises if there is none."""
        mount = mount or host.v2_mount()
        if mount is None:
            raise IsolationError("no cgroup v2 file system is mounted")
        own = host.own.get(frozenset())
        if own is None:
            raise IsolationError("this process is in no cgroup v2 group (/proc/self/cgroup has no 0:: line)")
        refusals: list[str] = []
        for parent_path in candidate_parents(own, os.getuid()):
            parent = cgroupfs.locate(mount, parent_path)
            if parent is None:
                continue
            if not (os.access(parent, os.W_OK) and os.access(parent / "cgroup.procs", os.W_OK)):
                refusals.append(f"{parent} is not writable")
                continue
            wanted = set(cgroupfs.V2_CONTROLLERS)
            _enable(parent, wanted)
            try:
                cgroupfs.make_dir(parent / top)
            except IsolationError as exc:
                refusals.append(exc.message)
                continue
            enabled = _enable(parent / top, wanted)
            missing = [c for c in cgroupfs.V2_CONTROLLERS if c not in enabled]
            warning = None
            if missing:
                lost = "; ".join(cgroupfs.V2_CONTROLLERS[c] for c in missing)
                warning = (
                    f"cgroup v2 at {parent} does not delegate the {', '.join(missing)} "
                    f"controller{'s' if len(missing) > 1 else ''}: {lost}"
                )
            try:
                ledger.record(CGROUP_V2, {"": parent / top})
            except RuntimeFailure:  # a full disk: the group just made is removed again
                if not cgroupfs.instance_dirs(parent / top):
                    cgroupfs.remove_dir(parent / top)
                raise
            return cls(parent / top, ledger, warning, LIMIT_KINDS & enabled)
        raise IsolationError(
            f"no writable place in the cgroup v2 tree ({'; '.join(refusals) or 'none found'})",
            hint="run sunup inside a delegated scope: systemd-run --user --scope -p Delegate=yes sunup up",
        )

    @property
    def warning(self) -> str | None:
        return self._warning

    @property
    def enforced(self) -> frozenset[str]:
        return self._enforced

    @property
    def location(self) -> str:
        return str(self._top)

    @property
    def tops(self) -> tuple[str, ...]:
        return (str(self._top),)

    def prepare(self, instance_id: str, limits: Limits | None = None) -> CgroupV2Group:
        group = CgroupV2Group(instance_id, self._top / cgroupfs.instance_dir_name(instance_id), limits)
        try:
            group.directory.mkdir()
            fresh = True
        except FileExistsError:
            # Reused (a restart, or a dead supervisor's): emptied, limits rewritten, counters
            # taken from here.
            fresh = False
            if not group.empty():
                group.kill_all()
            group.rebase()
        except OSError as exc:
            raise IsolationError(f"cannot create the cgroup {group.directory}: {exc.strerror}") from exc
        group.apply_limits(fresh=fresh)
        self._prepared.add(instance_id)
        return group

    def _leftovers(self) -> list[CgroupV2Group]:
        """Every instance group in every recorded place that this object did not prepare."""
        found: list[CgroupV2Group] = []
        for tops in self._ledger.places(CGROUP_V2):
            for top in tops.values():
                for instance_id, directory in cgroupfs.instance_dirs(top).items():
                    if instance_id not in self._prepared or top != self._top:
                        found.append(CgroupV2Group(instance_id, directory, None))
        return found

    def stale(self) -> list[str]:
        return sorted({g.instance_id for g in self._leftovers()})

    def clear_stale(self) -> list[str]:
        leftovers = self._leftovers()
        for group in leftovers:
            group.remove()
        for tops in self._ledger.places(CGROUP_V2):
            top = tops.get("")
            if top is not None and top != self._top and not cgroupfs.instance_dirs(top):
                cgroupfs.remove_dir(top)
                self._ledger.forget(CGROUP_V2, tops)
        return sorted({g.instance_id for g in leftovers})

    def close(self) -> None:
        if not cgroupfs.instance_dirs(self._top):
            cgroupfs.remove_dir(self._top)
            self._ledger.forget(CGROUP_V2, {"": self._top})


def _enable(directory: Path, wanted: set[str]) -> set[str]:
    """Enable what it can of `wanted` for the children of `directory`; returns what is enabled."""
    available = set((cgroupfs.read_optional(directory / "cgroup.controllers") or "").split())
    for controller in sorted(wanted & available):
        try:
            cgroupfs.write(directory / "cgroup.subtree_control", f"+{controller}")
        except IsolationError:
            continue
    return set((cgroupfs.read_optional(directory / "cgroup.subtree_control") or "").split()) & wanted


class CgroupV2Group:
    """One instance's folder in the unified tree."""

    def __init__(self, instance_id: str, directory: Path, limits: Limits | None) -> None:
        self._instance_id = instance_id
        self.directory = directory
        self._limits = limits
        self._cpu_base = 0.0
        self._oom_base = 0
        self._forks_base = 0

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def limits(self) -> Limits | None:
        return self._limits

    def rebase(self) -> None:
        """Count CPU time and OOM kills from now on."""
        self._cpu_base = self._cpu_total()
        self._oom_base = self._oom_kills()
        self._forks_base = self._forks_refused_total()

    def apply_limits(self, *, fresh: bool) -> None:
        """Write the limits; on a reused group, also lift those no longer wanted."""
        limits = self._limits or Limits()
        d = self.directory
        if (limits.cpu is not None or not fresh) and (d / "cpu.max").exists():
            quota = "max" if limits.cpu is None else str(max(CPU_MIN_QUOTA_US, round(limits.cpu * CPU_PERIOD_US)))
            cgroupfs.write(d / "cpu.max", f"{quota} {CPU_PERIOD_US}")
        if (limits.memory_bytes is not None or not fresh) and (d / "memory.max").exists():
            cgroupfs.write(d / "memory.max", "max" if limits.memory_bytes is None else str(limits.memory_bytes))
            if (d / "memory.swap.max").exists():
                cgroupfs.write(d / "memory.swap.max", "0" if limits.memory_bytes is not None else "max")
        if (limits.pids is not None or not fresh) and (d / "pids.max").exists():
            cgroupfs.write(d / "pids.max", "max" if limits.pids is None else str(limits.pids))

    @property
    def environment(self) -> Mapping[str, str]:
        return {}

    def shell_prelude(self) -> str:
        return cgroupfs.join_prelude([self.directory / "cgroup.procs"], self._instance_id)

    def join_argv(self, argv: Sequence[str]) -> list[str]:
        return cgroupfs.wrap_argv(self.shell_prelude(), argv)

    def procs_files(self) -> tuple[str, ...]:
        return (str(self.directory / "cgroup.procs"),)

    def add(self, pid: int) -> None:
        cgroupfs.write(self.directory / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        return sorted(cgroupfs.read_pids(self.directory / "cgroup.procs"))

    def empty(self) -> bool:
        events = cgroupfs.read_keyed(self.directory / "cgroup.events")
        return events.get("populated", 0) == 0

    def kill_all(self, sig: int = signal.SIGKILL, *, timeout: float = KILL_TIMEOUT) -> None:
        deadline = Deadline(timeout)
        if sig == signal.SIGKILL and (self.directory / "cgroup.kill").exists():
            cgroupfs.write(self.directory / "cgroup.kill", "1")
        else:
            self._signal_frozen(sig, deadline)
            if sig != signal.SIGKILL:
                return
        while not self._wait_event("populated", 0, min(0.5, deadline.remaining())):
            if deadline.expired():
                raise IsolationError(
                    f"{self._instance_id}: processes {self.pids()} survived SIGKILL for {timeout:g} s",
                    hint="a process stuck in uninterruptible sleep (state D) cannot die until its I/O ends",
                )
            self._signal_frozen(sig, deadline)

    def _signal_frozen(self, sig: int, deadline: Deadline) -> None:
        """Signal every member while the group is frozen (when it can be), so none forks meanwhile."""
        freeze = self.directory / "cgroup.freeze"
        frozen = freeze.exists() and bool(self.pids())
        if frozen:
            cgroupfs.write(freeze, "1")
            self._wait_event("frozen", 1, min(1.0, deadline.remaining()))
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    continue
        finally:
            if frozen:
                cgroupfs.write(freeze, "0")

    def _wait_event(self, key: str, value: int, timeout: float) -> bool:
        """Wait until `key` of cgroup.events has `value`; the kernel wakes poll(2) on each change."""
        try:
            fd = os.open(self.directory / "cgroup.events", os.O_RDONLY)
        except FileNotFoundError:
            return key == "populated" and value == 0
        try:
            poller = select.poll()
            poller.register(fd, select.POLLPRI | select.POLLERR)
            deadline = Deadline(timeout)
            while True:
                try:
                    text = os.pread(fd, 4096, 0).decode()
                except OSError as exc:
                    if exc.errno == errno.ENODEV:
                        return key == "populated" and value == 0
                    raise
                events = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
                if events.get(key, "").strip() == str(value):
                    return True
                if deadline.expired():
                    return False
                poller.poll(max(1, round(deadline.remaining() * 1000)))
        finally:
            os.close(fd)

    def _cpu_total(self) -> float:
        return cgroupfs.read_keyed(self.directory / "cpu.stat").get("usage_usec", 0) / 1e6

    def _oom_kills(self) -> int:
        return cgroupfs.read_keyed(self.directory / "memory.events").get("oom_kill", 0)

    def stats(self) -> CgroupStats:
        d = self.directory
        cpu_seconds = self._cpu_total() - self._cpu_base
        current = cgroupfs.read_optional(d / "memory.current")
        inactive = cgroupfs.read_keyed(d / "memory.stat").get("inactive_file", 0)
        limit = (cgroupfs.read_optional(d / "memory.max") or "max").strip()
        return CgroupStats(
            cpu_seconds,
            max(0, int(current or 0) - inactive),
            None if limit == "max" else int(limit),
        )

    def oom_killed(self) -> bool:
        return self._oom_kills() > self._oom_base

    def _forks_refused_total(self) -> int:
        return cgroupfs.read_keyed(self.directory / "pids.events").get("max", 0)

    def forks_refused(self) -> int:
        return max(0, self._forks_refused_total() - self._forks_base)

    def remove(self) -> None:
        if self.directory.exists() and not self.empty():
            self.kill_all()
        deadline = Deadline(1.0)
        while True:
            try:
                self.directory.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno != errno.EBUSY or deadline.expired():
                    raise IsolationError(f"cannot remove the cgroup {self.directory}: {exc.strerror}") from exc
                self._wait_event("populated", 0, deadline.remaining())
                deadline.pause()
