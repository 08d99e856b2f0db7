"""The whole export: every builder in turn, the objects in the order they are applied.

    NetworkPolicy → ConfigMap → Secret → PersistentVolumeClaim → Service → StatefulSet → Deployment
    → CronJob → Job → Ingress

Within a kind: services first, then each app and its groups in the plan's order. The same plan
and options always give the same objects in the same order (golden files).
"""

from __future__ import annotations

from typing import Any

from sunup.export.kubernetes import (
    Export,
    ExportOptions,
    crons,
    hooks,
    ingress,
    policies,
    relationships,
    services,
    volumes,
    workloads,
)
from sunup.export.kubernetes.context import ExportContext
from sunup.plan.model import ProjectPlan

KIND_ORDER = (
    "NetworkPolicy",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "Service",
    "StatefulSet",
    "Deployment",
    "CronJob",
    "Job",
    "Ingress",
)


def build_export(plan: ProjectPlan, options: ExportOptions) -> Export:
    ctx = ExportContext(plan, options)
    if not options.secret:
        ctx.warn("no project secret was given: the services' passwords are derived from an empty one (guessable)")
    made: list[dict[str, Any]] = []
    for service in plan.services:
        made.extend(services.service_objects(ctx, service))
    access = relationships.access_map(ctx)
    claims_seen: set[str] = set()
    for app in plan.apps:
        made.append(workloads.application_config(ctx, app))
        made.extend(volumes.claims(ctx, app, claims_seen))
        for group in app.groups:
            made.append(relationships.group_secret(ctx, group, access))
            made.append(workloads.deployment(ctx, app, group))
            if group.is_web:
                made.append(workloads.web_service(ctx, group))
        made.extend(crons.cronjobs(ctx, app))
        made.extend(hooks.hook_jobs(ctx, app))
    made.extend(policies.policies(ctx))
    made.extend(ingress.ingresses(ctx))
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    ordered = sorted(enumerate(made), key=lambda pair: (rank[pair[1]["kind"]], pair[0]))
    return ctx.result([item for _, item in ordered])
