"""One driver per process manager, sunup first."""

from __future__ import annotations

from sidebyside.drivers.base import Driver
from sidebyside.drivers.circus import CircusDriver
from sidebyside.drivers.honcho import HonchoDriver
from sidebyside.drivers.sunup import SunupDriver
from sidebyside.drivers.supervisord import SupervisordDriver


def all_drivers() -> list[Driver]:
    return [SunupDriver(), SupervisordDriver(), CircusDriver(), HonchoDriver()]
