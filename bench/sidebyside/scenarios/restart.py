"""Restart latency: SIGKILL a running instance, time until its replacement's pid exists.

Each of R instances (own command line each) is killed once, so that no manager's crash-loop
protection (supervisord's startsecs, sunup's backoff) is what gets measured.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Callable

from sidebyside import procfs
from sidebyside.drivers.base import Driver
from sidebyside.procfs import has_marker, read_proc
from sidebyside.program import Program, is_sleep, sleeper
from sidebyside.session import Measurement, Metric, Options, opened

BASE = 36100
#: Give up on one restart after this long, and on the manager after this many in a row.
REP_TIMEOUT = 6.0
GIVE_UP_AFTER = 2


def run(driver: Driver, options: Options) -> list[Measurement]:
    reps = options.pick(50, 10)
    programs = [Program(f"r{i}", sleeper(BASE + i)) for i in range(reps)]
    latencies: list[float] = []
    failures = 0
    with opened(driver) as session:
        session.launch(programs)
        session.wait_instances(lambda c: any(is_sleep(BASE + i)(c) for i in range(reps)), reps, timeout=120)
        time.sleep(1.5)  # older than supervisord's startsecs=1: a kill is a crash, not a failed start
        for i in range(reps):
            match = is_sleep(BASE + i)
            current = [p.pid for p in session.tracker.scan() if match(p.cmdline)]
            if not current:
                failures += 1
                if failures >= GIVE_UP_AFTER:
                    break
                continue
            latency = _kill_and_time(current[0], match, session.marker)
            if latency is None:
                failures += 1
                if failures >= GIVE_UP_AFTER:
                    break
            else:
                failures = 0
                latencies.append(latency)
    note = "" if len(latencies) == reps else f"{reps - len(latencies)} of {reps} never restarted"
    if not latencies:
        return [
            Measurement(Metric("restart after SIGKILL: p50", "ms"), driver.name, None, "never restarts"),
            Measurement(Metric("restart after SIGKILL: p99", "ms"), driver.name, None, "never restarts"),
        ]
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return [
        Measurement(Metric("restart after SIGKILL: p50", "ms"), driver.name, statistics.median(ordered) * 1000, note),
        Measurement(Metric("restart after SIGKILL: p99", "ms"), driver.name, p99 * 1000, note),
    ]


def _kill_and_time(pid: int, match: Callable[[tuple[str, ...]], bool], marker: str) -> float | None:
    """SIGKILL `pid`; seconds until a new process with the same command line exists."""
    baseline = set(procfs.pids())
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    deadline = killed_at + REP_TIMEOUT
    checked: set[int] = set()
    while time.monotonic() < deadline:
        for candidate in procfs.pids():
            if candidate in baseline or candidate in checked:
                continue
            proc = read_proc(candidate)
            if proc is None:
                checked.add(candidate)
                continue
            if match(proc.cmdline) and has_marker(candidate, marker):
                return time.monotonic() - killed_at
        time.sleep(0.001)
    return None
