"""Reading the kernel's descriptions of cgroup mounts and memberships, naming instance folders,
and the shell prelude that joins a group."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sunup.isolation.cgroup_v2 import candidate_parents
from sunup.isolation.cgroupfs import (
    JOIN_FAILED,
    CgroupMount,
    instance_dir_name,
    instance_id_of,
    join_prelude,
    locate,
    parse_mountinfo,
    parse_proc_cgroup,
)

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""

COMOUNTED = """\
25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
26 24 0:22 / /mnt/again rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
27 24 0:23 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory
"""

UNIFIED = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"


def test_mountinfo_of_a_hybrid_host_lists_v1_hierarchies_and_the_unified_tree() -> None:
    """Each v1 hierarchy comes with its controllers; the cgroup2 mount has none; tmpfs is ignored."""
    mounts = parse_mountinfo(HYBRID)
    assert [(m.mountpoint.name, m.version, sorted(m.controllers)) for m in mounts] == [
        ("cpu", 1, ["cpu"]),
        ("cpuacct", 1, ["cpuacct"]),
        ("memory", 1, ["memory"]),
        ("freezer", 1, ["freezer"]),
        ("systemd", 1, ["name=systemd"]),
        ("unified", 2, []),
    ]


def test_mountinfo_keeps_the_first_mount_of_a_hierarchy_and_its_root() -> None:
    """Co-mounted controllers share one entry; a second mount of it is dropped; a bind root is kept."""
    mounts = parse_mountinfo(COMOUNTED)
    assert [(str(m.mountpoint), m.root, sorted(m.controllers)) for m in mounts] == [
        ("/sys/fs/cgroup/cpu,cpuacct", "/", ["cpu", "cpuacct"]),
        ("/sys/fs/cgroup/memory", "/docker/abc", ["memory"]),
    ]


def test_mountinfo_unescapes_mount_points() -> None:
    """Octal escapes in a mount point (a space here) are decoded."""
    line = "30 23 0:26 / /mnt/my\\040cgroups rw - cgroup2 cgroup2 rw\n"
    assert parse_mountinfo(line)[0].mountpoint == Path("/mnt/my cgroups")


def test_proc_cgroup_maps_each_hierarchy_to_a_path() -> None:
    """/proc/self/cgroup gives a path per controller set; v2 is the empty set."""
    paths = parse_proc_cgroup("4:memory:/process_api/fc28\n2:cpu,cpuacct:/\n0::/user.slice\n")
    assert paths == {
        frozenset({"memory"}): "/process_api/fc28",
        frozenset({"cpu", "cpuacct"}): "/",
        frozenset(): "/user.slice",
    }


@pytest.mark.parametrize(
    ("root", "path", "expected"),
    [
        ("/", "/", "/sys/fs/cgroup/memory"),
        ("/", "/a/b", "/sys/fs/cgroup/memory/a/b"),
        ("/docker/abc", "/docker/abc", "/sys/fs/cgroup/memory"),
        ("/docker/abc", "/docker/abc/x", "/sys/fs/cgroup/memory/x"),
        ("/docker/abc", "/elsewhere", None),
        ("/docker/abc", "/docker/abcdef", None),
    ],
)
def test_locate_finds_a_group_under_a_mount_or_says_it_is_not_shown(root: str, path: str, expected: str | None) -> None:
    """A cgroup path maps into the mount only if it lies under the mount's root."""
    mount = CgroupMount(Path("/sys/fs/cgroup/memory"), root, 1, frozenset({"memory"}), "0:1")
    found = locate(mount, path)
    assert (str(found) if found else None) == expected


@pytest.mark.parametrize("instance_id", ["web.0", "queue.12", "app--queue.0", "a/b c", "é@x", "cpu.0", "%41"])
def test_instance_folder_names_round_trip(instance_id: str) -> None:
    """Every instance id gets a prefixed folder name without a slash, and comes back from it."""
    name = instance_dir_name(instance_id)
    assert name.startswith("i-")
    assert "/" not in name
    assert instance_id_of(name) == instance_id


def test_folders_without_the_prefix_are_not_instances() -> None:
    """Kernel control files and foreign folders are not mistaken for instances."""
    assert instance_id_of("cgroup.procs") is None
    assert instance_id_of("memory.limit_in_bytes") is None


def test_a_prelude_that_cannot_join_exits_125_before_running_the_command(tmp_path: Path) -> None:
    """When the group's cgroup.procs cannot be written, the shell stops with 125 and says why."""
    prelude = join_prelude([tmp_path / "missing" / "cgroup.procs"], "web.0")
    done = subprocess.run(
        ["/bin/sh", "-c", prelude + "echo ran"], capture_output=True, text=True, timeout=10, check=False
    )
    assert done.returncode == JOIN_FAILED
    assert "ran" not in done.stdout
    assert "web.0 could not join its cgroup" in done.stderr


def test_v2_prefers_the_users_service_manager_then_the_nearest_ancestor() -> None:
    """Inside user@UID.service, the manager's group comes first, then ancestors nearest first."""
    own = "/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope"
    assert candidate_parents(own, 1000) == [
        "/user.slice/user-1000.slice/user@1000.service",
        "/user.slice/user-1000.slice/user@1000.service/app.slice",
        "/user.slice/user-1000.slice",
        "/user.slice",
        "/",
        own,
    ]


def test_v2_at_the_root_has_the_root_as_its_only_place() -> None:
    """A process in the root group can only create the top-level group below the root."""
    assert candidate_parents("/", 0) == ["/"]
