"""`sunup deploy --to kubernetes`: the deploy choreography, through the official client, against
a fake API server on loopback that records every call (and, optionally, a real cluster)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sunup.errors import RuntimeFailure
from sunup.kubedeploy.choreography import Choreography, DeployFailure, DeploySettings
from sunup.kubedeploy.fake import FakeApiServer, Request
from sunup.kubedeploy.official import OfficialCluster, connect
from sunup.kubedeploy.secrets import ORIGIN_LABEL, with_hashed_secrets
from tests.conftest import copy_project

pytest.importorskip("kubernetes")

NS = "shop"
MANAGED = {"app.kubernetes.io/managed-by": "sunup"}
FAST = DeploySettings(timeout=2.0, poll=0.01)


def _pod(secret: str | None = "app-web-relationships") -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "sunup/app:abc"}
    if secret:
        container["envFrom"] = [{"secretRef": {"name": secret}}]
    return {"restartPolicy": "Never", "containers": [container]}


def objects(password: str = "one") -> list[dict[str, Any]]:
    """A small export: a services Secret and StatefulSet, a web group (Secret, Deployment,
    Service), a cron, both hooks and an Ingress, in the exporter's apply order."""
    web_labels = {**MANAGED, "sunup.dev/app": "app", "sunup.dev/group": "web"}
    hook = {**web_labels, "sunup.dev/role": "hook"}

    def meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        return {"name": name, "namespace": NS, "labels": labels or dict(MANAGED)}

    template = {"metadata": {"labels": web_labels}, "spec": {**_pod(), "restartPolicy": "Always"}}
    return [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta("sunup-default-deny"),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {"apiVersion": "v1", "kind": "Secret", "metadata": meta("mysql-service"), "stringData": {"password": "root"}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("app-web-relationships", web_labels),
            "stringData": {"PLATFORM_RELATIONSHIPS": password},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta("app-web", web_labels),
            "spec": {"selector": web_labels, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta("mysql"),
            "spec": {
                "replicas": 1,
                "serviceName": "mysql",
                "selector": {"matchLabels": {"s": "mysql"}},
                "template": {
                    "metadata": {"labels": {"s": "mysql"}},
                    "spec": {
                        "containers": [
                            {"name": "db", "image": "mariadb", "envFrom": [{"secretRef": {"name": "mysql-service"}}]}
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta("app-web", web_labels),
            "spec": {"replicas": 2, "selector": {"matchLabels": web_labels}, "template": template},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta("app-cron-tick", web_labels),
            "spec": {"schedule": "7,17,27,37,47,57 * * * *", "jobTemplate": {"spec": {"template": {"spec": _pod()}}}},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta("app-deploy-abc", {**hook, "sunup.dev/hook": "deploy"}),
            "spec": {"backoffLimit": 0, "template": {"spec": _pod()}},
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta("app-post-deploy-abc", {**hook, "sunup.dev/hook": "post-deploy"}),
            "spec": {"backoffLimit": 0, "template": {"spec": _pod()}},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": meta("route-default"),
            "spec": {
                "rules": [
                    {
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "app-web", "port": {"number": 80}}},
                                }
                            ]
                        }
                    }
                ]
            },
        },
    ]


@pytest.fixture
def server() -> Iterator[FakeApiServer]:
    with FakeApiServer(rollout_reads=2, job_reads=2) as fake:
        yield fake


def deploy(server: FakeApiServer, items: list[dict[str, Any]] | None = None, **settings: Any) -> tuple[Any, list[str]]:
    said: list[str] = []
    cluster = OfficialCluster(server.api_client())
    choreography = Choreography(
        cluster,
        items or objects(),
        say=said.append,
        settings=DeploySettings(**{"timeout": 2.0, "poll": 0.01, **settings}),
    )
    return choreography.run(), said


def _index(calls: list[str], wanted: str, start: int = 0) -> int:
    for i in range(start, len(calls)):
        if calls[i].startswith(wanted):
            return i
    raise AssertionError(f"no call {wanted!r} after #{start} in:\n" + "\n".join(calls))


def _running_cron() -> dict[str, Any]:
    cron = copy.deepcopy(objects()[6])
    cron["status"] = {"active": [{"kind": "Job", "name": "app-cron-tick-29000000"}]}
    return cron


def test_calls_follow_the_platforms_deploy_sequence(server: FakeApiServer) -> None:
    """Crons suspended, the running cron waited for, Secrets, services, deploy Job, apps and
    their rollout, traffic, post_deploy, crons resumed: in this order, through the real client."""
    server.seed(_running_cron())
    report, said = deploy(server)
    calls = server.calls()
    suspend = _index(calls, "PATCH CronJob app-cron-tick")
    assert server.requests[suspend].body == {"spec": {"suspend": True}}
    assert server.requests[suspend].content_type.startswith("application/merge-patch+json")
    waited = _index(calls, "GET CronJob app-cron-tick", suspend)
    secret = _index(calls, "POST Secret app-web-relationships-", waited)
    statefulset = _index(calls, "PATCH StatefulSet mysql", secret)
    rolled_db = _index(calls, "GET StatefulSet mysql", statefulset)
    deploy_job = _index(calls, "POST Job app-deploy-abc", rolled_db)
    deployment = _index(calls, "PATCH Deployment app-web", deploy_job)
    rollout = _index(calls, "GET Deployment app-web", deployment)
    ingress = _index(calls, "PATCH Ingress route-default", rollout)
    cron_apply = _index(calls, "PATCH CronJob app-cron-tick", rollout)
    post = _index(calls, "POST Job app-post-deploy-abc-", max(ingress, cron_apply))
    resume = _index(calls, "PATCH CronJob app-cron-tick", post)
    assert server.requests[resume].body == {"spec": {"suspend": False}}
    # Applies are server-side applies by sunup; the CronJob is applied still suspended.
    applied = server.requests[deployment]
    assert applied.content_type.startswith("application/apply-patch+yaml")
    assert applied.query.get("fieldManager") == "sunup" and applied.query.get("force") in ("true", "True")
    assert server.requests[cron_apply].body["spec"]["suspend"] is True
    # The pod templates point at the content-named Secret, which is immutable.
    hashed = report.secrets["app-web-relationships"]
    env_from = applied.body["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert env_from == [{"secretRef": {"name": hashed}}]
    assert server.objects[("Secret", NS, hashed)]["immutable"] is True
    assert report.hooks == {"deploy": "succeeded", "post_deploy": "succeeded"}
    assert "waiting for the running cron Job app-cron-tick-29000000 of CronJob app-cron-tick to end" in said
    assert said[-1] == "deploy done"


def test_deploy_hook_runs_once_per_build_and_post_deploy_every_time(server: FakeApiServer) -> None:
    """A second deploy of the same build skips the deploy Job (it exists) and runs post_deploy
    again under a new name; unchanged Secrets keep their names."""
    deploy(server)
    first = len(server.requests)
    report, said = deploy(server)
    again = server.calls()[first:]
    assert not [c for c in again if c.startswith("POST Job app-deploy-abc")]
    assert report.hooks["deploy"] == "skipped"
    assert any("the deploy hook ran already for this build (Job app-deploy-abc, succeeded)" in line for line in said)
    assert [c for c in again if c.startswith("POST Job app-post-deploy-abc-")]
    assert any(line.endswith(": unchanged") for line in said)
    assert not [c for c in again if c.startswith("DELETE")]


def test_changed_secret_gets_a_new_name_rolls_its_pods_and_the_old_one_goes(server: FakeApiServer) -> None:
    """A changed credential is a new Secret; the Deployment's template changes (a new
    generation, so its pods roll) and the Secret it replaced is deleted after the rollout."""
    first, _ = deploy(server, objects("one"))
    generation = server.objects[("Deployment", NS, "app-web")]["metadata"]["generation"]
    second, said = deploy(server, objects("two"))
    old, new = first.secrets["app-web-relationships"], second.secrets["app-web-relationships"]
    assert old != new
    assert server.objects[("Deployment", NS, "app-web")]["metadata"]["generation"] == generation + 1
    assert ("Secret", NS, old) not in server.objects
    assert server.objects[("Secret", NS, new)]["metadata"]["labels"][ORIGIN_LABEL] == "app-web-relationships"
    assert f"deleted the old Secret {old}" in said
    assert server.calls().index(f"DELETE Secret {old}") > max(
        i for i, c in enumerate(server.calls()) if c == "GET Deployment app-web"
    )


def test_stuck_rollout_fails_naming_step_and_object_and_resumes_crons() -> None:
    """A Deployment that never rolls out stops the deploy with the step and the object named;
    the CronJobs it suspended run again; the post_deploy hook does not run."""
    with FakeApiServer(stuck={"app-web"}) as server:
        server.seed(objects()[6])
        with pytest.raises(DeployFailure) as failure:
            deploy(server, timeout=0.3)
        calls = server.calls()
    message = failure.value.message
    assert "at 'applying the apps' (Deployment app-web (namespace shop))" in message
    assert "it is not rolled out after 0.3 s" in message and "updatedReplicas=0" in message
    assert failure.value.hint is not None and "kubectl describe deployment app-web" in failure.value.hint
    assert not [c for c in calls if c.startswith("POST Job app-post-deploy")]
    last = server.requests[_index(calls, "PATCH CronJob app-cron-tick", _index(calls, "GET Deployment app-web"))]
    assert last.body == {"spec": {"suspend": False}}


def test_cron_still_running_after_the_timeout_stops_the_deploy_before_anything_changes() -> None:
    """A cron Job that does not end in time stops the deploy, naming it; nothing was applied and
    the CronJob is resumed."""
    with FakeApiServer(cron_reads=10**6) as server:
        server.seed(_running_cron())
        with pytest.raises(DeployFailure) as failure:
            deploy(server, timeout=0.2)
        calls = server.calls()
    assert "at 'waiting for running crons' (CronJob app-cron-tick" in failure.value.message
    assert "its Job app-cron-tick-29000000 still runs after 0.2 s" in failure.value.message
    assert not [c for c in calls if c.startswith(("POST Secret", "PATCH Deployment", "POST Job"))]
    assert server.requests[-1].describe() == "PATCH CronJob app-cron-tick"
    assert server.requests[-1].body == {"spec": {"suspend": False}}


def test_failing_deploy_hook_is_reported_and_the_deploy_goes_on() -> None:
    """A deploy hook Job that fails is a warning naming it; the apps are still applied and
    post_deploy still runs, as on the platform."""
    with FakeApiServer(failing_jobs=("app-deploy-",)) as server:
        report, said = deploy(server)
        calls = server.calls()
    assert report.hooks == {"deploy": "failed", "post_deploy": "succeeded"}
    warning = next(line for line in said if line.startswith("warning: the deploy hook failed"))
    assert (
        "Job app-deploy-abc" in warning and "backoff limit" in warning and "kubectl logs job/app-deploy-abc" in warning
    )
    assert _index(calls, "PATCH Deployment app-web") > _index(calls, "POST Job app-deploy-abc")


def test_api_errors_name_the_object_and_the_call() -> None:
    """An object the API refuses is a DeployFailure naming the step, the object and the API's
    own message, not a client traceback."""
    invalid = 'Service "app-web" is invalid: spec.ports[0].port: Invalid value: 0'
    with FakeApiServer(refuse={"Service app-web": (422, invalid)}) as server, pytest.raises(DeployFailure) as failure:
        deploy(server)
    message = failure.value.message
    assert message.startswith("the deploy failed at 'applying services and shared objects' (Service app-web")
    assert f"applying Service app-web (namespace shop): HTTP 422: {invalid}" in message


def test_hashing_is_pure_and_leaves_unreferenced_secrets_alone() -> None:
    """Only Secrets a pod template uses are renamed; the input is not changed."""
    items = objects()
    before = json.dumps(items, sort_keys=True)
    hashed, renames = with_hashed_secrets(items)
    assert json.dumps(items, sort_keys=True) == before
    assert set(renames) == {"mysql-service", "app-web-relationships"}
    extra = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "unused", "namespace": NS}, "stringData": {}}
    _, renames = with_hashed_secrets([*items, extra])
    assert "unused" not in renames
    again, _ = with_hashed_secrets(items)
    assert again == hashed


def test_connect_without_kubeconfig_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No kubeconfig (and not in a pod) is a RuntimeFailure saying to set KUBECONFIG."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(RuntimeFailure) as failure:
        connect("nowhere")
    assert failure.value.hint is not None and "KUBECONFIG" in failure.value.hint


def _kubeconfig(path: Path, url: str, context: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": url}}],
                "users": [{"name": "me", "user": {"token": "t"}}],
                "contexts": [{"name": context, "context": {"cluster": "fake", "user": "me", "namespace": NS}}],
                "current-context": "other",
            }
        ),
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
def test_sunup_deploy_to_kubernetes_deploys_the_seed(seed_example: Path, tmp_path: Path, server: FakeApiServer) -> None:
    """`sunup deploy --to kubernetes --context C --namespace NS` exports the seed and deploys it
    through the kubeconfig's context: services before the apps, the apps before traffic."""
    project = copy_project(seed_example, tmp_path / "seed")
    config = _kubeconfig(tmp_path / "kubeconfig", server.url, "fake-context")
    env = {
        **os.environ,
        "KUBECONFIG": str(config),
        "SUNUP_KUBE_POLL": "0.01",
        "SUNUP_STATE_DIR": str(tmp_path / "state"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sunup",
            "-C",
            str(project),
            "deploy",
            "--to",
            "kubernetes",
            "--context",
            "fake-context",
            "--namespace",
            "seed",
            "--timeout",
            "5",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    calls = server.calls()
    mysql = _index(calls, "PATCH StatefulSet mysql")
    web = _index(calls, "PATCH Deployment app-web")
    mail = _index(calls, "PATCH Deployment app-mail")
    ingress = _index(calls, "PATCH Ingress", _index(calls, "GET Deployment app-mail"))
    assert mysql < web < mail < ingress
    assert "sunup: deploy done" in done.stderr
    assert "deploying" in done.stderr and "namespace seed" in done.stderr
    assert all(r.path.startswith(("/api/v1/namespaces/seed", "/apis/", "/api/v1/namespaces")) for r in server.requests)
    assert ("Namespace", "", "seed") in server.objects
    assert "Traceback" not in done.stderr


def test_deploy_to_kubernetes_with_a_bad_namespace_is_a_usage_error(seed_example: Path) -> None:
    """A namespace that is not a DNS label is refused before anything is exported or sent."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sunup",
            "-C",
            str(seed_example),
            "deploy",
            "--to",
            "kubernetes",
            "--namespace",
            "Bad_NS",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--namespace" in done.stderr and "DNS-1123" in done.stderr


@pytest.mark.slow
def test_real_cluster_when_kubeconfig_is_set() -> None:
    """Against a real cluster (KUBECONFIG set): a one-Deployment deploy in a throwaway namespace
    rolls out, its post_deploy Job succeeds, and the namespace is deleted afterwards."""
    if not os.environ.get("KUBECONFIG"):
        pytest.skip("KUBECONFIG is not set: no real cluster to deploy to (no cluster can run on this machine)")
    namespace = f"sunup-test-{uuid.uuid4().hex[:8]}"
    labels = {**MANAGED, "sunup.dev/app": "t"}
    items: list[dict[str, Any]] = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "t-web", "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]},
                },
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "t-post-deploy",
                "namespace": namespace,
                "labels": {**labels, "sunup.dev/hook": "post-deploy"},
            },
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "busybox:1.36", "command": ["true"]}],
                    }
                },
            },
        },
    ]
    cluster = connect(None)
    try:
        report = Choreography(cluster, items, say=print, settings=DeploySettings(timeout=300, poll=2)).run()
        assert report.hooks == {"post_deploy": "succeeded"}
    finally:
        from sunup.kubedeploy.cluster import Ref

        cluster.delete(Ref("Namespace", "", namespace))


def test_request_record_names_objects() -> None:
    """The fake's record names a create by its body's name and a list as LIST."""
    create = Request("POST", f"/api/v1/namespaces/{NS}/secrets", {}, "application/json", {"metadata": {"name": "s"}})
    listing = Request("GET", f"/apis/batch/v1/namespaces/{NS}/cronjobs", {"labelSelector": "a=b"}, "", None)
    assert create.describe() == "POST Secret s"
    assert listing.describe() == "LIST CronJob"
