"""Settings kept on this machine, outside the configuration: `resources:set` sizes and counts.

``<state>/resources.json``, keyed ``app:group``, written whole (`sunup.atomicfile`) so a crash or
a full disk never leaves half a file; an unreadable file means the defaults (spec §7).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from sunup.atomicfile import write_atomically
from sunup.plan.resources import ResourceSetting
from sunup.plan.sizing import integer, number

FILE_NAME = "resources.json"


def read_settings(state_root: Path) -> dict[str, ResourceSetting]:
    """The stored settings ({} when none, or when the file is unreadable: defaults apply)."""
    try:
        data = json.loads((state_root / FILE_NAME).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    settings: dict[str, ResourceSetting] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            settings[str(key)] = ResourceSetting(
                cpu=number(value.get("cpu")),
                memory_mb=integer(value.get("memory_mb")),
                count=integer(value.get("count")),
            )
    return settings


def write_settings(state_root: Path, settings: Mapping[str, ResourceSetting]) -> None:
    data = {
        key: {k: v for k, v in (("cpu", s.cpu), ("memory_mb", s.memory_mb), ("count", s.count)) if v is not None}
        for key, s in sorted(settings.items())
    }
    write_atomically(state_root / FILE_NAME, json.dumps(data, indent=2) + "\n")
