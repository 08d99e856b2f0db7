"""The deploy sequence of the platform, played against a cluster (spec `kubernetes.md`).

    1. suspend the project's CronJobs, and wait for their running Jobs (a running cron delays
       a deploy, as on the platform)
    2. the Secrets pod templates use, named by their content (`secrets`): created once each
    3. what the apps need first: NetworkPolicies, other Secrets, claims, Services, the services'
       StatefulSets; their rollouts waited for
    4. the deploy hook's Job, once per build: named by the tree id, skipped when it exists
    5. the apps' Deployments; their rollouts waited for
    6. traffic in (Ingress), and the CronJobs applied still suspended
    7. the post_deploy hook's Job (every deploy: named by the deploy's time)
    8. the CronJobs resumed, the older content-named Secrets deleted

A failing hook Job is reported and the deploy goes on, as on the platform. Any other failure
stops the deploy with the step and the object named (`DeployFailure`); CronJobs it suspended are
resumed first. Waiting polls the API every `poll` seconds, at most `timeout` seconds per wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sunup.errors import RuntimeFailure
from sunup.export.kubernetes.naming import dns_label
from sunup.kubedeploy.cluster import Cluster, ClusterError, Ref
from sunup.kubedeploy.secrets import ORIGIN_LABEL, with_hashed_secrets

MANAGED = "app.kubernetes.io/managed-by=sunup"
HOOK_LABEL = "sunup.dev/hook"
#: Kinds applied in step 5, and in step 6; everything else but Jobs goes in step 3.
APP_KINDS = frozenset({"Deployment"})
LAST_KINDS = frozenset({"Ingress", "CronJob"})


class DeployFailure(RuntimeFailure):
    """The deploy stopped: at which step, on which object, why."""

    def __init__(self, step: str, ref: Ref | None, reason: str, hint: str | None = None) -> None:
        where = f" ({ref.describe()})" if ref is not None else ""
        super().__init__(f"the deploy failed at '{step}'{where}: {reason}", hint=hint)
        self.step = step
        self.ref = ref


@dataclass(frozen=True, slots=True)
class DeploySettings:
    #: Longest wait for one thing (a cron Job to end, a rollout, a hook Job), in seconds.
    timeout: float = 600.0
    #: Seconds between two reads of what is waited for.
    poll: float = 1.0


@dataclass
class DeployReport:
    """What a deploy did, for the command's last lines and for tests."""

    applied: list[Ref] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    hooks: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Choreography:
    def __init__(
        self,
        cluster: Cluster,
        objects: Sequence[dict[str, Any]],
        *,
        say: Callable[[str], None],
        settings: DeploySettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.cluster = cluster
        self.objects, self.renames = with_hashed_secrets(objects)
        self.say = say
        self.settings = settings or DeploySettings()
        self._sleep = sleep
        self._clock = clock
        self._wall = wall
        self.report = DeployReport(secrets=dict(self.renames))
        self._suspended: list[Ref] = []
        self._step = "start"

    # -- the sequence -------------------------------------------------------------------------

    def run(self) -> DeployReport:
        namespaces = sorted({Ref.of(o).namespace for o in self.objects if Ref.of(o).namespace})
        hashed = set(self.renames.values())
        jobs = [o for o in self.objects if o.get("kind") == "Job"]
        deploy_jobs = [o for o in jobs if _labels(o).get(HOOK_LABEL) == "deploy"]
        post_jobs = [o for o in jobs if _labels(o).get(HOOK_LABEL) == "post-deploy"]
        first = [
            o
            for o in self.objects
            if o.get("kind") not in (*APP_KINDS, *LAST_KINDS, "Job") and Ref.of(o).name not in hashed
        ]
        secrets = [o for o in self.objects if o.get("kind") == "Secret" and Ref.of(o).name in hashed]
        try:
            self._enter("namespaces")
            for namespace in namespaces:
                self._namespace(namespace)
            self._enter("suspending crons")
            for namespace in namespaces:
                self._suspend_crons(namespace)
            self._enter("waiting for running crons")
            for ref in list(self._suspended_and_existing(namespaces)):
                self._wait_cron_idle(ref)
            self._enter("secrets")
            for secret in secrets:
                self._create_secret(secret)
            self._enter("applying services and shared objects")
            self._apply_all(first)
            self._wait_rollouts(first)
            self._enter("deploy hook")
            for job in deploy_jobs:
                self._deploy_hook(job)
            self._enter("applying the apps")
            apps = [o for o in self.objects if o.get("kind") in APP_KINDS]
            self._apply_all(apps)
            self._wait_rollouts(apps)
            self._enter("letting traffic in")
            self._apply_all([_suspended(o) for o in self.objects if o.get("kind") in LAST_KINDS])
            self._enter("post_deploy hook")
            for job in post_jobs:
                self._post_deploy_hook(job)
            self._enter("resuming crons")
            self._resume([Ref.of(o) for o in self.objects if o.get("kind") == "CronJob"], everything=True)
            self._enter("removing old secrets")
            for namespace in namespaces:
                self._remove_old_secrets(namespace, hashed)
        except ClusterError as exc:
            self._resume_after_failure()
            raise DeployFailure(self._step, exc.ref, exc.message) from None
        except DeployFailure:
            self._resume_after_failure()
            raise
        self.say("deploy done")
        return self.report

    def _enter(self, step: str) -> None:
        self._step = step

    # -- steps --------------------------------------------------------------------------------

    def _namespace(self, namespace: str) -> None:
        ref = Ref("Namespace", "", namespace)
        if self.cluster.read(ref) is None:
            self.cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
            self.say(f"created namespace {namespace}")

    def _suspend_crons(self, namespace: str) -> None:
        for cron in self.cluster.list("CronJob", namespace, MANAGED):
            ref = Ref.of({**cron, "kind": "CronJob"})
            if not (cron.get("spec") or {}).get("suspend"):
                self.cluster.patch(ref, {"spec": {"suspend": True}})
                self._suspended.append(ref)
                self.say(f"suspended CronJob {ref.name}")

    def _suspended_and_existing(self, namespaces: Sequence[str]) -> list[Ref]:
        found = []
        for namespace in namespaces:
            for cron in self.cluster.list("CronJob", namespace, MANAGED):
                found.append(Ref.of({**cron, "kind": "CronJob"}))
        return found

    def _wait_cron_idle(self, ref: Ref) -> None:
        def idle(cron: dict[str, Any]) -> bool:
            return not (cron.get("status") or {}).get("active")

        cron = self.cluster.read(ref)
        if cron is None or idle(cron):
            return
        running = ", ".join(str(a.get("name")) for a in cron["status"]["active"])
        self.say(f"waiting for the running cron Job {running} of CronJob {ref.name} to end")
        self._wait(ref, idle, f"its Job {running} still runs")
        self.say(f"cron Job {running} ended")

    def _create_secret(self, secret: dict[str, Any]) -> None:
        ref = Ref.of(secret)
        try:
            self.cluster.create(secret)
        except ClusterError as exc:
            if exc.status != 409:
                raise
            self.say(f"Secret {ref.name}: unchanged")
            return
        self.say(f"created Secret {ref.name}")

    def _apply_all(self, objects: Sequence[dict[str, Any]]) -> None:
        for obj in objects:
            ref = Ref.of(obj)
            self.cluster.apply(obj)
            self.report.applied.append(ref)
            self.say(f"applied {ref.kind} {ref.name}")

    def _wait_rollouts(self, objects: Sequence[dict[str, Any]]) -> None:
        for obj in objects:
            ref = Ref.of(obj)
            if ref.kind not in ("Deployment", "StatefulSet"):
                continue
            self.say(f"waiting for the rollout of {ref.kind} {ref.name}")
            self._wait(ref, _rolled_out, "it is not rolled out", failed=_rollout_failed)
            self.say(f"{ref.kind} {ref.name} rolled out")

    def _deploy_hook(self, job: dict[str, Any]) -> None:
        ref = Ref.of(job)
        found = self.cluster.read(ref)
        if found is not None:
            state = _job_state(found)
            if state is None:
                self.say(f"the deploy hook Job {ref.name} of this build is running: waiting for it")
                self._hook_outcome(ref, "deploy")
            else:
                self.report.hooks["deploy"] = "skipped"
                self.say(f"the deploy hook ran already for this build (Job {ref.name}, {state}): not run again")
            return
        self.cluster.create(job)
        self.say(f"started the deploy hook: Job {ref.name}")
        self._hook_outcome(ref, "deploy")

    def _post_deploy_hook(self, job: dict[str, Any]) -> None:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(self._wall()))
        meta = job["metadata"]
        job = {**job, "metadata": {**meta, "name": dns_label(meta["name"], stamp)}}
        ref = Ref.of(job)
        self.cluster.create(job)
        self.say(f"started the post_deploy hook: Job {ref.name}")
        self._hook_outcome(ref, "post_deploy")

    def _hook_outcome(self, ref: Ref, hook: str) -> None:
        def ended(job: dict[str, Any]) -> bool:
            return _job_state(job) is not None

        self._wait(ref, ended, f"the {hook} hook has not ended")
        job = self.cluster.read(ref) or {}
        state = _job_state(job) or "unknown"
        self.report.hooks[hook] = state
        if state == "succeeded":
            self.say(f"the {hook} hook succeeded (Job {ref.name})")
        else:
            message = (
                f"the {hook} hook failed (Job {ref.name}{': ' + _job_reason(job) if _job_reason(job) else ''}); "
                f"the deploy goes on, as on the platform (see `kubectl logs job/{ref.name}`)"
            )
            self.report.warnings.append(message)
            self.say(f"warning: {message}")

    def _resume(self, refs: Sequence[Ref], *, everything: bool = False) -> None:
        wanted = list(dict.fromkeys([*refs, *self._suspended])) if everything else list(refs)
        for ref in wanted:
            if self.cluster.read(ref) is None:
                continue
            self.cluster.patch(ref, {"spec": {"suspend": False}})
            self.say(f"resumed CronJob {ref.name}")
        self._suspended.clear()

    def _resume_after_failure(self) -> None:
        """The CronJobs this deploy suspended run again (the old release goes on)."""
        if not self._suspended:
            return
        refs = list(self._suspended)
        try:
            self._resume(refs)
        except ClusterError as exc:
            self.say(f"warning: could not resume the CronJobs it suspended ({exc.message})")

    def _remove_old_secrets(self, namespace: str, current: set[str]) -> None:
        for secret in self.cluster.list("Secret", namespace, f"{MANAGED},{ORIGIN_LABEL}"):
            ref = Ref.of({**secret, "kind": "Secret"})
            if ref.name not in current:
                self.cluster.delete(ref)
                self.say(f"deleted the old Secret {ref.name}")

    # -- waiting ------------------------------------------------------------------------------

    def _wait(
        self,
        ref: Ref,
        done: Callable[[dict[str, Any]], bool],
        what: str,
        *,
        failed: Callable[[dict[str, Any]], str | None] = lambda _obj: None,
    ) -> None:
        """Read `ref` every `poll` seconds until `done`; DeployFailure when `failed` says why,
        when it is gone, or after `timeout` seconds."""
        end = self._clock() + self.settings.timeout
        while True:
            obj = self.cluster.read(ref)
            if obj is None:
                raise DeployFailure(self._step, ref, "it disappeared while sunup waited for it")
            if done(obj):
                return
            reason = failed(obj)
            if reason is not None:
                raise DeployFailure(self._step, ref, reason, hint=f"kubectl describe {ref.kind.lower()} {ref.name}")
            if self._clock() >= end:
                raise DeployFailure(
                    self._step,
                    ref,
                    f"{what} after {self.settings.timeout:g} s{_status_note(obj)}",
                    hint=f"kubectl describe {ref.kind.lower()} {ref.name}; --timeout waits longer",
                )
            self._sleep(self.settings.poll)


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _suspended(obj: dict[str, Any]) -> dict[str, Any]:
    """A CronJob applied suspended (resumed at the end of the deploy); others as they are."""
    if obj.get("kind") != "CronJob":
        return obj
    return {**obj, "spec": {**obj.get("spec", {}), "suspend": True}}


def _rolled_out(obj: dict[str, Any]) -> bool:
    """As `kubectl rollout status`: the new generation observed, every replica updated and
    available, no old one left."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return False
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    if obj.get("kind") == "StatefulSet":
        ready = int(status.get("readyReplicas") or 0)
        revision_done = status.get("updateRevision") in (None, status.get("currentRevision"))
        return updated >= wanted and ready >= wanted and revision_done
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    return updated >= wanted and total <= updated and available >= wanted


def _rollout_failed(obj: dict[str, Any]) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return f"its rollout exceeded its progress deadline: {condition.get('message', '')}".rstrip(": ")
    return None


def _job_state(job: dict[str, Any]) -> str | None:
    """succeeded / failed, or None while it runs."""
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "succeeded"
        if condition.get("status") == "True" and condition.get("type") in ("Failed", "FailureTarget"):
            return "failed"
    if int(status.get("succeeded") or 0) > 0:
        return "succeeded"
    backoff = int((job.get("spec") or {}).get("backoffLimit", 6))
    if int(status.get("failed") or 0) > backoff:
        return "failed"
    return None


def _job_reason(job: dict[str, Any]) -> str:
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return str(condition.get("message") or condition.get("reason") or "")
    return ""


def _status_note(obj: dict[str, Any]) -> str:
    status = obj.get("status") or {}
    keys = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "active")
    shown = ", ".join(f"{k}={status[k]}" for k in keys if k in status and not isinstance(status[k], list))
    return f" ({shown})" if shown else ""
