"""One deployment of a project, in the platform's order (spec §3):

    build (once per tree; reused when unchanged)        `build()`, before anything stops
    old builds pruned (the last used and the deployed kept)
    ... the supervisor stops old instances, starts services and every instance ...
    deploy hook on web instance 0 (only for a new tree) `after_start()`
    post_deploy hook on web instance 0 (every deploy)
    crons on web instance 0                              until `close()`

The supervisor asks this object where each app's code is (`app_dirs`) and what PATH its
toolchain needs (`environment`). A deploy whose tree is the one already deployed is a redeploy:
no deploy hook, post_deploy only. A failing hook is reported and the deployment goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path

from sunup.atomicfile import write_atomically
from sunup.build.builder import BuildResult, build_app, prune_builds
from sunup.deploy.crons import CronScheduler
from sunup.deploy.hooks import run_hook
from sunup.deploy.namespace import Enter
from sunup.isolation import Isolation
from sunup.plan.model import GroupPlan, ProjectPlan

#: Which tree each app last deployed: decides whether the deploy hook runs.
DEPLOYED_FILE = "deployed.json"

Say = Callable[[str], None]


def deployments_for(project_root: Path, state_root: Path) -> Callable[[ProjectPlan, Say], Deployment]:
    """What makes the deployment of each plan a running supervisor deploys."""

    def make(plan: ProjectPlan, say: Say) -> Deployment:
        return Deployment(plan, project_root, state_root, say)

    return make


class Deployment:
    def __init__(self, plan: ProjectPlan, project_root: Path, state_root: Path, say: Say) -> None:
        self.plan = plan
        self.project_root = project_root
        self.state_root = state_root
        self.say = say
        #: Set by the supervisor: each app's build runs in a group of its own (`<app>.build`), so
        #: that what a build hook left running when the supervisor was killed is cleared by the
        #: next `sunup up`, and what it leaves after it ends is killed at once.
        self.isolation: Isolation | None = None
        self.builds: dict[str, BuildResult] = {}
        self.crons: dict[str, CronScheduler] = {}

    # -- before the instances ---------------------------------------------------------------

    async def build(self) -> None:
        """Build every app (or reuse its build); raises BuildFailure, leaving what runs untouched."""
        for app in self.plan.apps:
            variables = {k: dict(v) for k, v in app.web.variables.items()}
            project = app.web.environment.get("PLATFORM_PROJECT", "")
            group = self.isolation.prepare(f"{app.name}.build") if self.isolation is not None else None
            try:
                self.builds[app.name] = await asyncio.to_thread(
                    build_app,
                    app,
                    project_root=self.project_root,
                    builds_dir=self.state_root / "builds" / app.name,
                    log_path=self.log_dir(app.name) / "build.log",
                    variables=variables,
                    project=project,
                    progress=self._progress(app.name),
                    join=group.join_argv if group is not None else list,
                )
            finally:
                if group is not None:
                    group.remove()
        await self.prune()

    async def prune(self) -> None:
        """Remove each app's old builds but the last used ones, the new one and the deployed one,
        saying how much that freed."""
        deployed = self._deployed()
        for app in self.plan.apps:
            build = self.builds.get(app.name)
            keep = {build.tree_id} if build is not None else set()
            if deployed.get(app.name):
                keep.add(deployed[app.name])
            pruned = await asyncio.to_thread(prune_builds, self.state_root / "builds" / app.name, keep)
            if pruned.builds:
                self._progress(app.name)(pruned.describe())

    def _progress(self, app: str) -> Callable[[str], None]:
        prefix = f"{app} build: " if len(self.plan.apps) > 1 else "build: "
        return lambda line: self.say(prefix + line.strip())

    def trees(self) -> dict[str, str]:
        """The tree id each app was built from (PLATFORM_TREE_ID)."""
        return {name: build.tree_id for name, build in self.builds.items()}

    def log_dir(self, app: str) -> Path:
        return self.state_root / "logs" / app

    def app_dirs(self) -> dict[str, Path]:
        """Where each app's built code is (PLATFORM_APP_DIR)."""
        return {name: build.app_dir for name, build in self.builds.items()}

    def environment(self, group: GroupPlan) -> dict[str, str]:
        """What the app's toolchain adds to an instance: PATH entries first, its variables."""
        build = self.builds.get(group.app)
        if build is None:
            return {}
        extra = dict(build.toolchain.environment)
        extra["PLATFORM_TREE_ID"] = build.tree_id
        if build.toolchain.path:
            extra["PATH"] = ":".join(build.toolchain.path)  # prepended by the launcher
        return extra

    # -- after the instances ----------------------------------------------------------------

    async def after_start(
        self,
        web_environment: Mapping[str, Mapping[str, str]],
        web_cwd: Mapping[str, Path],
        web_enter: Mapping[str, Enter] | None = None,
    ) -> tuple[str, ...]:
        """Hooks, then crons, on each app's web instance 0 (its environment, folder and namespace).

        Returns the hooks that failed, each as ``<app>: the <hook> hook failed ...`` (the
        deployment went on: crons started all the same)."""
        deployed = self._deployed()
        failed: list[str] = []
        for app in self.plan.apps:
            env = web_environment.get(app.name)
            cwd = web_cwd.get(app.name)
            enter = (web_enter or {}).get(app.name)
            if env is None or cwd is None:
                continue
            log_dir = self.log_dir(app.name) / "web.0"
            build = self.builds.get(app.name)
            tree = build.tree_id if build else ""
            if app.hooks.deploy and deployed.get(app.name) != tree:
                failed += await self._hook(
                    app.name, "deploy", app.hooks.deploy, env=env, cwd=cwd, log_dir=log_dir, enter=enter
                )
            deployed[app.name] = tree
            self._record(deployed)
            if app.hooks.post_deploy:
                failed += await self._hook(
                    app.name, "post_deploy", app.hooks.post_deploy, env=env, cwd=cwd, log_dir=log_dir, enter=enter
                )
            if app.crons:
                frozen = dict(env)
                scheduler = CronScheduler(
                    app,
                    environment=functools.partial(dict, frozen),
                    cwd=cwd,
                    log_path=log_dir / "cron.log",
                    enter=enter,
                )
                scheduler.start()
                self.crons[app.name] = scheduler
        return tuple(failed)

    async def _hook(
        self,
        app: str,
        hook: str,
        script: str,
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_dir: Path,
        enter: Enter | None = None,
    ) -> list[str]:
        """Run one hook, saying how it ended; [what failed] when it failed, else []."""
        self.say(f"{app}: running the {hook} hook on web.0")
        result = await run_hook(hook, script, environment=env, cwd=cwd, log_dir=log_dir, enter=enter)
        if result.ok:
            self.say(f"{app}: {result.describe()}")
            return []
        shown = "".join(f"\n    {line}" for line in result.tail)
        self.say(f"warning: {app}: {result.describe()} (the deployment goes on); last lines:{shown}")
        return [f"{app}: {result.describe()}"]

    async def wait_for_crons(self) -> None:
        """Before instances stop: start no more crons and wait for running ones, saying so, as
        the platform does."""
        for scheduler in self.crons.values():
            scheduler.pause()
        for scheduler in self.crons.values():
            await scheduler.wait_idle(
                lambda name, seconds: self.say(f"waiting for cron {name}, running for {seconds:.0f} s")
            )

    async def close(self) -> None:
        for scheduler in self.crons.values():
            with contextlib.suppress(Exception):
                await scheduler.close()
        self.crons.clear()

    # -- what was deployed ------------------------------------------------------------------

    def _deployed(self) -> dict[str, str]:
        """What was deployed; {} when unknown or unreadable (the deploy hook then runs again)."""
        try:
            data = json.loads((self.state_root / DEPLOYED_FILE).read_bytes())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _record(self, deployed: Mapping[str, str]) -> None:
        """Write deployed.json whole (`sunup.atomicfile`); when it cannot be written (a full disk),
        say so: the previous record stays, so the next start may run the deploy hook again."""
        path = self.state_root / DEPLOYED_FILE
        try:
            write_atomically(path, json.dumps(dict(deployed)) + "\n")
        except OSError as exc:
            self.say(
                f"warning: cannot record the deployed tree in {path}: {exc.strerror or exc}; "
                "the next start may run the deploy hook again"
            )
