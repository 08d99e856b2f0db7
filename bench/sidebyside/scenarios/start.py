"""Start N `sleep` instances: time until all pids exist, the manager's memory (PSS, helper
processes included), and its CPU use once idle.

N runs over `Options.sizes` (1, 5, 50, 200; quick: 1, 5, 50): at small N a manager's fixed cost
(interpreter start, imports, state, daemonising) is all there is to measure, at 200 its per-
instance cost. The time is the median of `repeats` starts; memory and idle CPU are taken once,
at the largest size.
"""

from __future__ import annotations

import statistics
import time

from sidebyside import procfs
from sidebyside.drivers.base import Driver
from sidebyside.program import Program, is_sleep, sleeper
from sidebyside.session import Measurement, Metric, Options, opened

SECONDS = 36001


def run(driver: Driver, options: Options) -> list[Measurement]:
    results: list[Measurement] = []
    largest = max(options.start_sizes)
    for count in options.start_sizes:
        shapes = [(f"1 program x {count}", [Program("sleeper", sleeper(SECONDS), count)])]
        if not options.quick and count == largest:
            shapes.append((f"{count} programs", [Program(f"s{i}", sleeper(SECONDS)) for i in range(count)]))
        for shape, programs in shapes:
            results += _measure(
                driver, options, f"start {count} ({shape})", programs, count, resources=count == largest
            )
    return results


def _measure(
    driver: Driver, options: Options, title: str, programs: list[Program], count: int, *, resources: bool
) -> list[Measurement]:
    match = is_sleep(SECONDS)
    idle_window = 2.0 if options.quick else 5.0
    times: list[float] = []
    note = ""
    extra: list[Measurement] = []
    with opened(driver) as session:
        for attempt in range(options.start_repeats):
            if attempt:
                session.restart()
            launched = session.launch(programs)
            times.append(session.wait_instances(match, count, timeout=120))
            note = str(launched.extra.get("note", ""))
        if resources:
            manager = session.wait_manager()
            time.sleep(1.0)  # let the manager finish its start-up bookkeeping before measuring it
            helpers = session.helpers(match)
            pss = procfs.pss_bytes(manager) + sum(procfs.pss_bytes(h.pid) for h in helpers)
            tree = [manager, *(h.pid for h in helpers)]
            before = procfs.cpu_seconds(tree)
            time.sleep(idle_window)  # the measurement window
            idle = (procfs.cpu_seconds(tree) - before) / idle_window * 100
            extra = [
                Measurement(
                    Metric(f"{title}: manager PSS", "MB"),
                    driver.name,
                    pss / 1e6,
                    f"{len(helpers)} helper processes" if helpers else "",
                ),
                Measurement(Metric(f"{title}: idle CPU", "%"), driver.name, idle),
            ]
    if len(times) > 1:
        note = ", ".join(filter(None, [note, f"median of {len(times)}, {min(times):.3g}-{max(times):.3g}"]))
    return [
        Measurement(Metric(f"{title}: all pids exist", "s"), driver.name, statistics.median(times), note),
        *extra,
    ]
