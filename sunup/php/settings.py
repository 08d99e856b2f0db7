"""What a PHP app's configuration asks of PHP, read from its plan (pure, spec §12).

- `variables.php.<name>: value` → php.ini settings, in the order written; a nested mapping
  (``php: {opcache: {memory_consumption: 128}}``) is read as dotted names
  (``opcache.memory_consumption``). Values: booleans ``On``/``Off``, null an empty value.
- `runtime.extensions` (names, or ``{name: ..., configuration: ...}``): extensions that must be
  loaded; `runtime.disabled_extensions`: extensions the system loads that must not be.
- `runtime.sizing_hints {request_memory [45], reserved_memory [70]}` (MB) and the instance's
  memory give FPM's pool size: ``(memory - reserved_memory) // request_memory``, at least 2.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sunup.plan.model import AppPlan, GroupPlan

DEFAULT_REQUEST_MEMORY = 45
DEFAULT_RESERVED_MEMORY = 70
MIN_CHILDREN = 2
#: php.ini names: letters, digits, `_`, `.` and `-` (``session.save_path``, ``apc.shm_size``).
INI_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class IniSetting:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class PhpSettings:
    """One instance group's PHP: the version asked for, its ini settings, extensions, pool size."""

    app: str
    group: str
    #: ``8.3`` from ``php:8.3`` ("" for a bare ``php``).
    version: str
    ini: tuple[IniSetting, ...]
    extensions: tuple[str, ...]
    disabled_extensions: tuple[str, ...]
    max_children: int
    #: Settings that cannot be written in php.ini (a quote or a new line in the value): warned.
    refused: tuple[str, ...] = ()


def php_settings(app: AppPlan, group: GroupPlan) -> PhpSettings:
    runtime = app.config.get("runtime")
    runtime = runtime if isinstance(runtime, Mapping) else {}
    hints = runtime.get("sizing_hints")
    hints = hints if isinstance(hints, Mapping) else {}
    ini, refused = _ini_settings(group.variables.get("php") or {})
    return PhpSettings(
        app=app.name,
        group=group.name,
        version=app.version,
        ini=ini,
        extensions=_extension_names(runtime.get("extensions")),
        disabled_extensions=_extension_names(runtime.get("disabled_extensions")),
        max_children=max_children(
            group.resources.memory_mb,
            _positive(hints.get("request_memory"), DEFAULT_REQUEST_MEMORY),
            _positive(hints.get("reserved_memory"), DEFAULT_RESERVED_MEMORY, zero=True),
        ),
        refused=refused,
    )


def max_children(memory_mb: int, request_memory: int, reserved_memory: int) -> int:
    """FPM's `pm.max_children` for an instance of `memory_mb` (spec §12), at least 2."""
    return max(MIN_CHILDREN, (memory_mb - reserved_memory) // max(1, request_memory))


def ini_value(value: Any) -> str | None:
    """`value` as written after ``name =`` in php.ini; None when php.ini cannot say it."""
    if isinstance(value, bool):
        return "On" if value else "Off"
    if value is None:
        return '""'
    text = str(value)
    if '"' in text or "\n" in text or "\r" in text or "\0" in text:
        return None
    if re.fullmatch(r"[A-Za-z0-9_./:+,@%*-]+", text):
        return text
    # Double quotes keep `;`, `=`, spaces, `{}|&~![()^` as they are (`${...}` still expands).
    return f'"{text}"'


def _ini_settings(block: Mapping[str, Any]) -> tuple[tuple[IniSetting, ...], tuple[str, ...]]:
    settings: list[IniSetting] = []
    refused: list[str] = []
    for name, value in _flatten(block, ""):
        written = ini_value(value)
        if written is None or not INI_NAME.fullmatch(name):
            refused.append(name)
            continue
        settings.append(IniSetting(name, written))
    return tuple(settings), tuple(refused)


def _flatten(block: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in block.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, name + ".")
        else:
            yield name, value


def _extension_names(value: Any) -> tuple[str, ...]:
    names: list[str] = []
    for item in value if isinstance(value, list) else ():
        name = item.get("name") if isinstance(item, Mapping) else item
        if isinstance(name, str) and name.strip():
            names.append(name.strip().lower())
    return tuple(dict.fromkeys(names))


def _positive(value: Any, default: int, *, zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return value if value > 0 or (zero and value == 0) else default
