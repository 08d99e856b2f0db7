"""A Deployment per instance group, and a Service for web (kubernetes.md, spec §2, §3, §6, §7).

Every pod: the app's image (one per build, named by tree id), the instance run under sunup itself
(`sunup run-instance`: `.environment`, SIGTERM then SIGKILL of the whole tree after 15 s,
restarts, the platform's logs), a read-only root file system with volumes for `/tmp`, `/run` and
the mounts, no privileges, exactly the group's relationships (`envFrom` its Secret) and no
`<SVC>_PORT` variables of other Services (`enableServiceLinks: false`).
"""

from __future__ import annotations

from typing import Any

from sunup.export.kubernetes import APP_DIR, HTTP_PORT, RUN_INSTANCE, naming, objects
from sunup.export.kubernetes.context import ExportContext
from sunup.export.kubernetes.engines import APP_PORT
from sunup.export.kubernetes.relationships import secret_name
from sunup.export.kubernetes.volumes import PodVolumes, pod_volumes
from sunup.plan.model import AppPlan, GroupPlan

#: SIGTERM, then SIGKILL after this (spec §3; Kubernetes' default is 30).
GRACE_SECONDS = 15
#: The container's name: the supervised service is literally named ``app`` on the platform.
CONTAINER = "app"
APPLICATION_KEY = "PLATFORM_APPLICATION"


def application_name(app: AppPlan) -> str:
    return naming.dns_label(app.name, "application")


def application_config(ctx: ExportContext, app: AppPlan) -> dict[str, Any]:
    """PLATFORM_APPLICATION (the app's configuration, the same in every group) once per app."""
    return objects.obj(
        "v1",
        "ConfigMap",
        objects.metadata(application_name(app), ctx.namespace, {objects.APP_LABEL: naming.label_value(app.name)}),
        data={APPLICATION_KEY: app.web.environment.get(APPLICATION_KEY, "")},
    )


def run_once(app: AppPlan, *what: str) -> list[str]:
    """The command of a hook's or a cron's container: `sunup run-instance --app APP --hook HOOK`
    (or ``--cron NAME``) runs it once in web instance 0's environment, the build's toolchain first
    on PATH and `.environment` sourced, and stops it as sunup does (`sunup.container.oneshot`)."""
    return [*RUN_INSTANCE, "--app", app.name, *what]


def environment(ctx: ExportContext, app: AppPlan, group: GroupPlan, target: dict[str, Any]) -> list[dict[str, Any]]:
    """The static environment of the plan, with the cluster's tree id, app folder and pod name."""
    values = dict(group.environment)
    values["PLATFORM_TREE_ID"] = ctx.tree_id(app)
    values["PLATFORM_APP_DIR"] = APP_DIR
    env: list[dict[str, Any]] = []
    for name, value in values.items():
        if name == APPLICATION_KEY:  # the whole app's configuration: one ConfigMap per app
            ref = {"name": application_name(app), "key": APPLICATION_KEY}
            env.append({"name": name, "valueFrom": {"configMapKeyRef": ref}})
            continue
        if not naming.env_name_ok(name):
            ctx.warn(
                f"{group.instance_name}: the variable '{name}' is not a valid Kubernetes variable name: left out",
                target,
            )
            continue
        env.append({"name": name, "value": value})
    env.append({"name": "SUNUP_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
    return env


def container(
    ctx: ExportContext,
    app: AppPlan,
    group: GroupPlan,
    *,
    name: str,
    command: list[str],
    volumes: PodVolumes,
    target: dict[str, Any],
) -> dict[str, Any]:
    """One container of a pod of `group`: image, command, environment, resources, mounts."""
    return {
        "name": name,
        "image": ctx.image(app),
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "workingDir": APP_DIR,
        "env": environment(ctx, app, group, target),
        "envFrom": [{"secretRef": {"name": secret_name(ctx, group)}}],
        "resources": objects.resources(group.resources.cpu, group.resources.memory_mb),
        "securityContext": objects.container_security(),
        "volumeMounts": volumes.mounts,
    }


def pod_spec(
    ctx: ExportContext, group: GroupPlan, *, volumes: PodVolumes, restart: str, grace: int = GRACE_SECONDS
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": restart,
        "terminationGracePeriodSeconds": grace,
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "securityContext": objects.pod_security(),
        "volumes": volumes.volumes,
    }
    if group.additional_hosts:
        spec["hostAliases"] = [{"ip": ip, "hostnames": [host]} for host, ip in sorted(group.additional_hosts.items())]
    return spec


def deployment(ctx: ExportContext, app: AppPlan, group: GroupPlan) -> dict[str, Any]:
    labels = ctx.group_labels(group, "instance")
    target = objects.obj("apps/v1", "Deployment", objects.metadata(ctx.group_name(group), ctx.namespace, labels))
    volumes = pod_volumes(ctx, group, role="instance")
    main = container(
        ctx,
        app,
        group,
        name=CONTAINER,
        command=[*RUN_INSTANCE, "--app", app.name, "--group", group.name],
        volumes=volumes,
        target=target,
    )
    if group.is_web:
        main["ports"] = [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}]
        main["readinessProbe"] = {"tcpSocket": {"port": "http"}, "periodSeconds": 5, "failureThreshold": 3}
    # pre_start is no initContainer: `sunup run-instance` runs it before start, as locally.
    spec = pod_spec(ctx, group, volumes=volumes, restart="Always")
    spec["containers"] = [main]
    target["spec"] = {
        "replicas": group.resources.count,
        "revisionHistoryLimit": 3,
        # The platform stops the old instances before it starts the new ones: never two copies.
        "strategy": {"type": "Recreate"},
        "selector": {"matchLabels": dict(labels)},
        "template": {"metadata": {"labels": {**labels, **ctx.reach_labels(group)}}, "spec": spec},
    }
    return target


def web_service(ctx: ExportContext, group: GroupPlan) -> dict[str, Any]:
    labels = ctx.group_labels(group, "instance")
    return objects.obj(
        "v1",
        "Service",
        objects.metadata(ctx.group_name(group), ctx.namespace, labels),
        spec={
            "type": "ClusterIP",
            "selector": dict(labels),
            "ports": [{"name": "http", "port": APP_PORT, "targetPort": "http", "protocol": "TCP"}],
        },
    )
