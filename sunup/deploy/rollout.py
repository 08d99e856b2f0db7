"""Replacing what a running supervisor runs: `sunup deploy` and `sunup redeploy` (spec §3).

A *release* is what runs between two deploys: a plan, its deployment (builds, hooks, crons) and
the supervisor of its instances. A deploy makes the next release:

    deploy    the configuration read again → build (the old instances keep serving; a failing
              build ends the deploy here, nothing touched) → wait for a running cron, saying so
              → old instances stopped (SIGTERM → grace → SIGKILL) → new instances started from
              the new build → deploy hook (new tree only) → post_deploy → crons
    redeploy  the same plan and build: crons and instances stopped, started again, post_deploy

One deploy at a time; a deploy runs in a task of its own, so it goes on whoever asked for it
(its messages: `sunup.deploy.progress`). The daemon gives a `Launch` that makes the supervisor
of a plan (not started yet) and an `on_switch` that learns each new release, so that control
requests act on it. Web instances keep their ports from release to release when they can.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sunup.deploy.crons import CronScheduler
from sunup.deploy.namespace import Enter
from sunup.deploy.progress import DeployOutcome, DeployRun, Relay
from sunup.errors import ConfigError, SunupError, describe_os_error
from sunup.isolation import InstanceCgroup, IsolationError
from sunup.mounts.layout import entering
from sunup.plan.model import GroupPlan, ProjectPlan
from sunup.plan.resolve import with_resources
from sunup.router.address import is_free
from sunup.supervisor.child import dying_with_parent
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.launch import InstanceSpec, free_port
from sunup.supervisor.lifecycle import InstanceState
from sunup.supervisor.phases import timing_message
from sunup.supervisor.supervisor import Supervisor

if TYPE_CHECKING:
    from sunup.config.loader import LoadedConfig
    from sunup.plan.resources import ResourceSetting


class DeploymentSteps(Protocol):
    """What a deployment does around the instances (`sunup.deploy.deployment.Deployment`)."""

    async def build(self) -> None: ...

    def app_dirs(self) -> Mapping[str, Path]: ...

    def environment(self, group: GroupPlan) -> Mapping[str, str]: ...

    async def after_start(
        self,
        web_environment: Mapping[str, Mapping[str, str]],
        web_cwd: Mapping[str, Path],
        web_enter: Mapping[str, Enter] | None = None,
    ) -> Sequence[str] | None:
        """Hooks and crons on web.0; the hooks that failed (None or empty: none)."""
        ...

    async def close(self) -> None: ...

    # What a deploy also needs of the deployment it replaces and of the one it makes.

    @property
    def crons(self) -> Mapping[str, CronScheduler]: ...

    def trees(self) -> Mapping[str, str]: ...

    async def wait_for_crons(self) -> None: ...


#: Makes the supervisor of a plan's instances (not started); the third argument gives the next
#: web instance's port, in the order of `sunup.supervisor.launch.instance_specs`.
Launch = Callable[[ProjectPlan, DeploymentSteps | None, Callable[[], int]], Supervisor]
#: Makes the deployment of a plan, saying things with the given function.
Deployments = Callable[[ProjectPlan, Callable[[str], None]], DeploymentSteps]
Load = Callable[[], "tuple[LoadedConfig, ProjectPlan]"]


#: The number of the first release's hooks (deploys count from 1).
FIRST_RUN = 0


class DeployBusyError(SunupError):
    """A deploy was asked for while another one runs."""


class Release:
    """One plan's instances, their deployment, and the hooks running after their start."""

    def __init__(self, plan: ProjectPlan, deployment: DeploymentSteps | None, supervisor: Supervisor) -> None:
        self.plan = plan
        self.deployment = deployment
        self.supervisor = supervisor
        #: The hooks after the start; its result: the hooks that failed (`DeploymentSteps.after_start`).
        self.hooks: asyncio.Task[Sequence[str] | None] | None = None
        self._stopping: asyncio.Future[None] | None = None
        #: The groups the hooks and crons of each web.0 run in (`<instance key>.hooks`).
        self._hook_groups: list[InstanceCgroup] = []

    def start(self, say: Callable[[str], None]) -> None:
        """Start every instance; once each is up (its post_start done), the deployment's hooks and
        crons follow, in a task (`hooks`)."""
        self.supervisor.start()
        with_app = len(self.plan.apps) > 1
        specs = [runner.spec for runner in self.supervisor.runners.values()]
        for spec in specs:
            if spec.port is not None:
                say(f"{spec.id.label(with_app=with_app)} listens on http://127.0.0.1:{spec.port}")
        if self.deployment is not None:
            webs = [s for s in specs if s.id.group == "web" and s.id.index == 0]
            self.hooks = asyncio.ensure_future(
                self._after_ready(
                    self.deployment,
                    {s.id.app: s.environment for s in webs},
                    {s.id.app: s.cwd for s in webs},
                    {s.id.app: self._hook_enter(s) for s in webs},
                )
            )

    def _hook_enter(self, web: InstanceSpec) -> Enter:
        """How web.0's hooks and crons run: in its mount namespace, killed with the supervisor
        (PR_SET_PDEATHSIG), in a group of their own, which the next `sunup up` clears of anything
        they left running when the supervisor was killed."""
        group = self.supervisor.isolation.prepare(f"{web.id.key}.hooks")
        self._hook_groups.append(group)

        def enter(argv: Sequence[str]) -> tuple[list[str], Callable[[], None] | None]:
            dying, first = dying_with_parent(group.join_argv(argv))
            entered, second = entering(web.mounts, dying)
            if first is None or second is None:
                return entered, first or second
            return entered, lambda: (second(), first())[0]

        return enter

    async def _after_ready(
        self,
        deployment: DeploymentSteps,
        environment: Mapping[str, Mapping[str, str]],
        cwd: Mapping[str, Path],
        enter: Mapping[str, Enter],
    ) -> Sequence[str] | None:
        runners = list(self.supervisor.runners.values())
        await self.supervisor.wait_for(lambda: all(r.status.state is not InstanceState.STARTING for r in runners))
        return await deployment.after_start(environment, cwd, enter)

    async def answering(self, say: Callable[[str], None]) -> None:
        """Wait until the web instances answer (their port accepts a connection): a deploy is
        done for its clients only then. One that fails instead is said, not waited for."""
        from sunup.supervisor.answering import answering

        webs = [r for i, r in self.supervisor.runners.items() if i.group == "web"]
        with_app = len(self.plan.apps) > 1
        for runner in await answering(webs):
            label = runner.spec.id.label(with_app=with_app)
            say(f"warning: {label} does not answer ({runner.status.state.value}): see `sunup logs --web`")

    def ports(self) -> dict[InstanceId, int]:
        return {i: r.spec.port for i, r in self.supervisor.runners.items() if r.spec.port is not None}

    async def stop(self) -> None:
        """Hooks cancelled if they still run, crons stopped, then every instance. Done once: a
        second call (or a caller cancelled half-way) waits for the same stop to end."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        hooks, self.hooks = self.hooks, None
        if hooks is not None:
            hooks.cancel()
            try:
                await hooks
            except asyncio.CancelledError:
                pass
            except Exception:  # the stop goes on whatever the hooks did
                traceback.print_exc()
        if self.deployment is not None:
            await self.deployment.close()
        for group in self._hook_groups:  # what hooks and crons left behind
            try:
                group.remove()
            except IsolationError as exc:
                print(f"sunup: {exc.message}", file=sys.stderr)
        await self.supervisor.stop_all()
        self.supervisor.close()


class Rollout:
    """The release a supervisor runs now, and the deploys that replace it."""

    def __init__(
        self,
        plan: ProjectPlan,
        deployment: DeploymentSteps | None,
        *,
        launch: Launch,
        relay: Relay,
        deployments: Deployments | None = None,
        load: Load | None = None,
        on_switch: Callable[[Release], None] = lambda _release: None,
        settings: Callable[[], Mapping[str, ResourceSetting]] | None = None,
    ) -> None:
        self._launch = launch
        self._relay = relay
        self._deployments = deployments
        self._load = load
        self._on_switch = on_switch
        #: This machine's resource settings, read again by each redeploy (`sunup resources:set`).
        self._settings = settings
        self.release = Release(plan, deployment, launch(plan, deployment, free_port))
        self.runs: dict[int, DeployRun] = {}
        self._task: asyncio.Task[None] | None = None
        self._first: asyncio.Task[None] | None = None

    @property
    def supervisor(self) -> Supervisor:
        return self.release.supervisor

    def start(self) -> None:
        """Start the first release. Its hooks are run 0 (`FIRST_RUN`, kind ``up``), which
        `sunup up -d` follows as `sunup deploy` follows a deploy: it fails when a hook failed."""
        self.release.start(self._relay)
        hooks = self.release.hooks
        if hooks is not None:
            run = DeployRun(FIRST_RUN, "up")
            self.runs[run.number] = run
            self._relay.run = run
            self._first = asyncio.ensure_future(self._follow_first(run, hooks, asyncio.get_running_loop().time()))

    async def _follow_first(self, run: DeployRun, hooks: asyncio.Future[Sequence[str] | None], began: float) -> None:
        """Finish run 0 as the first release's hooks end (how long they took since the instances'
        start said first: `sunup up` shows it)."""
        try:
            failed = await asyncio.shield(hooks)
        except asyncio.CancelledError:
            run.finish(DeployOutcome("the hooks were interrupted: the supervisor is stopping"))
        except Exception as exc:  # a bug in the hooks' task: reported, the supervisor goes on
            run.finish(DeployOutcome(f"the hooks failed: {type(exc).__name__}: {exc}"))
        else:
            self._relay(timing_message("deploy hooks", asyncio.get_running_loop().time() - began))
            run.finish(_hooks_outcome(failed))
        finally:
            if self._relay.run is run:
                self._relay.run = None

    def crons(self) -> Mapping[str, CronScheduler]:
        """The cron schedulers of the running release, by app."""
        deployment = self.release.deployment
        return deployment.crons if deployment is not None else {}

    # -- deploys ----------------------------------------------------------------------------

    def begin(self, *, build: bool) -> DeployRun:
        """Start a deploy (`build`) or a redeploy in the background; its run gives its messages."""
        if self._task is not None and not self._task.done():
            running = self.runs[max(self.runs)]
            raise DeployBusyError(
                f"a {running.kind} is running already", hint="wait for it: `sunup deploy` shows it once it is done"
            )
        if build and (self._deployments is None or self._load is None):
            raise SunupError("this supervisor was started without builds: it cannot deploy", hint="use `sunup up`")
        run = DeployRun(max(self.runs, default=0) + 1, "deploy" if build else "redeploy")
        self.runs = {n: r for n, r in self.runs.items() if n > run.number - 5}  # the last few
        self.runs[run.number] = run
        self._task = asyncio.ensure_future(self._run(run, build))
        return run

    async def _run(self, run: DeployRun, build: bool) -> None:
        self._relay.run = run
        try:
            if build:
                await self._deploy()
            else:
                plan = self.release.plan
                if self._settings is not None:
                    plan = with_resources(plan, await asyncio.to_thread(self._settings))
                await self._replace(plan, self.release.deployment)
        except SunupError as exc:
            run.finish(DeployOutcome(exc.message, exc.hint))
        except OSError as exc:  # the machine refused something (a full disk): the supervisor goes on
            run.finish(DeployOutcome(describe_os_error(exc)))
        except asyncio.CancelledError:
            run.finish(DeployOutcome(f"the {run.kind} was interrupted: the supervisor is stopping"))
            raise
        except Exception as exc:  # a bug: reported to the client, the supervisor goes on
            traceback.print_exc()
            run.finish(DeployOutcome(f"the {run.kind} failed: {type(exc).__name__}: {exc}"))
        else:
            run.finish(DeployOutcome())
        finally:
            self._relay.run = None
        # A replaced release (its supervisor, runners, their outputs) is a web of reference
        # cycles: free it now, not at the interpreter's next full collection, which a long-lived
        # supervisor seldom reaches (it grew by ~0.5 MB per redeploy of 200 instances).
        gc.collect()

    async def _deploy(self) -> None:
        assert self._load is not None and self._deployments is not None
        say = self._relay
        say("reading the configuration")
        try:
            loaded, plan = await asyncio.to_thread(self._load)
        except ConfigError as exc:
            raise SunupError(
                "\n".join([exc.message, *_diagnostics(exc.loaded)]),
                hint="fix it; the running instances are untouched",
            ) from None
        for line in _diagnostics(loaded):
            say(f"warning: {line}")
        old = self.release
        if plan.services != old.plan.services:
            say("warning: the services changed; they keep running as they are (`sunup down`, `sunup up` applies them)")
        deployment = self._deployments(plan, say)
        await deployment.build()  # raises BuildFailure: nothing was stopped
        if plan == old.plan and old.deployment is not None and old.deployment.trees() == deployment.trees():
            say("nothing changed since the last deploy: the instances keep running (`sunup redeploy` restarts them)")
            return
        await self._replace(plan, deployment)

    async def _replace(self, plan: ProjectPlan, deployment: DeploymentSteps | None) -> None:
        """Stop the running release and start `plan`'s, then wait for its hooks."""
        say = self._relay
        old = self.release
        if old.hooks is not None and not old.hooks.done():
            say("waiting for the hooks of the running deployment")
            with contextlib.suppress(Exception):
                await asyncio.shield(old.hooks)
        if old.deployment is not None:
            await old.deployment.wait_for_crons()
        from sunup.supervisor.answering import answers

        answered = await answers(r for i, r in old.supervisor.runners.items() if i.group == "web")
        say("stopping the running instances")
        ports = old.ports()
        await old.stop()
        release = Release(plan, deployment, self._launch(plan, deployment, _kept_ports(plan, ports)))
        self.release = release
        self._on_switch(release)
        say("starting the instances")
        release.start(say)
        if answered:  # the new web instances are waited for when the old ones answered
            await release.answering(say)
        if release.hooks is not None:
            outcome = _hooks_outcome(await asyncio.shield(release.hooks))
            if outcome.error is not None:
                raise SunupError(outcome.error, hint=outcome.hint)

    async def close(self) -> None:
        """Interrupt a running deploy, then stop the running release."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.release.stop()
        first, self._first = self._first, None
        if first is not None:  # ends with the hooks, cancelled by the stop
            await first


def _hooks_outcome(failed: Sequence[str] | None) -> DeployOutcome:
    """A deploy's outcome from the hooks that failed: it failed when one did (the instances run
    on, as on the platform)."""
    if not failed:
        return DeployOutcome()
    logs = [f"`sunup logs {kind}`" for hook, kind in _HOOK_LOGS if any(f"the {hook} hook " in f for f in failed)]
    return DeployOutcome("; ".join(failed) + "; the instances keep running", hint=f"its output: {', '.join(logs)}")


#: Each hook, and the `sunup logs` type of its log.
_HOOK_LOGS = (("deploy", "deploy"), ("post_deploy", "post-deploy"))


def project_loader(project_root: Path) -> Load:
    """Reads the project's configuration again and resolves its plan, as `sunup up` did."""

    def load() -> tuple[LoadedConfig, ProjectPlan]:
        from sunup.project import load_plan

        return load_plan(project_root)

    return load


def _diagnostics(loaded: LoadedConfig) -> Iterator[str]:
    for diagnostic in loaded.diagnostics.sorted():
        where = f"{diagnostic.mark}: " if diagnostic.mark else ""
        hint = f" (hint: {diagnostic.hint})" if diagnostic.hint else ""
        yield f"{where}{diagnostic.severity.value}[{diagnostic.code}]: {diagnostic.message}{hint}"


def _kept_ports(plan: ProjectPlan, previous: Mapping[InstanceId, int]) -> Callable[[], int]:
    """Each web instance's port of the previous release when it is free again, else a new one.

    The ports are asked for in the order `instance_specs` makes the instances: by app, web first.
    """
    wanted = iter(
        [
            previous.get(InstanceId(app.name, group.name, index))
            for app in plan.apps
            for group in app.groups
            if group.commands is not None and group.is_web and group.socket_family != "unix"
            for index in range(group.resources.count)
        ]
    )

    def port() -> int:
        old = next(wanted, None)
        return old if old is not None and is_free(old) else free_port()

    return port
