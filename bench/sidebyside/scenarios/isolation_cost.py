"""sunup only: what per-instance cgroups cost at start — start N instances with the machine's
isolation backend and with `SUNUP_ISOLATION=none`, and compare."""

from __future__ import annotations

from sidebyside.drivers.base import Driver
from sidebyside.drivers.sunup import SunupDriver
from sidebyside.program import Program, is_sleep, sleeper
from sidebyside.session import Measurement, Metric, Options, opened

SECONDS = 36005


def run(driver: Driver, options: Options) -> list[Measurement]:
    if not isinstance(driver, SunupDriver):
        return []
    count = options.pick(200, 50)
    programs = [Program("sleeper", sleeper(SECONDS), count)]
    results: list[Measurement] = []
    for label, variant in (("cgroups", driver), ("no cgroups (SUNUP_ISOLATION=none)", SunupDriver("none"))):
        with opened(variant) as session:
            launched = session.launch(programs)
            elapsed = session.wait_instances(is_sleep(SECONDS), count, timeout=120)
        results.append(
            Measurement(
                Metric(f"isolation cost: start {count} with {label}", "s"),
                driver.name,
                elapsed,
                str(launched.extra.get("note", "")),
            )
        )
    return results
