"""The project's services: in the cluster, or reached elsewhere (spec §5, kubernetes.md).

In the cluster (`--services in-cluster`, the types sunup runs locally): a StatefulSet with a
claim for its data, a headless Service whose name is the relationships' host, and a Secret with
the server's root password and the SQL that gives each endpoint its own user with exactly its
privileges (the same statements as locally, `sunup.services.grants`), run by the image's
``/docker-entrypoint-initdb.d`` on the first start.

Elsewhere (`--services external`, and every other type): an ExternalName Service of the same
name that the user points at the managed server, and a Secret with the users and passwords the
group Secrets use, to create there.
"""

from __future__ import annotations

from typing import Any

from sunup.config.catalog import SQL_TYPES
from sunup.export.kubernetes import naming, objects
from sunup.export.kubernetes.context import ExportContext
from sunup.export.kubernetes.engines import ENGINES, STORAGE_KIND, Engine
from sunup.export.kubernetes.relationships import USER_KINDS, password
from sunup.plan.model import ServicePlan
from sunup.plan.resources import DEFAULT_CPU, SERVICE_PROFILES, memory_for
from sunup.services import grants
from sunup.services.secret import ADMIN_ENDPOINT

DATA_SIZE = "5Gi"
INIT_DIR = "/docker-entrypoint-initdb.d"
INIT_FILE = "sunup.sql"


def secret_name(service: ServicePlan) -> str:
    return naming.dns_label(service.name, "service")


def service_objects(ctx: ExportContext, service: ServicePlan) -> list[dict[str, Any]]:
    """Secret, Service and (in the cluster) StatefulSet of one service; nothing for storage."""
    if service.kind == STORAGE_KIND:
        return []
    if ctx.in_cluster(service):
        engine = ENGINES[service.kind]
        return [_server_secret(ctx, service), _headless(ctx, service, engine), _statefulset(ctx, service, engine)]
    return _external(ctx, service)


# -- in the cluster ---------------------------------------------------------------------------


def _server_secret(ctx: ExportContext, service: ServicePlan) -> dict[str, Any]:
    data: dict[str, str] = {}
    passwords = {e.name: password(ctx, service, e.name) for e in service.endpoints}
    if service.kind in SQL_TYPES:
        data["root-password"] = password(ctx, service, ADMIN_ENDPOINT)
        data[INIT_FILE] = _init_sql(service, passwords)
    elif service.kind == "rabbitmq":
        data["password"] = passwords[service.endpoints[0].name]
    return objects.obj(
        "v1",
        "Secret",
        objects.metadata(secret_name(service), ctx.namespace, ctx.service_labels(service)),
        type="Opaque",
        stringData=data,
    )


def _init_sql(service: ServicePlan, passwords: dict[str, str]) -> str:
    if service.kind == "postgresql":
        script = grants.psql_script(grants.postgres_server_statements(service, passwords))
        for database in service.schemas:
            script += f"\\connect {grants.postgres_name(database)}\n"
            script += grants.psql_script(grants.postgres_database_statements(service, database))
        return script
    return "".join(f"{statement};\n" for statement in grants.mariadb_statements(service, passwords))


def _headless(ctx: ExportContext, service: ServicePlan, engine: Engine) -> dict[str, Any]:
    labels = ctx.service_labels(service)
    return objects.obj(
        "v1",
        "Service",
        objects.metadata(ctx.service_name(service), ctx.namespace, labels),
        spec={
            "clusterIP": "None",
            "selector": dict(labels),
            "ports": [{"name": "server", "port": engine.port, "targetPort": "server", "protocol": "TCP"}],
        },
    )


def _statefulset(ctx: ExportContext, service: ServicePlan, engine: Engine) -> dict[str, Any]:
    labels = ctx.service_labels(service)
    name = ctx.service_name(service)
    target = objects.obj("apps/v1", "StatefulSet", objects.metadata(name, ctx.namespace, labels))
    env, args = _settings(ctx, service, target)
    persistent = service.kind != "redis"
    mounts: list[dict[str, Any]] = [{"name": "data", "mountPath": engine.data_path}]
    volumes: list[dict[str, Any]] = [] if persistent else [{"name": "data", "emptyDir": {}}]
    if service.kind in SQL_TYPES:
        mounts.append({"name": "init", "mountPath": INIT_DIR, "readOnly": True})
        volumes.append(
            {
                "name": "init",
                "secret": {"secretName": secret_name(service), "items": [{"key": INIT_FILE, "path": INIT_FILE}]},
            }
        )
    memory = memory_for(SERVICE_PROFILES.get(service.kind, "HIGH_MEMORY"), DEFAULT_CPU)
    server: dict[str, Any] = {
        "name": "server",
        "image": f"{engine.image}:{service.version or 'latest'}",
        "imagePullPolicy": "IfNotPresent",
        "env": env,
        "ports": [{"name": "server", "containerPort": engine.port, "protocol": "TCP"}],
        "resources": objects.resources(DEFAULT_CPU, memory),
        "securityContext": objects.container_security(read_only=False),
        "readinessProbe": {"tcpSocket": {"port": "server"}, "periodSeconds": 5, "failureThreshold": 6},
        "volumeMounts": mounts,
    }
    if args:
        server["args"] = args
    spec: dict[str, Any] = {
        "serviceName": name,
        "replicas": 1,
        "selector": {"matchLabels": dict(labels)},
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "enableServiceLinks": False,
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 30,
                "securityContext": objects.pod_security(engine.uid),
                "containers": [server],
                "volumes": volumes,
            },
        },
    }
    if persistent:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": DATA_SIZE}}},
            }
        ]
    target["spec"] = spec
    ctx.warn(
        f"service '{service.name}' ({service.type}) runs the image {server['image']}: the version is the one "
        "the configuration names, the configuration's other settings are not all applied",
        target,
    )
    return target


def _settings(
    ctx: ExportContext, service: ServicePlan, target: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The image's environment and arguments for the service's configuration."""

    def secret_ref(name: str, key: str) -> dict[str, Any]:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name(service), "key": key}}}

    kind = service.kind
    if kind in ("mariadb", "mysql"):
        return [secret_ref("MARIADB_ROOT_PASSWORD", "root-password")], []
    if kind == "oracle-mysql":
        return [secret_ref("MYSQL_ROOT_PASSWORD", "root-password")], []
    if kind == "postgresql":
        return [
            secret_ref("POSTGRES_PASSWORD", "root-password"),
            {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
        ], []
    if kind == "rabbitmq":
        if len(service.schemas) > 1:
            ctx.warn(
                f"service '{service.name}': only its first vhost ({service.schemas[0]}) is made; "
                "make the others with rabbitmqctl",
                target,
            )
        return [
            {"name": "RABBITMQ_DEFAULT_USER", "value": service.endpoints[0].name},
            secret_ref("RABBITMQ_DEFAULT_PASS", "password"),
            {"name": "RABBITMQ_DEFAULT_VHOST", "value": service.schemas[0] if service.schemas else "/"},
        ], []
    args = ["redis-server", "--appendonly", "yes" if kind == "redis-persistent" else "no"]
    policy = service.configuration.get("maxmemory_policy")
    if isinstance(policy, str):
        args += ["--maxmemory-policy", policy]
    return [], args


# -- elsewhere --------------------------------------------------------------------------------


def _external(ctx: ExportContext, service: ServicePlan) -> list[dict[str, Any]]:
    host = ctx.options.external_hosts.get(service.name) or f"{service.name}.external.invalid"
    made: list[dict[str, Any]] = []
    if service.kind in USER_KINDS:
        made.append(
            objects.obj(
                "v1",
                "Secret",
                objects.metadata(secret_name(service), ctx.namespace, ctx.service_labels(service)),
                type="Opaque",
                stringData={
                    key: value
                    for e in service.endpoints
                    for key, value in (
                        (f"{e.name}.username", e.name),
                        (f"{e.name}.password", password(ctx, service, e.name)),
                    )
                },
            )
        )
    external = objects.obj(
        "v1",
        "Service",
        objects.metadata(ctx.service_name(service), ctx.namespace, ctx.service_labels(service)),
        spec={"type": "ExternalName", "externalName": host},
    )
    made.append(external)
    why = "" if ctx.options.services.value == "external" else f" (sunup runs no '{service.kind}' in a cluster)"
    users = (
        f"; create its users with the passwords of Secret {secret_name(service)}" if service.kind in USER_KINDS else ""
    )
    ctx.warn(
        f"service '{service.name}' ({service.type}) runs outside the cluster{why}: its Service points at {host}{users}",
        *made,
    )
    return made
