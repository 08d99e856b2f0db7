"""Picking the isolation backend for this machine.

`SUNUP_ISOLATION` (or the `backend` argument) forces one: ``cgroup-v1``, ``cgroup-v2``, ``none``,
or ``auto`` (the default). Auto: a unified hierarchy at /sys/fs/cgroup (cgroup v2 only) → v2;
v1 controllers mounted → v1, and v2 if the hybrid layout's unified tree is all that is writable;
nothing usable → the fallback, whose warning says why and what is lost. A forced cgroup backend
that cannot work raises `IsolationError` rather than degrade silently.
"""

from __future__ import annotations

import os
from pathlib import Path

from sunup.isolation.cgroup_v1 import CgroupV1Isolation
from sunup.isolation.cgroup_v2 import CgroupV2Isolation
from sunup.isolation.cgroupfs import HostCgroups
from sunup.isolation.contract import BACKENDS, CGROUP_V1, CGROUP_V2, NONE, Isolation, IsolationError
from sunup.isolation.fallback import ProcessTreeIsolation
from sunup.isolation.ledger import Ledger, top_name

#: The environment variable that forces a backend.
ENV_VARIABLE = "SUNUP_ISOLATION"
AUTO = "auto"


def open_isolation(
    state_dir: Path,
    name: str = "sunup",
    *,
    backend: str | None = None,
    host: HostCgroups | None = None,
) -> Isolation:
    """The isolation of the project whose state lives in `state_dir`.

    `backend` defaults to `$SUNUP_ISOLATION`, then ``auto``. `host` (the cgroup mounts and this
    process's place in them) is read from /proc unless given.
    """
    choice = backend or os.environ.get(ENV_VARIABLE) or AUTO
    if choice not in (*BACKENDS, AUTO):
        raise IsolationError(
            f"unknown isolation backend {choice!r}",
            hint=f"{ENV_VARIABLE} takes {', '.join((AUTO, *BACKENDS))}",
        )
    top = top_name(state_dir, name)
    if choice == NONE:
        return ProcessTreeIsolation(top, f"{ENV_VARIABLE}={NONE}" if backend is None else "backend 'none' requested")
    host = host or HostCgroups.read()
    ledger = Ledger.of(state_dir)
    if choice == CGROUP_V1:
        return CgroupV1Isolation.open(host, top, ledger)
    if choice == CGROUP_V2:
        return CgroupV2Isolation.open(host, top, ledger)

    unified = host.v2_mount()
    has_v1 = any(m.version == 1 and any(not c.startswith("name=") for c in m.controllers) for m in host.mounts)
    attempts: list[tuple[str, type[CgroupV1Isolation] | type[CgroupV2Isolation]]] = []
    if unified is not None and not has_v1:
        attempts.append((CGROUP_V2, CgroupV2Isolation))
    elif has_v1:
        attempts.append((CGROUP_V1, CgroupV1Isolation))
        if unified is not None:
            attempts.append((CGROUP_V2, CgroupV2Isolation))
    reasons: list[str] = []
    for label, implementation in attempts:
        try:
            return implementation.open(host, top, ledger)
        except IsolationError as exc:
            reasons.append(f"{label}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
    return ProcessTreeIsolation(top, "; ".join(reasons) or "no cgroup file system is mounted")
