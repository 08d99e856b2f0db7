"""Reading `resources:set` arguments as the Upsun CLI takes them (spec §7).

`parse_sizes` / `parse_counts` read ``name:value,...`` where a name is ``web`` or an app name
(its web instances), or a worker (``queue`` or ``app--queue``); settings are keyed ``app:group``.
Stored by `sunup.localsettings`.
"""

from __future__ import annotations

from sunup.config.diagnostics import did_you_mean
from sunup.errors import SelectionError, SunupError
from sunup.plan.model import ProjectPlan
from sunup.plan.resources import CPU_SIZES

MAX_COUNT = 256


def group_key(plan: ProjectPlan, name: str) -> str:
    """``app:group`` for a name as the Upsun CLI takes it: web, an app, a worker, app--worker."""
    apps = [a.name for a in plan.apps]
    if "--" in name:
        app_name, _, worker = name.partition("--")
        app = plan.app(app_name)
        if app is not None and app.group(worker) is not None and worker != "web":
            return f"{app_name}:{worker}"
    elif name == "web" and len(apps) == 1:
        return f"{apps[0]}:web"
    elif name in apps:
        return f"{name}:web"
    else:
        owners = [a.name for a in plan.apps if a.group(name) is not None]
        if len(owners) == 1:
            return f"{owners[0]}:{name}"
        if len(owners) > 1:
            raise SelectionError(
                f"'{name}' is a worker of several apps ({', '.join(owners)})", hint=f"write {owners[0]}--{name}"
            )
    known = ["web", *apps, *(f"{g.name}" for a in plan.apps for g in a.workers)]
    raise SelectionError(
        f"no app or worker '{name}' in the project",
        hint=did_you_mean(name, known) or f"names: {', '.join(known)}",
    )


def _pairs(text: str, option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.rpartition(":")
        if not sep or not name or not value:
            raise SunupError(
                f"{option} takes NAME:VALUE pairs separated by commas, not '{item}'", hint=f"{option} web:1,queue:0.25"
            )
        pairs.append((name, value))
    return pairs


def parse_sizes(plan: ProjectPlan, text: str) -> dict[str, float]:
    sizes: dict[str, float] = {}
    for name, value in _pairs(text, "--size"):
        cpu = number(value)
        if cpu is None or cpu not in CPU_SIZES:
            raise SunupError(f"'{value}' is not a CPU size", hint=f"sizes: {', '.join(f'{s:g}' for s in CPU_SIZES)}")
        sizes[group_key(plan, name)] = cpu
    return sizes


def parse_counts(plan: ProjectPlan, text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, value in _pairs(text, "--count"):
        count = integer(value)
        if count is None or not 1 <= count <= MAX_COUNT:
            raise SunupError(f"'{value}' is not an instance count", hint=f"a whole number from 1 to {MAX_COUNT}")
        counts[group_key(plan, name)] = count
    return counts


def number(value: object) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def integer(value: object) -> int | None:
    parsed = number(value)
    return int(parsed) if parsed is not None and parsed == int(parsed) else None
