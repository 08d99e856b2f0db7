"""A CronJob per cron of an app (spec §3 "Crons", kubernetes.md).

The schedule is the cron's spec with `H` expanded by the same hash as `sunup crons` fires it
(`sunup.config.crons.expand_hashes`): Kubernetes rejects `H`. `timeZone` is the app's timezone,
`concurrencyPolicy: Forbid` keeps one run of a cron at a time, `activeDeadlineSeconds` is its
`timeout`. The container runs ``sunup run-instance --app APP --cron NAME``: the cron in web
instance 0's environment (the build's toolchain, `.environment`), cancelled at its `timeout`, and
on SIGTERM its `commands.stop` (no preStop hook, which would run it twice), SIGKILL after
`shutdown_timeout` (the pod's grace). What Kubernetes cannot do is warned: one cron at a time
*per app*.
"""

from __future__ import annotations

import re
from typing import Any

from sunup.config.crons import expand_hashes
from sunup.export.kubernetes import naming, objects
from sunup.export.kubernetes.context import ExportContext
from sunup.export.kubernetes.volumes import pod_volumes
from sunup.export.kubernetes.workloads import container, pod_spec, run_once
from sunup.plan.model import AppPlan, CronPlan

#: How late a missed run may still start (the platform's shortest interval is 5 minutes).
STARTING_DEADLINE_SECONDS = 300
#: Cron syntax croniter reads but Kubernetes' parser does not: L, W, # (names and H removed first).
_UNSUPPORTED = re.compile(r"[lw#]")
_NAMES = re.compile(r"jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun|h")
CRON_LABEL = "sunup.dev/cron"


def cronjob_name(app: AppPlan, cron: CronPlan) -> str:
    return naming.dns_label(app.name, "cron", cron.name, limit=naming.CRONJOB_LIMIT)


def cronjobs(ctx: ExportContext, app: AppPlan) -> list[dict[str, Any]]:
    made = [job for cron in app.crons if (job := _cronjob(ctx, app, cron)) is not None]
    if len(made) > 1:
        ctx.warn(
            f"{app.name}: on the platform one cron at a time runs per app (a cron due while another runs "
            "waits); each CronJob only keeps its own runs apart (concurrencyPolicy: Forbid)",
            *made,
        )
    return made


def _cronjob(ctx: ExportContext, app: AppPlan, cron: CronPlan) -> dict[str, Any] | None:
    name = cronjob_name(app, cron)
    if _unsupported(cron.spec):
        ctx.warn(
            f"{app.name}: cron '{cron.name}' ('{cron.spec}') uses L, W or #, which Kubernetes cannot "
            "schedule: no CronJob is made for it"
        )
        return None
    group = app.web
    labels = ctx.group_labels(group, "cron")
    target = objects.obj("batch/v1", "CronJob", objects.metadata(name, ctx.namespace, {**labels}))
    volumes = pod_volumes(ctx, group, role="cron")
    main = container(
        ctx, app, group, name="cron", command=run_once(app, "--cron", cron.name), volumes=volumes, target=target
    )
    spec = pod_spec(ctx, group, volumes=volumes, restart="Never", grace=cron.shutdown_timeout)
    spec["containers"] = [main]
    pod_labels = {**labels, CRON_LABEL: naming.label_value(cron.name), **ctx.reach_labels(group)}
    target["spec"] = {
        "schedule": expand_hashes(cron.spec, cron.name),
        "timeZone": app.timezone,
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "suspend": False,
        "jobTemplate": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "backoffLimit": 0,
                "activeDeadlineSeconds": cron.timeout,
                "template": {"metadata": {"labels": pod_labels}, "spec": spec},
            },
        },
    }
    return target


def _unsupported(spec: str) -> bool:
    return bool(_UNSUPPORTED.search(_NAMES.sub("", spec.lower())))
