"""cgroup v1: one folder per instance in each of the freezer, cpu, cpuacct, memory and pids
hierarchies, under a top-level group that sits below the supervisor's own group in each.

Kill: freeze the group (`freezer.state`), SIGKILL every member, thaw; frozen processes cannot fork,
so nothing escapes, and thawing lets the pending SIGKILL take them. Limits: `cpu.cfs_quota_us`
over a 100 ms period, `memory.limit_in_bytes` and `memory.memsw.limit_in_bytes` (no swap beyond
the limit), `pids.max`. OOM kills: the `oom_kill` counter of `memory.oom_control`; forks the
process-count limit refused: the `max` counter of `pids.events`.
"""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.isolation import cgroupfs, proctree
from sunup.isolation.cgroupfs import HostCgroups
from sunup.isolation.contract import CGROUP_V1, KILL_TIMEOUT, LIMIT_KINDS, CgroupStats, IsolationError, Limits
from sunup.isolation.deadline import Deadline
from sunup.isolation.ledger import Ledger

#: CFS period for CPU quotas, in microseconds (the kernel's default).
CPU_PERIOD_US = 100_000
#: The smallest quota the kernel accepts, in microseconds.
CPU_MIN_QUOTA_US = 1_000
#: memory.limit_in_bytes at or above this means "no limit" (the kernel shows PAGE_COUNTER_MAX).
UNLIMITED = 1 << 62
#: How long to wait for the freezer to reach FROZEN before killing anyway.
FREEZE_TIMEOUT = 1.0


class CgroupV1Isolation:
    """The v1 backend; build it with `open`."""

    backend = CGROUP_V1

    def __init__(self, tops: Mapping[str, Path], ledger: Ledger, warning: str | None) -> None:
        #: {controller: top-level folder in its hierarchy}
        self._tops = dict(tops)
        self._ledger = ledger
        self._warning = warning
        self._prepared: set[str] = set()

    @classmethod
    def open(cls, host: HostCgroups, top: str, ledger: Ledger) -> CgroupV1Isolation:
        """Create the top-level group in every usable v1 hierarchy; raises if there is none."""
        tops: dict[str, Path] = {}
        missing: dict[str, str] = {}
        for controller in cgroupfs.V1_CONTROLLERS:
            mount = host.v1_mount(controller)
            own = host.own_dir(mount) if mount else None
            if mount is None:
                missing[controller] = "not mounted"
            elif own is None:
                missing[controller] = f"this process's group is not visible under {mount.mountpoint}"
            elif not os.access(own, os.W_OK):
                missing[controller] = f"{own} is not writable"
            else:
                try:
                    cgroupfs.make_dir(own / top)
                except IsolationError as exc:
                    missing[controller] = exc.message
                else:
                    tops[controller] = own / top
        if not tops:
            reasons = "; ".join(f"{c}: {why}" for c, why in missing.items())
            raise IsolationError(f"no usable cgroup v1 hierarchy ({reasons})")
        warning = None
        if missing:
            names = ", ".join(missing)
            lost = "; ".join(cgroupfs.V1_CONTROLLERS[c] for c in missing)
            warning = f"cgroup v1 without the {names} controller{'s' if len(missing) > 1 else ''}: {lost}"
        isolation = cls(tops, ledger, warning)
        try:
            ledger.record(CGROUP_V1, tops)
        except RuntimeFailure:  # a full disk: the groups just made are removed again
            _remove_tops(tops.values())
            raise
        return isolation

    @property
    def warning(self) -> str | None:
        return self._warning

    @property
    def enforced(self) -> frozenset[str]:
        return LIMIT_KINDS & self._tops.keys()

    @property
    def location(self) -> str:
        return ", ".join(str(p) for p in dict.fromkeys(self._tops.values()))

    @property
    def tops(self) -> tuple[str, ...]:
        return tuple(str(p) for p in dict.fromkeys(self._tops.values()))

    def prepare(self, instance_id: str, limits: Limits | None = None) -> CgroupV1Group:
        name = cgroupfs.instance_dir_name(instance_id)
        group = CgroupV1Group(instance_id, {c: top / name for c, top in self._tops.items()}, limits)
        if not group.create():
            # Reused (a restart, or a dead supervisor's): emptied, limits rewritten, counters
            # taken from here. Cheaper than rmdir and mkdir in five hierarchies.
            if not group.empty():
                group.kill_all()
            group.rebase()
        group.apply_limits(fresh=not group.reused)
        self._prepared.add(instance_id)
        return group

    def _leftovers(self) -> dict[str, CgroupV1Group]:
        """Every instance group in every recorded place that this object did not prepare."""
        found: dict[str, dict[str, Path]] = {}
        for tops in self._ledger.places(CGROUP_V1):
            for controller, top in tops.items():
                for instance_id, directory in cgroupfs.instance_dirs(top).items():
                    if instance_id not in self._prepared or top != self._tops.get(controller):
                        found.setdefault(instance_id, {})[controller] = directory
        return {i: CgroupV1Group(i, dirs, None) for i, dirs in found.items()}

    def stale(self) -> list[str]:
        return sorted(self._leftovers())

    def clear_stale(self) -> list[str]:
        leftovers = self._leftovers()
        for group in leftovers.values():
            group.remove()
        for tops in self._ledger.places(CGROUP_V1):
            if tops != self._tops and _remove_tops(tops.values()):
                self._ledger.forget(CGROUP_V1, tops)
        return sorted(leftovers)

    def close(self) -> None:
        if _remove_tops(self._tops.values()):
            self._ledger.forget(CGROUP_V1, self._tops)


def _remove_tops(tops: Iterable[Path]) -> bool:
    """rmdir each top-level folder; False when an instance group is still in one."""
    removed = True
    for top in dict.fromkeys(tops):
        if cgroupfs.instance_dirs(top):
            removed = False
            continue
        cgroupfs.remove_dir(top)
    return removed


class CgroupV1Group:
    """One instance's folders, one per v1 hierarchy (co-mounted controllers share one)."""

    def __init__(self, instance_id: str, dirs: Mapping[str, Path], limits: Limits | None) -> None:
        self._instance_id = instance_id
        #: {controller: folder}
        self._dirs = dict(dirs)
        self._limits = limits
        #: The group existed before `create` (a restart or a leftover).
        self.reused = False
        self._cpu_base = 0.0
        self._oom_base = 0
        self._forks_base = 0

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def limits(self) -> Limits | None:
        return self._limits

    def dirs(self) -> tuple[Path, ...]:
        return tuple(dict.fromkeys(self._dirs.values()))

    def create(self) -> bool:
        """mkdir the group in every hierarchy; False when it existed already (in any)."""
        for directory in self.dirs():
            try:
                directory.mkdir()
            except FileExistsError:
                self.reused = True
            except OSError as exc:
                raise IsolationError(f"cannot create the cgroup {directory}: {exc.strerror}") from exc
        return not self.reused

    def rebase(self) -> None:
        """Count CPU time and OOM kills from now on."""
        self._cpu_base = self._cpu_total()
        self._oom_base = self._oom_kills()
        self._forks_base = self._forks_refused_total()

    def apply_limits(self, *, fresh: bool) -> None:
        """Write the limits; on a reused group, also lift those no longer wanted."""
        limits = self._limits or Limits()
        cpu = self._dirs.get("cpu")
        if cpu is not None and (limits.cpu is not None or not fresh):
            quota = -1 if limits.cpu is None else max(CPU_MIN_QUOTA_US, round(limits.cpu * CPU_PERIOD_US))
            if not fresh:
                cgroupfs.write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            cgroupfs.write(cpu / "cpu.cfs_quota_us", str(quota))
        memory = self._dirs.get("memory")
        if memory is not None and (limits.memory_bytes is not None or not fresh):
            self._write_memory_limit(memory, -1 if limits.memory_bytes is None else limits.memory_bytes)
        pids = self._dirs.get("pids")
        if pids is not None and (limits.pids is not None or not fresh):
            cgroupfs.write(pids / "pids.max", "max" if limits.pids is None else str(limits.pids))

    @staticmethod
    def _write_memory_limit(memory: Path, limit: int) -> None:
        """memory + swap may never be below memory: raise memsw first, lower it last."""
        memsw = memory / "memory.memsw.limit_in_bytes"
        files = [memory / "memory.limit_in_bytes"]
        if memsw.exists():
            current = int(cgroupfs.read_optional(files[0]) or UNLIMITED)
            raising = limit < 0 or limit > current
            files = [memsw, files[0]] if raising else [files[0], memsw]
        for path in files:
            cgroupfs.write(path, str(limit))

    @property
    def environment(self) -> Mapping[str, str]:
        return {}

    def shell_prelude(self) -> str:
        return cgroupfs.join_prelude((d / "cgroup.procs" for d in self.dirs()), self._instance_id)

    def join_argv(self, argv: Sequence[str]) -> list[str]:
        return cgroupfs.wrap_argv(self.shell_prelude(), argv)

    def procs_files(self) -> tuple[str, ...]:
        return tuple(str(d / "cgroup.procs") for d in self.dirs())

    def add(self, pid: int) -> None:
        for directory in self.dirs():
            cgroupfs.write(directory / "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        members: set[int] = set()
        for directory in self.dirs():
            members |= cgroupfs.read_pids(directory / "cgroup.procs")
        return sorted(members)

    def empty(self) -> bool:
        return not self.pids()

    def kill_all(self, sig: int = signal.SIGKILL, *, timeout: float = KILL_TIMEOUT) -> None:
        deadline = Deadline(timeout)
        while True:
            self._signal_frozen(sig)
            if sig != signal.SIGKILL:
                return
            if Deadline(min(0.5, deadline.remaining())).until(self.empty):
                return
            if deadline.expired():
                raise IsolationError(
                    f"{self._instance_id}: processes {self.pids()} survived SIGKILL for {timeout:g} s",
                    hint="a process stuck in uninterruptible sleep (state D) cannot die until its I/O ends",
                )

    def _signal_frozen(self, sig: int) -> None:
        """Signal every member while the group is frozen, so that none can fork meanwhile."""
        if not self.pids():
            return
        freezer = self._dirs.get("freezer")
        if freezer is not None:
            cgroupfs.write(freezer / "freezer.state", "FROZEN")
            state = freezer / "freezer.state"
            Deadline(FREEZE_TIMEOUT).until(lambda: (cgroupfs.read_optional(state) or "FROZEN").strip() == "FROZEN")
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    continue
        finally:
            if freezer is not None:
                cgroupfs.write(freezer / "freezer.state", "THAWED")

    def _cpu_total(self) -> float:
        """CPU seconds the group's processes used since the group was made (0 without cpuacct)."""
        cpuacct = self._dirs.get("cpuacct")
        usage = cgroupfs.read_optional(cpuacct / "cpuacct.usage") if cpuacct else None
        return int(usage) / 1e9 if usage else 0.0

    def _oom_kills(self) -> int:
        memory = self._dirs.get("memory")
        if memory is None:
            return 0
        control = cgroupfs.read_keyed(memory / "memory.oom_control")
        # Kernels before 4.13 do not count kills: a group in an OOM condition is the best sign.
        return control.get("oom_kill", control.get("under_oom", 0))

    def stats(self) -> CgroupStats:
        if "cpuacct" in self._dirs:
            cpu_seconds = self._cpu_total() - self._cpu_base
        else:
            table = proctree.scan()
            cpu_seconds = proctree.cpu_seconds(table[p] for p in self.pids() if p in table)
        memory = self._dirs.get("memory")
        if memory is None:
            table = proctree.scan()
            return CgroupStats(cpu_seconds, proctree.rss_bytes(table[p] for p in self.pids() if p in table), None)
        usage_bytes = int(cgroupfs.read_optional(memory / "memory.usage_in_bytes") or 0)
        inactive = cgroupfs.read_keyed(memory / "memory.stat").get("total_inactive_file", 0)
        limit = int(cgroupfs.read_optional(memory / "memory.limit_in_bytes") or UNLIMITED)
        return CgroupStats(cpu_seconds, max(0, usage_bytes - inactive), None if limit >= UNLIMITED else limit)

    def oom_killed(self) -> bool:
        return self._oom_kills() > self._oom_base

    def _forks_refused_total(self) -> int:
        pids = self._dirs.get("pids")
        return cgroupfs.read_keyed(pids / "pids.events").get("max", 0) if pids is not None else 0

    def forks_refused(self) -> int:
        return max(0, self._forks_refused_total() - self._forks_base)

    def remove(self) -> None:
        if any(d.exists() for d in self.dirs()):
            self.kill_all()
        for directory in self.dirs():
            _rmdir_settled(directory)


def _rmdir_settled(directory: Path) -> None:
    """rmdir a group whose last process just died; the kernel may say EBUSY for a moment."""
    deadline = Deadline(1.0)
    while True:
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.EBUSY or deadline.expired():
                raise IsolationError(f"cannot remove the cgroup {directory}: {exc.strerror}") from exc
            deadline.pause()
