"""Orphans after a full stop: a grandchild in the instance's process group (`sleep 1001 &`) and
a `setsid` escapee (`setsid sleep 1002 &`); count those still running once the manager is gone."""

from __future__ import annotations

import time

from sidebyside.drivers.base import Driver
from sidebyside.program import Program, is_sleep
from sidebyside.session import Measurement, Metric, Options, opened

TIMEOUT = 30.0


def run(driver: Driver, options: Options) -> list[Measurement]:
    programs = [
        Program("grandchild", "sleep 1001 & exec sleep 1000"),
        Program("escapee", "setsid sleep 1002 & exec sleep 1000"),
    ]
    main, grandchild, escapee = is_sleep(1000), is_sleep(1001), is_sleep(1002)
    with opened(driver) as session:
        session.launch(programs)
        session.tracker.wait_for(
            lambda ps: (
                sum(main(p.cmdline) for p in ps) >= 2
                and any(grandchild(p.cmdline) for p in ps)
                and any(escapee(p.cmdline) for p in ps)
            ),
            timeout=60,
        )
        manager = session.wait_manager()
        time.sleep(0.5)
        session.stop_async()
        gone = session.manager_gone(manager, TIMEOUT)
        note = "" if gone is not None else f"manager still running {TIMEOUT:g} s after the stop (hung)"
        if gone is not None:
            time.sleep(0.5)  # anything the manager's last signals reach has died by now
        left = session.tracker.scan()
    return [
        Measurement(
            Metric("orphans after stop: grandchild in the group", "count"),
            driver.name,
            sum(grandchild(p.cmdline) for p in left),
            note,
        ),
        Measurement(
            Metric("orphans after stop: setsid escapee", "count"),
            driver.name,
            sum(escapee(p.cmdline) for p in left),
            note,
        ),
    ]
