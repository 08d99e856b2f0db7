"""The manager is SIGKILLed: how many of its 5 instances still run 3 s later (unsupervised), and
how many copies run once it is started again (more than 5 = duplicates)."""

from __future__ import annotations

import os
import signal
import time

from sidebyside.drivers.base import Driver
from sidebyside.program import Program, is_sleep, sleeper
from sidebyside.session import Measurement, Metric, Options, opened

COUNT = 5
SECONDS = 36003


def run(driver: Driver, options: Options) -> list[Measurement]:
    match = is_sleep(SECONDS)
    programs = [Program("m", sleeper(SECONDS), COUNT)]
    with opened(driver) as session:
        session.launch(programs)
        session.wait_instances(match, COUNT, timeout=60)
        manager = session.wait_manager()
        time.sleep(0.5)
        os.kill(manager, signal.SIGKILL)
        time.sleep(3.0)  # the measurement window
        left = session.tracker.scan()
        orphans = sum(match(p.cmdline) for p in left)
        helpers = len(left) - orphans

        session.launch(programs)
        session.wait_instances(match, COUNT, timeout=60)
        time.sleep(2.0)  # let a manager that adopts or kills leftovers do it
        copies = sum(match(p.cmdline) for p in session.tracker.scan())
    return [
        Measurement(
            Metric(f"manager SIGKILLed: of {COUNT} instances, alive 3 s later", "count"),
            driver.name,
            orphans,
            f"+ {helpers} helper processes" if helpers else "",
        ),
        Measurement(
            Metric(f"manager SIGKILLed, started again: copies of {COUNT} instances", "count"),
            driver.name,
            copies,
        ),
    ]
