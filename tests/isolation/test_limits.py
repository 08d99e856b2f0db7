"""CPU, memory and process-count limits, measured with real processes and the cgroup's own
accounting; skipped on backends that do not enforce them here."""

from __future__ import annotations

import signal
import sys
import time

import pytest

from sunup.isolation import Limits
from tests.isolation.conftest import Harness, read_line, require_limit

#: Allocates and touches 1 MB at a time, forever.
MEMORY_HOG = (
    f"{sys.executable} -c 'import sys\n"
    "chunks = []\n"
    'print("ready", flush=True)\n'
    "while True:\n"
    "    chunks.append(bytearray(1 << 20))\n"
    "'"
)

#: How long the CPU quota is measured, in seconds of wall-clock time.
CPU_WINDOW = 3.0


def test_a_memory_hog_past_its_limit_is_oom_killed_and_reported(harness: Harness) -> None:
    """A process allocating past the memory limit is SIGKILLed by the kernel and oom_killed() says so."""
    require_limit(harness, "memory")
    group = harness.prepare(limits=Limits(memory_mb=48))
    assert not group.oom_killed()
    child = harness.start(group, f"exec {MEMORY_HOG}")
    assert read_line(child) == "ready"
    assert child.wait(timeout=60) == -signal.SIGKILL
    assert group.oom_killed()
    assert group.stats().memory_limit == 48 * 1024 * 1024


def test_the_oom_record_starts_afresh_when_the_instance_is_prepared_again(harness: Harness) -> None:
    """prepare() of an instance after an OOM kill gives a group whose oom_killed() is False."""
    require_limit(harness, "memory")
    group = harness.prepare(limits=Limits(memory_mb=48))
    child = harness.start(group, f"exec {MEMORY_HOG}")
    assert child.wait(timeout=60) == -signal.SIGKILL
    assert group.oom_killed()
    again = harness.prepare(limits=Limits(memory_mb=48))
    assert not again.oom_killed()


def test_a_busy_loop_under_a_quarter_cpu_quota_gets_a_quarter_cpu(harness: Harness) -> None:
    """A busy loop under a 0.25 CPU quota uses 0.25 CPU ± 20 %, by the group's own CPU accounting."""
    require_limit(harness, "cpu")
    group = harness.prepare(limits=Limits(cpu=0.25))
    harness.start_ready(group, "echo ready; while :; do :; done")
    before, start = group.stats().cpu_seconds, time.monotonic()
    time.sleep(CPU_WINDOW)  # the measurement window itself, not a wait for an event
    used = (group.stats().cpu_seconds - before) / (time.monotonic() - start)
    assert used == pytest.approx(0.25, rel=0.2)


#: Forks 8 sleeping children, prints how many forks failed, then sleeps.
FORKER = (
    f"{sys.executable} -c 'import os, time\n"
    "failed = 0\n"
    "for _ in range(8):\n"
    "    try:\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(1000)\n"
    "            os._exit(0)\n"
    "    except OSError:\n"
    "        failed += 1\n"
    "print(failed, flush=True)\n"
    "time.sleep(1000)\n"
    "'"
)


def test_forks_past_the_pids_limit_fail(harness: Harness) -> None:
    """With pids=5, a process can fork four children and no more."""
    require_limit(harness, "pids")
    group = harness.prepare(limits=Limits(pids=5))
    child = harness.start(group, f"exec {FORKER}")
    assert read_line(child) == "4"
    assert len(group.pids()) == 5


def test_refused_forks_are_counted_from_each_prepare(harness: Harness) -> None:
    """forks_refused() counts the forks pids.max refused (pids.events) since the group was
    prepared: a restart counts afresh."""
    require_limit(harness, "pids")
    group = harness.prepare(limits=Limits(pids=5))
    assert group.forks_refused() == 0
    child = harness.start(group, f"exec {FORKER}")
    assert read_line(child) == "4"
    assert group.forks_refused() == 4
    again = harness.prepare(limits=Limits(pids=5))
    assert again.forks_refused() == 0


def test_the_memory_limit_shows_in_stats(harness: Harness) -> None:
    """stats().memory_limit is the limit in bytes where memory is enforced, None without a limit."""
    require_limit(harness, "memory")
    limited = harness.prepare("web.0", Limits(memory_mb=224))
    free = harness.prepare("queue.0")
    assert limited.stats().memory_limit == 224 * 1024 * 1024
    assert free.stats().memory_limit is None


def test_the_fallback_limits_memory_per_process_without_reporting_an_oom_kill(harness: Harness) -> None:
    """Without cgroups, a process allocating past the limit fails to allocate, and no OOM kill is reported."""
    if harness.backend != "none":
        pytest.skip("the rlimit applies to the fallback backend only")
    group = harness.prepare(limits=Limits(memory_mb=64))
    child = harness.start(group, f"exec {MEMORY_HOG} 2>/dev/null")
    assert read_line(child) == "ready"
    assert child.wait(timeout=60) == 1
    assert not group.oom_killed()


def test_limits_must_be_positive() -> None:
    """Limits refuses a zero or negative CPU, memory or process count."""
    for bad in ({"cpu": 0.0}, {"memory_mb": 0}, {"pids": -1}):
        with pytest.raises(ValueError):
            Limits(**bad)


def test_preparing_again_lifts_limits_no_longer_wanted(harness: Harness) -> None:
    """prepare() of an existing group without a memory limit removes the limit it had."""
    require_limit(harness, "memory")
    assert harness.prepare("web.0", Limits(memory_mb=224)).stats().memory_limit == 224 * 1024 * 1024
    assert harness.prepare("web.0").stats().memory_limit is None


def test_preparing_again_counts_cpu_time_from_zero(harness: Harness) -> None:
    """The CPU time of a group prepared again starts from zero, not from the last run's."""
    group = harness.prepare()
    child = harness.start(group, "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
    assert child.wait(timeout=60) == 0
    if harness.backend != "none":
        assert group.stats().cpu_seconds > 0.05
    assert harness.prepare().stats().cpu_seconds < 0.05
