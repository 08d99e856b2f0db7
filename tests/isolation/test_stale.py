"""What a dead supervisor leaves behind, found and cleared by the next one; one top-level group
per project."""

from __future__ import annotations

import signal
from pathlib import Path

from sunup.isolation.ledger import Ledger
from tests.isolation.conftest import Harness, gone


def test_the_next_supervisor_lists_and_clears_what_a_dead_one_left(harness: Harness) -> None:
    """A new isolation on the same state folder sees the old instances as stale and kills them."""
    old = harness.open()
    group = old.prepare("queue.0")
    harness.groups.append(group)
    child = harness.start_ready(group, "setsid sleep 1000 & echo ready; exec sleep 1000")
    pids = group.pids()

    new = harness.open()
    assert new.stale() == ["queue.0"]
    assert new.clear_stale() == ["queue.0"]
    assert new.stale() == []
    assert child.wait(timeout=5) == -signal.SIGKILL
    assert all(gone(pid) for pid in pids)


def test_prepare_replaces_a_leftover_group_of_the_same_instance(harness: Harness) -> None:
    """prepare() of an instance whose old processes still run kills them first: never two copies."""
    old = harness.open().prepare("web.0")
    harness.groups.append(old)
    first = harness.start_ready(old, "echo ready; exec sleep 1000")

    fresh = harness.open().prepare("web.0")
    harness.groups.append(fresh)
    assert first.wait(timeout=5) == -signal.SIGKILL
    assert fresh.empty()
    second = harness.start_ready(fresh, "echo ready; exec sleep 1000")
    assert fresh.pids() == [second.pid]


def test_instances_this_supervisor_prepared_are_not_stale(harness: Harness) -> None:
    """stale() leaves out the instances that the same isolation object prepared."""
    isolation = harness.open()
    group = isolation.prepare("web.0")
    harness.groups.append(group)
    harness.start_ready(group, "echo ready; exec sleep 1000")
    assert isolation.stale() == []


def test_two_projects_never_see_each_other_as_stale(harness: Harness) -> None:
    """Isolations of two state folders have distinct top-level groups and ignore each other."""
    mine = harness.open(harness.state_dir / "one")
    theirs = harness.open(harness.state_dir / "two")
    assert mine.location != theirs.location
    group = theirs.prepare("web.0")
    harness.groups.append(group)
    harness.start_ready(group, "echo ready; exec sleep 1000")
    assert harness.open(harness.state_dir / "one").stale() == []
    assert mine.clear_stale() == []
    assert not group.empty()


def test_close_removes_the_top_level_group_once_it_is_empty(cgroup_harness: Harness) -> None:
    """close() keeps a top-level group with an instance in it, and deletes and forgets it once empty."""
    isolation = cgroup_harness.open()
    group = cgroup_harness.prepare("web.0")
    cgroup_harness.start_ready(group, "echo ready; exec sleep 1000")
    tops = [Path(p) for p in isolation.location.split(", ")]
    isolation.close()
    assert all(top.is_dir() for top in tops)
    group.remove()
    isolation.close()
    assert not any(top.exists() for top in tops)
    assert Ledger.of(cgroup_harness.state_dir).places(isolation.backend) == []
