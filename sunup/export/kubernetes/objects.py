"""Building blocks of the objects: metadata, labels, quantities, the security context.

Every object is a plain dict (JSON types only), built as data and serialised by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sunup.export.kubernetes import RUN_AS_USER

MANAGED_BY = "app.kubernetes.io/managed-by"
APP_LABEL = "sunup.dev/app"
GROUP_LABEL = "sunup.dev/group"
SERVICE_LABEL = "sunup.dev/service"
#: What a pod is for: ``instance``, ``cron``, ``hook`` or ``service``.
ROLE_LABEL = "sunup.dev/role"
#: ``reach.sunup.dev/<service>: "true"`` on the pods of every group with a relationship to it.
REACH_PREFIX = "reach.sunup.dev/"
WARNING_ANNOTATION = "sunup.dev/warning"
COMMON_LABELS = {MANAGED_BY: "sunup"}


def metadata(
    name: str,
    namespace: str,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {**COMMON_LABELS, **(labels or {})}}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def obj(api_version: str, kind: str, meta: dict[str, Any], **body: Any) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}


def cpu_quantity(cpu: float) -> str:
    """0.5 → ``500m``, 2 → ``2``."""
    millis = round(cpu * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def memory_quantity(megabytes: int) -> str:
    """The platform's MB as mebibytes: 224 → ``224Mi``."""
    return f"{megabytes}Mi"


def resources(cpu: float, memory_mb: int) -> dict[str, Any]:
    """Requests equal to limits: the platform gives each instance exactly its size."""
    quantities = {"cpu": cpu_quantity(cpu), "memory": memory_quantity(memory_mb)}
    return {"requests": dict(quantities), "limits": dict(quantities)}


def pod_security(uid: int = RUN_AS_USER) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security(read_only: bool = True) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only,
        "capabilities": {"drop": ["ALL"]},
    }


def annotate_warning(target: dict[str, Any], warning: str) -> None:
    """Add `warning` to the object's ``sunup.dev/warning`` annotation (one line each)."""
    annotations = target["metadata"].setdefault("annotations", {})
    previous = annotations.get(WARNING_ANNOTATION)
    annotations[WARNING_ANNOTATION] = f"{previous}\n{warning}" if previous else warning
