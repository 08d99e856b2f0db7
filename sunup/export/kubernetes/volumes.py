"""Mounts as volumes (spec §4, kubernetes.md): claims for storage, emptyDir for tmp and instance.

| scope | volume |
|---|---|
| storage (a group's) | a ReadWriteMany claim per group, each mount a `subPath` of it |
| storage with `service:`, `source: service` | one ReadWriteMany claim per sharing key |
| tmp | an `emptyDir` of at most 8Gi (exceeding it evicts the pod) |
| instance | an `emptyDir`: lost at each rollout (warned) |

Besides the mounts every pod gets `/tmp` and `/run` (the root file system is read-only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sunup.export.kubernetes import APP_DIR, naming, objects
from sunup.export.kubernetes.context import ExportContext
from sunup.plan.model import AppPlan, GroupPlan, MountPlan, MountScope

TMP_LIMIT = "8Gi"
RUN_LIMIT = "64Mi"
#: The size of each claim: the plan has no disk sizes (the platform sets them per environment).
CLAIM_SIZE = "5Gi"
PERSISTENT = (MountScope.GROUP, MountScope.SERVICE)


@dataclass(frozen=True, slots=True)
class PodVolumes:
    volumes: list[dict[str, Any]]
    mounts: list[dict[str, Any]]


def claim_name(mount: MountPlan) -> str:
    """``app/shop/web/storage`` → ``shop-web-storage``, ``service/files`` → ``files-storage``."""
    kind, _, rest = mount.volume.partition("/")
    return naming.dns_label(*rest.split("/")) if kind == "app" else naming.dns_label(rest, "storage")


def claims(ctx: ExportContext, app: AppPlan, seen: set[str]) -> list[dict[str, Any]]:
    """The ReadWriteMany claims of the app's storage mounts not already in `seen`."""
    made: list[dict[str, Any]] = []
    for group in app.groups:
        for mount in group.mounts:
            if mount.scope not in PERSISTENT or claim_name(mount) in seen:
                continue
            seen.add(claim_name(mount))
            spec: dict[str, Any] = {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": CLAIM_SIZE}},
            }
            if ctx.options.storage_class:
                spec["storageClassName"] = ctx.options.storage_class
            labels = {objects.APP_LABEL: naming.label_value(app.name)}
            claim = objects.obj(
                "v1",
                "PersistentVolumeClaim",
                objects.metadata(claim_name(mount), ctx.namespace, labels),
                spec=spec,
            )
            ctx.warn(
                "storage mounts are ReadWriteMany claims: the cluster needs a StorageClass that offers "
                "ReadWriteMany (NFS, CephFS, ...); local-path and most block storage reject it"
                + ("" if ctx.options.storage_class else " (none was named: the cluster's default class is used)"),
                claim,
            )
            made.append(claim)
    return made


def pod_volumes(ctx: ExportContext, group: GroupPlan, *, role: str) -> PodVolumes:
    """The volumes and mounts of a pod of `group`; `role` says which pod (instance, cron, hook)."""
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": TMP_LIMIT}},
        {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": RUN_LIMIT}},
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "run", "mountPath": "/run"},
    ]
    names: dict[str, str] = {}
    for mount in group.mounts:
        name = names.get(mount.volume)
        if name is None:
            name = claim_name(mount)
            names[mount.volume] = name
            volumes.append(_volume(ctx, group, mount, name, role))
        entry: dict[str, Any] = {"name": name, "mountPath": f"{APP_DIR}/{mount.path}"}
        if mount.source_path:
            entry["subPath"] = mount.source_path
        mounts.append(entry)
    return PodVolumes(volumes, mounts)


def _volume(ctx: ExportContext, group: GroupPlan, mount: MountPlan, name: str, role: str) -> dict[str, Any]:
    if mount.scope in PERSISTENT:
        return {"name": name, "persistentVolumeClaim": {"claimName": claim_name(mount)}}
    if mount.scope is MountScope.INSTANCE:
        ctx.warn(
            f"{group.instance_name}: the instance mount '{mount.path}' is an emptyDir: its files are lost at "
            "each rollout and pod restart (on the platform they persist per instance)"
        )
    if role != "instance":
        ctx.warn(
            f"{group.instance_name}: crons and hooks run in pods of their own: they do not see the "
            f"{mount.source} mount '{mount.path}' of the web instances (they get an empty one)"
        )
    if mount.scope is MountScope.TMP:
        return {"name": name, "emptyDir": {"sizeLimit": TMP_LIMIT}}
    return {"name": name, "emptyDir": {}}
