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
            raise SelectionError(
                f"--worker {app_part}--{worker} names app '{app_part}', but -A says '{app}'",
                hint=f"write --worker {worker} with -A, or --worker {app_part}--{worker} alone",
            )
        app = app_part
    if app is None and not web and worker is None:
        return [group for a in plan.apps for group in a.groups]
    if app is None and worker is not None and worker != "web" and len(plan.apps) > 1:
        app = _owner(plan, worker)
    chosen = select_app(plan, app)
    if web:
        return [chosen.web]
    if worker is not None:
        group = chosen.group(worker)
        if group is None or group.is_web:
            workers = [g.name for g in chosen.workers]
            raise SelectionError(
                f"application '{chosen.name}' has no worker '{worker}'",
                hint="the web instance is not a worker: use --web"
                if worker == "web"
                else did_you_mean(worker, workers)
                or (f"workers: {', '.join(workers)}" if workers else "this application has no workers"),
            )
        return [group]
    return list(chosen.groups)


def _owner(plan: ProjectPlan, worker: str) -> str:
    """The one app of a multi-app project that has a worker named `worker`."""
    owners = [a.name for a in plan.apps if any(g.name == worker for g in a.workers)]
    if len(owners) == 1:
        return owners[0]
    if owners:
        raise SelectionError(
            f"applications {', '.join(owners)} all have a worker '{worker}'; choose one with -A",
            hint=f"--worker {owners[0]}--{worker}, or -A {owners[0]} --worker {worker}",
        )
    qualified = [f"{a.name}--{g.name}" for a in plan.apps for g in a.workers]
    raise SelectionError(
        f"no application has a worker '{worker}'",
        hint=did_you_mean(worker, [q.partition("--")[2] for q in qualified])
        or (f"workers: {', '.join(qualified)}" if qualified else "the project has no workers"),
    )
