"""The plan as Kubernetes objects (docs/kubernetes.md; the mapping is spec `kubernetes.md`).

Pure: `export_project(plan, options)` returns plain dicts in a stable order, and the warnings of
what has no faithful mapping. Nothing here reads files, the clock or the network; serialising and
writing belong to the CLI (`sunup export kubernetes`), applying to the deploy client.

    export_project ── naming      lowercase DNS-1123 names, shortened with a hash past limits
                   ├─ workloads   a Deployment per instance group, its Secret and Service
                   ├─ crons       a CronJob per cron (H expanded as `sunup crons` shows)
                   ├─ hooks       the deploy / post_deploy Jobs
                   ├─ volumes     claims for storage mounts, emptyDir for tmp / instance
                   ├─ network     NetworkPolicies (default deny, DNS, relationships) and Ingress
                   └─ services    StatefulSet + headless Service + Secret, or external Secrets
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sunup.plan.model import ProjectPlan, frozen_map

#: The image of an app when `--image` is not given: one image per build, named by tree id.
DEFAULT_IMAGE = "sunup/{app}:{tree}"
#: Where the built app lives in the image (PLATFORM_APP_DIR); mounts are under it.
APP_DIR = "/app"
#: The port a web pod listens on (`sunup run-instance` serves `web.locations` there; the app
#: itself binds its own PORT inside the pod, as on the platform). Named ``http`` in the objects.
HTTP_PORT = 8080
#: The uid / gid the containers run as (never root; the image's files belong to root, read-only).
RUN_AS_USER = 10000
#: The container command of every instance: sunup runs the instance (``.environment``, signals,
#: restarts, logs) as PID 1's child: ``sunup run-instance --app APP --group GROUP``.
RUN_INSTANCE = ("sunup", "run-instance")


class ServicesMode(enum.Enum):
    """Where the project's services run."""

    #: A StatefulSet, a headless Service and a Secret per service, in the namespace.
    IN_CLUSTER = "in-cluster"
    #: Only Secrets pointing at databases managed elsewhere (the user fills in host and password).
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True)
class ExportOptions:
    namespace: str = "default"
    #: The image of each app: a template with ``{app}`` and ``{tree}`` (the app's tree id), or a
    #: plain name used for every app. Never ``:latest``: the tree id names the build.
    image: str = DEFAULT_IMAGE
    services: ServicesMode = ServicesMode.IN_CLUSTER
    #: The tree id each app was built from, by app name (`sunup.build.tree`); an app missing here
    #: uses its plan's PLATFORM_TREE_ID.
    tree_ids: Mapping[str, str] = field(default_factory=frozen_map)
    #: The StorageClass of the ReadWriteMany claims (storage mounts); None: the cluster's default.
    storage_class: str | None = None
    #: The project's password secret (`sunup.services.secret`); every endpoint's password is
    #: derived from it as locally. Empty: placeholder passwords, with a warning.
    secret: bytes = b""
    #: The domain `{default}` stands for in routes; None: ``example.com``, with a warning.
    domain: str | None = None
    #: The host of each service run elsewhere (``--services external``, or a type sunup does
    #: not run in the cluster), by service name; missing: ``<service>.external.invalid``.
    external_hosts: Mapping[str, str] = field(default_factory=frozen_map)


@dataclass(frozen=True, slots=True)
class Export:
    """What an export produced: the objects in apply order, and what has no faithful mapping."""

    objects: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...]


def image_name(options: ExportOptions, app: str, tree_id: str) -> str:
    """The image an app's pods run: `options.image` with ``{app}`` and ``{tree}`` filled in."""
    return options.image.replace("{app}", app).replace("{tree}", tree_id)


def export_project(plan: ProjectPlan, options: ExportOptions | None = None) -> Export:
    """Every Kubernetes object of `plan`, in a stable order, and the export's warnings."""
    from sunup.export.kubernetes.project import build_export

    return build_export(plan, options or ExportOptions())


__all__ = [
    "APP_DIR",
    "DEFAULT_IMAGE",
    "HTTP_PORT",
    "RUN_AS_USER",
    "RUN_INSTANCE",
    "Export",
    "ExportOptions",
    "ServicesMode",
    "export_project",
    "image_name",
]
