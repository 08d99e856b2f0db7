"""Stop 20 instances that each need 1 s after SIGTERM: time from the stop command until every
instance and the manager are gone (parallel stop ≈ 1 s)."""

from __future__ import annotations

import time

from sidebyside.drivers.base import Driver
from sidebyside.program import SLOW_STOPPER, Program
from sidebyside.session import Measurement, Metric, Options, opened

COUNT = 20
TIMEOUT = 120.0


def is_stopper(cmdline: tuple[str, ...]) -> bool:
    return any("trap 'sleep 1; exit 0' TERM" in part for part in cmdline)


def run(driver: Driver, options: Options) -> list[Measurement]:
    metric = Metric(f"stop {COUNT} instances needing 1 s after SIGTERM", "s")
    programs = [Program(f"t{i}", SLOW_STOPPER) for i in range(COUNT)]
    with opened(driver) as session:
        session.launch(programs)
        session.wait_instances(is_stopper, COUNT, timeout=120)
        time.sleep(1.0)  # every trap is installed
        asked = session.stop_async()
        held, procs, when = session.tracker.wait_for(lambda ps: not ps, TIMEOUT, interval=0.005)
        if not held:
            return [Measurement(metric, driver.name, None, f"{len(procs)} processes left after {TIMEOUT:g} s")]
        return [Measurement(metric, driver.name, when - asked)]
