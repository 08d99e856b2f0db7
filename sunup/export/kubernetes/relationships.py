"""A Secret per instance group holding exactly that group's relationships (spec §5).

The pods take it with `envFrom`: PLATFORM_RELATIONSHIPS and every `<REL>_<KEY>` variable, built by
the same code as locally (`sunup.plan.relationships`), with the hosts of the cluster: a service's
Service name (or its ExternalName Service), another app's web Service.
"""

from __future__ import annotations

from typing import Any

from sunup.config.catalog import SQL_TYPES
from sunup.export.kubernetes import naming, objects
from sunup.export.kubernetes.context import ExportContext
from sunup.export.kubernetes.engines import APP_PORT, STORAGE_KIND
from sunup.plan.model import GroupPlan, ServicePlan
from sunup.plan.relationships import AccessMap, Credentials, relationships_environment
from sunup.services.secret import password_for

#: Service kinds whose endpoints are users with a password (the others have no users).
USER_KINDS = SQL_TYPES | {"rabbitmq"}


def secret_name(ctx: ExportContext, group: GroupPlan) -> str:
    return naming.dns_label(group.app, group.name, "relationships")


def password(ctx: ExportContext, service: ServicePlan, endpoint: str) -> str:
    return password_for(ctx.options.secret, service.name, endpoint)


def access_map(ctx: ExportContext) -> AccessMap:
    """Where each (service or app, endpoint) is reached from a pod, and as whom."""
    access: dict[tuple[str, str], Credentials] = {}
    for service in ctx.plan.services:
        port = ctx.service_port(service)
        if service.kind == STORAGE_KIND or port is None:
            continue
        host = ctx.service_name(service)
        for endpoint in service.endpoints:
            user = service.kind in USER_KINDS
            access[(service.name, endpoint.name)] = Credentials(
                host=host,
                port=port,
                username=endpoint.name if user else None,
                password=password(ctx, service, endpoint.name) if user else None,
                path=endpoint.path,
            )
    for app in ctx.plan.apps:
        access[(app.name, "http")] = Credentials(host=ctx.group_name(app.web), port=APP_PORT)
    return access


def group_secret(ctx: ExportContext, group: GroupPlan, access: AccessMap) -> dict[str, Any]:
    env = relationships_environment(group, ctx.plan, access)
    secret = objects.obj(
        "v1",
        "Secret",
        objects.metadata(secret_name(ctx, group), ctx.namespace, ctx.group_labels(group, "instance")),
        type="Opaque",
        stringData=dict(sorted(env.variables.items())),
    )
    # relationships_environment's own warnings speak of local servers; say it for the cluster.
    for rel in group.relationships:
        if (rel.service, rel.endpoint) in access:
            continue
        service = ctx.plan.service(rel.service)
        if service is not None and service.kind == STORAGE_KIND:
            continue
        what = f"sunup knows no port of a '{service.kind}' service" if service else "no such app or service"
        ctx.warn(f"{group.instance_name}: relationship '{rel.name}' is left out: {what}", secret)
    return secret
