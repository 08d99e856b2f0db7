"""Picking apps and instance groups the way the Upsun CLI does (`-A app --worker queue`).

Worker names resolve as `upsun ssh` resolves them: `queue`, or `app--queue` which names the app
too. With one app in the project, `-A` is optional.
"""

from __future__ import annotations

from sunup.config.diagnostics import did_you_mean
from sunup.errors import SelectionError
from sunup.plan.model import AppPlan, GroupPlan, ProjectPlan


def select_app(plan: ProjectPlan, app: str | None) -> AppPlan:
    """The app named `app`, or the only app when `app` is None."""
    names = [a.name for a in plan.apps]
    if app is None:
        if len(plan.apps) == 1:
            return plan.apps[0]
        raise SelectionError(
            f"the project has {len(names)} applications; choose one with -A",
            hint=f"applications: {', '.join(names)}",
        )
    found = plan.app(app)
    if found is None:
        raise SelectionError(
            f"no application '{app}' in the project",
            hint=did_you_mean(app, names) or f"applications: {', '.join(names)}",
        )
    return found


def select_groups(
    plan: ProjectPlan, app: str | None = None, *, web: bool = False, worker: str | None = None
) -> list[GroupPlan]:
    """The groups a command acts on: every group of the app(s), or just web, or one worker."""
    if worker is not None and "--" in worker:
        app_part, _, worker = worker.partition("--")
        if app is not None and app != app_part:
            raise SelectionError(f"--worker {app_part}--{worker} names app '{app_part}', but -A says '{app}'")
        app = app_part
    if app is None and not web and worker is None:
        return [group for a in plan.apps for group in a.groups]
    if app is None and worker is not None and len(plan.apps) > 1:
        owners = [a for a in plan.apps if a.group(worker) is not None and worker != "web"]
        if len(owners) == 1:
            app = owners[0].name
    chosen = select_app(plan, app)
    if web:
        return [chosen.web]
    if worker is not None:
        group = chosen.group(worker)
        if group is None or group.is_web:
            workers = [g.name for g in chosen.workers]
            raise SelectionError(
                f"application '{chosen.name}' has no worker '{worker}'",
                hint=did_you_mean(worker, workers)
                or (f"workers: {', '.join(workers)}" if workers else "this application has no workers"),
            )
        return [group]
    return list(chosen.groups)
