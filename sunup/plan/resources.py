"""Resources as Upsun sizes them (spec §7): CPU, RAM by container profile, instance count."""

from __future__ import annotations

from dataclasses import dataclass

#: RAM (MB) by container profile, for each CPU size the platform offers.
PROFILE_MEMORY_MB: dict[str, dict[float, int]] = {
    "HIGH_CPU": {0.1: 64, 0.25: 128, 0.5: 224, 1: 384, 2: 704, 4: 1216, 8: 2240},
    "BALANCED": {0.1: 352, 0.25: 640, 0.5: 1088, 1: 1920, 2: 2800, 4: 4800, 8: 7296},
    "HIGH_MEMORY": {0.1: 448, 0.25: 832, 0.5: 1408, 1: 2432, 2: 4032, 4: 6720, 8: 11200},
    "HIGHER_MEMORY": {0.1: 864, 0.25: 1472, 0.5: 2368, 1: 3840, 2: 6336, 4: 10496, 8: 17408},
}
CPU_SIZES = tuple(PROFILE_MEMORY_MB["HIGH_CPU"])
#: The `default` strategy of a first deploy.
DEFAULT_CPU = 0.5
DEFAULT_RUNTIME_PROFILE = "HIGH_CPU"
#: Default profiles of services (runtimes default to HIGH_CPU).
SERVICE_PROFILES = {
    "mariadb": "HIGH_MEMORY",
    "mysql": "HIGH_MEMORY",
    "oracle-mysql": "HIGH_MEMORY",
    "postgresql": "HIGH_MEMORY",
    "rabbitmq": "HIGH_MEMORY",
    "redis": "BALANCED",
    "redis-persistent": "BALANCED",
}


def memory_for(profile: str, cpu: float) -> int:
    """The RAM a profile gives at a CPU size; between sizes, the next size up."""
    table = PROFILE_MEMORY_MB.get(profile, PROFILE_MEMORY_MB[DEFAULT_RUNTIME_PROFILE])
    for size in CPU_SIZES:
        if cpu <= size:
            return table[size]
    return table[CPU_SIZES[-1]]


@dataclass(frozen=True, slots=True)
class ResourceSetting:
    """What `sunup resources:set` stored for a group; None keeps the inherited value."""

    cpu: float | None = None
    memory_mb: int | None = None
    count: int | None = None
