"""The scenarios of shared/spec/benchmarks.md, by name, in the order they run."""

from __future__ import annotations

from collections.abc import Callable

from sidebyside.drivers.base import Driver
from sidebyside.scenarios import isolation_cost, logs, manager_death, orphans, restart, start, stop
from sidebyside.session import Measurement, Options

Scenario = Callable[[Driver, Options], list[Measurement]]

SCENARIOS: dict[str, Scenario] = {
    "start": start.run,
    "restart": restart.run,
    "stop": stop.run,
    "orphans": orphans.run,
    "manager-death": manager_death.run,
    "logs": logs.run,
    "isolation-cost": isolation_cost.run,
}
