"""The cgroup file system: where the hierarchies are mounted, where this process sits in them,
and reading and writing their control files with errors that say which file and why.

Parsing (`parse_mountinfo`, `parse_proc_cgroup`, `locate`) is pure; the `read_*` / `write_*`
functions touch the kernel's files.
"""

from __future__ import annotations

import errno
import os
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from sunup.isolation.contract import IsolationError

#: The v1 controllers sunup uses, and what is lost without each.
V1_CONTROLLERS: Mapping[str, str] = {
    "freezer": "a stop cannot freeze the group, so it kills in rounds until no fork is left",
    "cpu": "CPU quotas are not enforced",
    "cpuacct": "CPU time is summed from /proc for live processes only",
    "memory": "memory limits are not enforced and out-of-memory kills are not reported",
    "pids": "process-count limits are not enforced",
}

#: The v2 controllers sunup enables, and what is lost without each.
V2_CONTROLLERS: Mapping[str, str] = {
    "cpu": "CPU quotas are not enforced",
    "memory": "memory limits are not enforced and out-of-memory kills are not reported",
    "pids": "process-count limits are not enforced",
}

#: The prefix of an instance's folder inside the top-level group: keeps instance names apart
#: from the kernel's control files (a worker named `cpu` would otherwise give `cpu.0`).
INSTANCE_PREFIX = "i-"

#: The exit status of a shell prelude that could not join its group.
JOIN_FAILED = 125


@dataclass(frozen=True, slots=True)
class CgroupMount:
    """One mounted cgroup hierarchy."""

    #: Where it is mounted, e.g. /sys/fs/cgroup/memory.
    mountpoint: Path
    #: The folder of the hierarchy that the mount shows (``/`` unless bind-mounted from inside).
    root: str
    #: 1 or 2.
    version: int
    #: v1: the controllers bound to this hierarchy (``name=systemd`` included); v2: empty.
    controllers: frozenset[str]
    #: The device id, the same for two mounts of one hierarchy.
    device: str


def parse_mountinfo(text: str) -> list[CgroupMount]:
    """The cgroup mounts listed in a /proc/<pid>/mountinfo text, first mount of each hierarchy."""
    mounts: list[CgroupMount] = []
    seen: set[str] = set()
    for line in text.splitlines():
        before, sep, after = line.partition(" - ")
        if not sep:
            continue
        fields = before.split()
        tail = after.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        device = fields[2]
        if device in seen:
            continue
        seen.add(device)
        version = 2 if tail[0] == "cgroup2" else 1
        options = set(tail[2].split(","))
        controllers = frozenset(o for o in options if version == 1 and (o in V1_KNOWN or o.startswith("name=")))
        mounts.append(
            CgroupMount(
                mountpoint=Path(_unescape(fields[4])),
                root=_unescape(fields[3]),
                version=version,
                controllers=controllers,
                device=device,
            )
        )
    return mounts


#: Every v1 controller the kernel knows, to tell them from mount options in the super options.
V1_KNOWN = frozenset(
    {
        "blkio",
        "cpu",
        "cpuacct",
        "cpuset",
        "devices",
        "freezer",
        "hugetlb",
        "memory",
        "misc",
        "net_cls",
        "net_prio",
        "perf_event",
        "pids",
        "rdma",
    }
)


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def parse_proc_cgroup(text: str) -> dict[frozenset[str], str]:
    """/proc/<pid>/cgroup as {controllers of the hierarchy: path}; v2 is the empty set."""
    paths: dict[frozenset[str], str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers = frozenset(c for c in parts[1].split(",") if c)
        paths[controllers] = parts[2]
    return paths


def locate(mount: CgroupMount, cgroup_path: str) -> Path | None:
    """The folder of `cgroup_path` under `mount`, None when the mount does not show it."""
    root = mount.root.rstrip("/")
    if root and cgroup_path != root and not cgroup_path.startswith(root + "/"):
        return None
    relative = cgroup_path[len(root) :].strip("/")
    return mount.mountpoint / relative if relative else mount.mountpoint


@dataclass(frozen=True, slots=True)
class HostCgroups:
    """The cgroup mounts of this host and where the current process sits in each."""

    mounts: tuple[CgroupMount, ...]
    #: {controllers of a hierarchy (empty for v2): this process's path in it}.
    own: Mapping[frozenset[str], str]

    @classmethod
    def read(cls, pid: int | str = "self") -> HostCgroups:
        mountinfo = Path(f"/proc/{pid}/mountinfo").read_text()
        own = Path(f"/proc/{pid}/cgroup").read_text()
        return cls(tuple(parse_mountinfo(mountinfo)), parse_proc_cgroup(own))

    def v2_mount(self) -> CgroupMount | None:
        return next((m for m in self.mounts if m.version == 2), None)

    def v1_mount(self, controller: str) -> CgroupMount | None:
        return next((m for m in self.mounts if m.version == 1 and controller in m.controllers), None)

    def own_dir(self, mount: CgroupMount) -> Path | None:
        """This process's folder in the hierarchy of `mount`."""
        key = frozenset() if mount.version == 2 else mount.controllers
        path = self.own.get(key)
        return None if path is None else locate(mount, path)


def instance_dir_name(instance_id: str) -> str:
    """The folder name of an instance's group; ids keep their readable characters."""
    if not instance_id:
        raise ValueError("an instance id cannot be empty")
    return INSTANCE_PREFIX + quote(instance_id, safe="@")


def instance_id_of(dir_name: str) -> str | None:
    """The instance id behind a folder name, None for a folder that is not an instance's."""
    if not dir_name.startswith(INSTANCE_PREFIX):
        return None
    return unquote(dir_name[len(INSTANCE_PREFIX) :])


def instance_dirs(top: Path) -> dict[str, Path]:
    """{instance id: folder} of the instance groups under a top-level group."""
    try:
        entries = list(os.scandir(top))
    except FileNotFoundError:
        return {}
    found: dict[str, Path] = {}
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            instance_id = instance_id_of(entry.name)
            if instance_id is not None:
                found[instance_id] = Path(entry.path)
    return found


def read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise IsolationError(f"cannot read {path}: {exc.strerror}") from exc


def read_optional(path: Path) -> str | None:
    """The file's text, None when the kernel does not provide it (or the group is gone)."""
    try:
        return path.read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError as exc:
        if exc.errno in (errno.ENODEV, errno.ENOENT):
            return None
        raise IsolationError(f"cannot read {path}: {exc.strerror}") from exc


def read_keyed(path: Path) -> dict[str, int]:
    """A `key value` per line file (memory.stat, cpu.stat, memory.events), {} when absent."""
    text = read_optional(path)
    values: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        try:
            values[key] = int(value)
        except ValueError:
            continue
    return values


def read_pids(path: Path) -> set[int]:
    """The pids listed in a cgroup.procs / tasks file, empty when the group is gone."""
    text = read_optional(path)
    return {int(p) for p in (text or "").split()}


def write(path: Path, value: str) -> None:
    """One write(2) of `value`, as the kernel's control files need."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError as exc:
        raise IsolationError(f"cannot open {path}: {exc.strerror}") from exc
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        raise IsolationError(f"cannot write {value!r} to {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def join_prelude(procs_files: Iterable[Path], instance_id: str, extra: str = "") -> str:
    """sh lines writing the shell's own pid to each cgroup.procs, or exiting 125 with a reason."""
    writes = " && ".join(f"echo $$ >{shlex.quote(str(f))}" for f in procs_files)
    fail = shlex.quote(f"sunup: {instance_id} could not join its cgroup")
    return f"{writes} || {{ echo {fail} >&2; exit {JOIN_FAILED}; }}\n{extra}"


def wrap_argv(prelude: str, argv: Iterable[str]) -> list[str]:
    return ["/bin/sh", "-c", prelude + 'exec "$@"', "sunup-join", *argv]


def make_dir(path: Path) -> None:
    try:
        path.mkdir(exist_ok=True)
    except OSError as exc:
        raise IsolationError(f"cannot create the cgroup {path}: {exc.strerror}") from exc


def remove_dir(path: Path) -> None:
    """rmdir a group; a group that is already gone is fine."""
    try:
        path.rmdir()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise IsolationError(f"cannot remove the cgroup {path}: {exc.strerror}") from exc
