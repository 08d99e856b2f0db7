"""Start N `sleep` instances: time until all pids exist, the manager's memory (PSS, helper
processes included), and its CPU use once idle."""

from __future__ import annotations

import time

from sidebyside import procfs
from sidebyside.drivers.base import Driver
from sidebyside.program import Program, is_sleep, sleeper
from sidebyside.session import Measurement, Metric, Options, opened

SECONDS = 36001


def run(driver: Driver, options: Options) -> list[Measurement]:
    count = options.pick(200, 50)
    shapes = [(f"1 program x {count}", [Program("sleeper", sleeper(SECONDS), count)])]
    if not options.quick:
        shapes.append((f"{count} programs", [Program(f"s{i}", sleeper(SECONDS)) for i in range(count)]))
    results: list[Measurement] = []
    for shape, programs in shapes:
        results += _measure(driver, options, f"start {count} ({shape})", programs, count)
    return results


def _measure(driver: Driver, options: Options, title: str, programs: list[Program], count: int) -> list[Measurement]:
    match = is_sleep(SECONDS)
    idle_window = 2.0 if options.quick else 5.0
    with opened(driver) as session:
        launched = session.launch(programs)
        elapsed = session.wait_instances(match, count, timeout=120)
        manager = session.wait_manager()
        time.sleep(1.0)  # let the manager finish its start-up bookkeeping before measuring it
        helpers = session.helpers(match)
        pss = procfs.pss_bytes(manager) + sum(procfs.pss_bytes(h.pid) for h in helpers)
        tree = [manager, *(h.pid for h in helpers)]
        before = procfs.cpu_seconds(tree)
        time.sleep(idle_window)  # the measurement window
        idle = (procfs.cpu_seconds(tree) - before) / idle_window * 100
    return [
        Measurement(Metric(f"{title}: all pids exist", "s"), driver.name, elapsed, str(launched.extra.get("note", ""))),
        Measurement(
            Metric(f"{title}: manager PSS", "MB"),
            driver.name,
            pss / 1e6,
            f"{len(helpers)} helper processes" if helpers else "",
        ),
        Measurement(Metric(f"{title}: idle CPU", "%"), driver.name, idle),
    ]
