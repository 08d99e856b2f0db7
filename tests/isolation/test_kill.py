"""Finding and killing every process of an instance, on each backend this machine can run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sunup.isolation.deadline import Deadline
from tests.isolation.conftest import Harness, gone, read_line

#: Three processes: a `setsid` escapee, an orphaned (double-forked) grandchild, and the main one.
ESCAPEES = "setsid sleep 1000 & (sleep 1000 &); echo ready; exec sleep 1000"


def test_pids_lists_the_escapee_the_orphan_and_the_main_process(harness: Harness) -> None:
    """pids() finds a setsid escapee and a double-forked grandchild besides the main process."""
    group = harness.prepare()
    child = harness.start_ready(group, ESCAPEES)
    # "ready" may come before the subshell has forked its sleep: wait for it, bounded.
    assert Deadline(10).until(lambda: len(group.pids()) == 3), f"found {group.pids()}"
    pids = group.pids()
    assert child.pid in pids
    assert not group.empty()


def test_kill_all_kills_a_setsid_escapee_and_a_double_forked_grandchild(harness: Harness) -> None:
    """kill_all() leaves no process of the instance alive, whatever session or parent it has."""
    group = harness.prepare()
    child = harness.start_ready(group, ESCAPEES)
    pids = group.pids()
    group.kill_all()
    assert group.empty()
    assert group.pids() == []
    assert child.wait(timeout=5) == -signal.SIGKILL
    assert all(gone(pid) for pid in pids)


def test_kill_all_wins_against_a_fork_loop(harness: Harness) -> None:
    """kill_all() empties a group whose processes keep forking while it kills them."""
    group = harness.prepare()
    forks = "i=0; while [ $i -lt 500 ]; do sleep 1000 & i=$((i+1)); done"
    harness.start_ready(group, f"({forks}) & echo ready; exec sleep 1000")
    group.kill_all(timeout=10)
    assert group.empty()


def test_kill_all_with_sigterm_signals_every_process_once(harness: Harness) -> None:
    """kill_all(SIGTERM) reaches each process, escapees too, and returns without waiting."""
    group = harness.prepare()
    script = (
        "trap 'wait; exit 0' TERM; "
        "setsid sh -c 'trap \"echo escapee; exit 0\" TERM; echo ready; while :; do sleep 0.05; done' & "
        "while :; do sleep 0.05; done"
    )
    child = harness.start_ready(group, script)
    group.kill_all(signal.SIGTERM)
    assert read_line(child) == "escapee"
    assert child.wait(timeout=5) == 0


def test_join_argv_runs_a_plain_command_inside_the_group(harness: Harness) -> None:
    """join_argv() makes a non-shell argv join the group before it runs."""
    group = harness.prepare()
    argv = group.join_argv([sys.executable, "-c", "import os; print(os.getpid(), flush=True); input()"])
    child = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, **group.environment},
    )
    harness.children.append(child)
    pid = int(read_line(child))
    assert group.pids() == [pid]
    group.kill_all()
    assert child.wait(timeout=5) == -signal.SIGKILL


def test_add_moves_a_running_process_into_the_group(harness: Harness) -> None:
    """add(pid) puts an already running process in the group."""
    group = harness.prepare()
    child = subprocess.Popen(["sleep", "1000"], start_new_session=True)
    harness.children.append(child)
    group.add(child.pid)
    assert group.pids() == [child.pid]
    group.kill_all()
    assert child.wait(timeout=5) == -signal.SIGKILL


def test_groups_of_two_instances_are_killed_separately(harness: Harness) -> None:
    """Killing one instance's group leaves another instance's processes running."""
    web = harness.prepare("web.0")
    queue = harness.prepare("queue.0")
    harness.start_ready(web, "echo ready; exec sleep 1000")
    survivor = harness.start_ready(queue, "echo ready; exec sleep 1000")
    web.kill_all()
    assert web.empty()
    assert queue.pids() == [survivor.pid]


def test_remove_kills_what_is_left_and_deletes_the_group(harness: Harness) -> None:
    """remove() kills the remaining processes; a second remove() is harmless."""
    group = harness.prepare()
    child = harness.start_ready(group, ESCAPEES)
    group.remove()
    group.remove()
    assert child.wait(timeout=5) == -signal.SIGKILL
    assert group.empty()


def test_stats_count_the_cpu_time_of_the_instance(harness: Harness) -> None:
    """stats() reports the CPU time the instance's processes used."""
    group = harness.prepare()
    child = harness.start(group, "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo done; exec sleep 1000")
    assert read_line(child, timeout=60) == "done"
    stats = group.stats()
    assert stats.cpu_seconds > 0.05
    assert stats.memory_bytes >= 0
