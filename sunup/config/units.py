"""Durations and sizes as the platform's nginx reads them (`expires`, `max_request_size`).

- A duration (`expires`, `redirects.expires`): an integer of seconds, or a string of numbers
  each followed by a unit: ``ms``, ``s``, ``m`` (minutes), ``h``, ``d``, ``w``, ``M`` (30 days),
  ``y`` (365 days), combined as nginx allows (``1h30m``, ``1h 30m``); a bare number is seconds. ``-1`` means
  "no caching headers"; other negative values are refused.
- A size (`max_request_size`): an integer of bytes, or a number followed by ``k``, ``m`` or ``g``
  (either case, powers of 1024), as nginx's `client_max_body_size`.
"""

from __future__ import annotations

import re
from typing import Any

_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "M": 30 * 86400,
    "y": 365 * 86400,
}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|M|y)?")
_SIZE = re.compile(r"(\d+)([kKmMgG]?)")
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}

DURATION_HINT = "seconds, -1 (no caching headers), or a number with a unit: 30s, 5m, 1h, 2d, 1w, 1M, 1y"
SIZE_HINT = "bytes, or a number with k, m or g: 512k, 250m, 1g"


def parse_duration(value: Any) -> int:
    """Seconds (-1: none); ValueError with a sentence when `value` is not a duration."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int):
        if value < -1:
            raise ValueError(f"{value} is negative (only -1 is allowed: no caching headers)")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration")
    text = "".join(value.split())  # nginx reads "1h 30m" as "1h30m"
    if text == "-1":
        return -1
    if not text or text.startswith("-"):
        raise ValueError(f"'{value}' is not a duration" + (" (only -1 may be negative)" if text else ""))
    seconds = 0.0
    position = 0
    last_unit: str | None = ""
    for found in _DURATION.finditer(text):
        if found.start() != position or (last_unit is None):
            break
        number, unit = found.groups()
        seconds += int(number) * _DURATION_UNITS[unit or "s"]
        position = found.end()
        last_unit = unit  # a bare number ends the value
    if position != len(text):
        raise ValueError(f"'{value}' is not a duration")
    return int(seconds)


def parse_size(value: Any) -> int:
    """Bytes; ValueError with a sentence when `value` is not a size."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a size")
    found = _SIZE.fullmatch(value.strip())
    if found is None:
        raise ValueError(f"'{value}' is not a size")
    return int(found[1]) * _SIZE_UNITS[found[2].lower()]
