"""Settings kept on this machine, outside the configuration: `resources:set` sizes and counts.

``<state>/resources.json``, keyed ``app:group``, written whole (`sunup.atomicfile`) so a crash or
a full disk never leaves half a file. No file means the defaults (spec §7); a damaged one (not
JSON, wrong types) is an error naming it, never the defaults: they would start other counts than
the user set, and `resources:set` would write them over the settings it could not read.
`resources:set` reads, changes and writes the file under `settings_lock`: two at once would
each write the settings without the other's change.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure
from sunup.plan.resources import ResourceSetting
from sunup.plan.sizing import integer, number

FILE_NAME = "resources.json"
_FIELDS = ("cpu", "memory_mb", "count")


def read_settings(state_root: Path) -> dict[str, ResourceSetting]:
    """The stored settings ({} when there are none); RuntimeFailure naming the file when it
    cannot be read or is not what `write_settings` writes."""
    path = state_root / FILE_NAME
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise _damaged(path, exc.strerror or str(exc)) from None
    except ValueError as exc:  # not UTF-8, not JSON
        raise _damaged(path, f"it is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _damaged(path, "it is not a JSON object")
    settings: dict[str, ResourceSetting] = {}
    for key, value in data.items():
        if not isinstance(value, dict):
            raise _damaged(path, f"{key!r} is not an object")
        for field in _FIELDS:
            found = value.get(field)
            if found is None:
                continue
            if isinstance(found, bool) or not isinstance(found, int | float) or not math.isfinite(found):
                raise _damaged(path, f"{key!r}: {field} is {found!r}, not a number")
            if field != "cpu" and integer(found) is None:
                raise _damaged(path, f"{key!r}: {field} is {found!r}, not a whole number")
        settings[str(key)] = ResourceSetting(
            cpu=number(value.get("cpu")),
            memory_mb=integer(value.get("memory_mb")),
            count=integer(value.get("count")),
        )
    return settings


def _damaged(path: Path, why: str) -> RuntimeFailure:
    return RuntimeFailure(
        f"cannot read the resource settings {path}: {why}",
        hint="fix the file, or remove it to go back to the default sizes and counts",
    )


def write_settings(state_root: Path, settings: Mapping[str, ResourceSetting]) -> None:
    data = {
        key: {k: v for k, v in zip(_FIELDS, (s.cpu, s.memory_mb, s.count), strict=True) if v is not None}
        for key, s in sorted(settings.items())
    }
    write_atomically(state_root / FILE_NAME, json.dumps(data, indent=2) + "\n")


@contextlib.contextmanager
def settings_lock(state_root: Path) -> Iterator[None]:
    """An exclusive flock on the state folder itself (no file of its own), held while the
    settings are read, changed and written; waits for another holder (it holds it for a moment)."""
    state_root.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
