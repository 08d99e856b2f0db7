"""Choosing a backend: forced by SUNUP_ISOLATION, or picked from the host's cgroup mounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sunup.isolation import IsolationError, open_isolation
from sunup.isolation.cgroupfs import CgroupMount, HostCgroups

V1_CONTROLLERS = ("freezer", "cpu", "cpuacct", "memory", "pids")


def fake_host(root: Path, v1: tuple[str, ...] = (), v2: bool = False) -> HostCgroups:
    """A host whose cgroup mounts are plain folders under `root`, this process at their top."""
    mounts: list[CgroupMount] = []
    own: dict[frozenset[str], str] = {}
    for index, controller in enumerate(v1):
        (root / controller).mkdir(parents=True)
        mounts.append(CgroupMount(root / controller, "/", 1, frozenset({controller}), f"0:{index}"))
        own[frozenset({controller})] = "/"
    if v2:
        (root / "unified").mkdir(parents=True)
        (root / "unified" / "cgroup.procs").touch()
        mounts.append(CgroupMount(root / "unified", "/", 2, frozenset(), "0:99"))
        own[frozenset()] = "/"
    return HostCgroups(tuple(mounts), own)


def test_sunup_isolation_none_forces_the_fallback_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SUNUP_ISOLATION=none gives the fallback backend, whose warning names the variable."""
    monkeypatch.setenv("SUNUP_ISOLATION", "none")
    isolation = open_isolation(tmp_path)
    assert isolation.backend == "none"
    assert isolation.warning is not None
    assert "SUNUP_ISOLATION=none" in isolation.warning
    assert isolation.enforced == frozenset()


def test_an_unknown_backend_is_refused_with_the_valid_choices(tmp_path: Path) -> None:
    """A misspelt backend raises IsolationError listing the valid ones."""
    with pytest.raises(IsolationError) as raised:
        open_isolation(tmp_path, backend="cgroupv2")
    assert raised.value.hint is not None
    assert "cgroup-v2" in raised.value.hint


def test_auto_prefers_v1_controllers_on_a_hybrid_host(tmp_path: Path) -> None:
    """With every v1 controller usable and a controller-less unified tree, auto picks v1, losing nothing."""
    isolation = open_isolation(tmp_path / "state", backend="auto", host=fake_host(tmp_path, V1_CONTROLLERS, v2=True))
    assert isolation.backend == "cgroup-v1"
    assert isolation.warning is None
    assert isolation.enforced == {"cpu", "memory", "pids"}


def test_v1_without_some_controllers_names_them_and_what_is_lost(tmp_path: Path) -> None:
    """A v1 host without freezer and pids works, with a warning naming both and their loss."""
    isolation = open_isolation(
        tmp_path / "state", backend="auto", host=fake_host(tmp_path, ("cpu", "cpuacct", "memory"))
    )
    assert isolation.backend == "cgroup-v1"
    assert isolation.warning is not None
    assert "freezer, pids controllers" in isolation.warning
    assert "process-count limits are not enforced" in isolation.warning
    assert isolation.enforced == {"cpu", "memory"}


def test_auto_uses_v2_on_a_unified_host(tmp_path: Path) -> None:
    """With only a cgroup2 mount, auto picks v2 and says which controllers it could not enable."""
    isolation = open_isolation(tmp_path / "state", backend="auto", host=fake_host(tmp_path, v2=True))
    assert isolation.backend == "cgroup-v2"
    assert isolation.warning is not None
    assert "does not delegate the cpu, memory, pids controllers" in isolation.warning


def test_auto_falls_back_when_no_cgroup_is_mounted(tmp_path: Path) -> None:
    """A host without cgroup mounts gets the fallback, and the warning says why."""
    isolation = open_isolation(tmp_path / "state", backend="auto", host=HostCgroups((), {}))
    assert isolation.backend == "none"
    assert isolation.warning is not None
    assert "no cgroup file system is mounted" in isolation.warning


def test_a_forced_cgroup_backend_that_cannot_work_raises(tmp_path: Path) -> None:
    """Forcing cgroup-v1 or cgroup-v2 where it is not mounted is an error, not a silent fallback."""
    for backend in ("cgroup-v1", "cgroup-v2"):
        with pytest.raises(IsolationError):
            open_isolation(tmp_path / "state", backend=backend, host=HostCgroups((), {}))
