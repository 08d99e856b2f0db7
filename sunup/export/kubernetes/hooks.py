"""The deploy and post_deploy hooks as Jobs (spec §3 "Build and deploy sequence").

Named by the tree id of the build (``app-deploy-<tree>``): the deploy hook runs once per build,
not per replica or restart (so not as initContainers), under sunup (``sunup run-instance --app APP
--hook deploy``: web instance 0's environment, the build's toolchain, `.environment`).
`sunup deploy --to kubernetes` orders them (deploy after the instances start and before traffic,
post_deploy after the rollout); a plain `kubectl apply` starts both at once, which the warnings
say.
"""

from __future__ import annotations

from typing import Any

from sunup.export.kubernetes import naming, objects
from sunup.export.kubernetes.context import ExportContext
from sunup.export.kubernetes.volumes import pod_volumes
from sunup.export.kubernetes.workloads import container, pod_spec, run_once
from sunup.plan.model import AppPlan

HOOK_LABEL = "sunup.dev/hook"
#: Characters of the tree id in a Job's name.
TREE_CHARS = 12


def hook_jobs(ctx: ExportContext, app: AppPlan) -> list[dict[str, Any]]:
    made = []
    for hook, script in (("deploy", app.hooks.deploy), ("post-deploy", app.hooks.post_deploy)):
        if script:
            made.append(_job(ctx, app, hook))
    if app.hooks.deploy:
        ctx.warn(
            f"{app.name}: the deploy hook runs before the new instances serve on the platform; Kubernetes "
            "has no such step: `sunup deploy --to kubernetes` runs the deploy Job, then lets traffic in, "
            "while `kubectl apply` runs it at the same time as the rollout",
            made[0],
        )
    return made


def job_name(ctx: ExportContext, app: AppPlan, hook: str) -> str:
    return naming.dns_label(app.name, hook, ctx.tree_id(app)[:TREE_CHARS])


def _job(ctx: ExportContext, app: AppPlan, hook: str) -> dict[str, Any]:
    group = app.web
    labels = {**ctx.group_labels(group, "hook"), HOOK_LABEL: hook}
    target = objects.obj("batch/v1", "Job", objects.metadata(job_name(ctx, app, hook), ctx.namespace, labels))
    volumes = pod_volumes(ctx, group, role="hook")
    main = container(
        ctx,
        app,
        group,
        name=hook,
        command=run_once(app, "--hook", hook.replace("-", "_")),
        volumes=volumes,
        target=target,
    )
    spec = pod_spec(ctx, group, volumes=volumes, restart="Never")
    spec["containers"] = [main]
    target["spec"] = {
        # A failing hook is reported, the deployment goes on: it is never retried.
        "backoffLimit": 0,
        "template": {"metadata": {"labels": {**labels, **ctx.reach_labels(group)}}, "spec": spec},
    }
    return target
