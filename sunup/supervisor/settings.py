"""The supervisor's settings: stop grace, restart policy, log size, readiness, process limit."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from sunup.errors import SelectionError
from sunup.supervisor.backoff import RestartPolicy

#: Environment variable giving the stop grace in seconds (the `--stop-grace` option wins).
GRACE_VARIABLE = "SUNUP_STOP_GRACE"
DEFAULT_GRACE = 15.0
#: app.log is cut (on a line boundary, oldest lines first) when it reaches this size (spec §3).
DEFAULT_LOG_LIMIT = 100 * 1024 * 1024
#: `sunup up -d` counts an instance as up once it has run this long without exiting.
DEFAULT_SETTLE = 1.0
#: Environment variable giving the most processes (and threads) one instance may have; `max`
#: lifts the limit.
PIDS_VARIABLE = "SUNUP_PIDS_LIMIT"
#: Per instance, so that a fork bomb stays inside its instance: Kubernetes' usual podPidsLimit
#: is 1024-4096 and systemd's TasksMax 15 % of the kernel's pid_max (4915 of 32768).
DEFAULT_PIDS_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class SupervisorSettings:
    #: Seconds between SIGTERM and SIGKILL when stopping an instance.
    grace: float = DEFAULT_GRACE
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    log_limit: int = DEFAULT_LOG_LIMIT
    settle: float = DEFAULT_SETTLE
    #: The process-count limit of each instance (None: none).
    pids_limit: int | None = DEFAULT_PIDS_LIMIT

    @classmethod
    def from_environment(cls, grace: float | None = None) -> SupervisorSettings:
        """Settings with the grace from `grace`, else `$SUNUP_STOP_GRACE`, else 15 s, and the
        process limit from `$SUNUP_PIDS_LIMIT`, else 4096."""
        if grace is None:
            raw = os.environ.get(GRACE_VARIABLE)
            if raw:
                try:
                    grace = float(raw)
                except ValueError:
                    raise SelectionError(
                        f"{GRACE_VARIABLE}={raw!r} is not a number of seconds", hint=f"e.g. {GRACE_VARIABLE}=5"
                    ) from None
        if grace is not None and grace < 0:
            raise SelectionError(f"the stop grace must be 0 or more seconds, not {grace:g}")
        return cls(grace=DEFAULT_GRACE if grace is None else grace, pids_limit=pids_limit(os.environ))


def pids_limit(environ: Mapping[str, str]) -> int | None:
    """The process limit `$SUNUP_PIDS_LIMIT` sets (a positive count, or `max` for none)."""
    raw = environ.get(PIDS_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_PIDS_LIMIT
    if raw == "max":
        return None
    if not raw.isdigit() or int(raw) <= 0:
        raise SelectionError(
            f"{PIDS_VARIABLE}={raw!r} is not a positive number of processes",
            hint=f"e.g. {PIDS_VARIABLE}=1024, or {PIDS_VARIABLE}=max for no limit",
        )
    return int(raw)
