"""The mapping of kubernetes.md, object by object: what a pod of each group gets."""

from __future__ import annotations

import base64
import datetime
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from croniter import croniter

from sunup.config import read_config
from sunup.config.crons import fire_times
from sunup.export.kubernetes import export_project
from sunup.export.kubernetes.naming import CRONJOB_LIMIT, dns_label
from sunup.plan.resolve import resolve_project
from sunup.plan.resources import ResourceSetting
from tests.export.kube import DATA, OPTIONS, SEED, export_of, plan_of
from tests.plan.golden import FACTS

CRONS = DATA / "crons-hooks"


def named(objects: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def pod(item: dict[str, Any]) -> dict[str, Any]:
    if item["kind"] == "CronJob":
        return dict(item["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return dict(item["spec"]["template"]["spec"])


def test_deployment_per_group_runs_the_instance_under_sunup() -> None:
    """Each group is a Deployment running `sunup run-instance`, 15 s grace, no service links, read-only root."""
    objects = export_of(SEED).objects
    for group in ("web", "queue", "mail"):
        spec = pod(named(objects, "Deployment", f"app-{group}"))
        container = spec["containers"][0]
        assert container["command"] == ["sunup", "run-instance", "--app", "app", "--group", group]
        assert spec["terminationGracePeriodSeconds"] == 15
        assert spec["enableServiceLinks"] is False
        assert spec["restartPolicy"] == "Always"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert container["resources"]["limits"] == {"cpu": "500m", "memory": "224Mi"}
        assert container["envFrom"] == [{"secretRef": {"name": f"app-{group}-relationships"}}]
    services = [o["metadata"]["name"] for o in objects if o["kind"] == "Service"]
    assert services == ["mysql", "rabbitmq", "app-web"], "no Service for workers"


def test_replicas_and_sizes_follow_the_resource_settings(make_project: Callable[..., Path]) -> None:
    """`resources:set` counts and sizes become replicas and requests/limits (memory by profile)."""
    loaded = read_config(SEED)
    facts = FACTS.__class__(
        project=FACTS.project,
        project_entropy=FACTS.project_entropy,
        resources={"app:queue": ResourceSetting(cpu=2, count=3)},
    )
    objects = export_project(resolve_project(loaded, facts), OPTIONS).objects
    queue = named(objects, "Deployment", "app-queue")
    assert queue["spec"]["replicas"] == 3
    assert queue["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] == {
        "cpu": "2",
        "memory": "704Mi",
    }
    assert named(objects, "Deployment", "app-mail")["spec"]["replicas"] == 1


def test_each_group_secret_holds_only_its_relationships() -> None:
    """mail's Secret has RabbitMQ and no MySQL credentials; hosts are the services' Service names."""
    objects = export_of(SEED).objects
    mail = named(objects, "Secret", "app-mail-relationships")["stringData"]
    decoded = json.loads(base64.b64decode(mail["PLATFORM_RELATIONSHIPS"]))
    assert set(decoded) == {"rabbitmq"}
    assert not any(key.startswith("MYSQL_") for key in mail)
    web = json.loads(
        base64.b64decode(named(objects, "Secret", "app-web-relationships")["stringData"]["PLATFORM_RELATIONSHIPS"])
    )
    assert web["mysql"][0]["host"] == "mysql" and web["mysql"][0]["port"] == 3306
    assert web["mysql"][0]["password"] == mail.get("MYSQL_PASSWORD", web["mysql"][0]["password"])


def test_cron_schedules_fire_when_sunup_crons_does() -> None:
    """A CronJob's schedule has no H and fires at the same moments as sunup's scheduler for 2 weeks."""
    plan = plan_of(CRONS)
    objects = export_project(plan, OPTIONS).objects
    start = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
    for cron in plan.app("shop").crons:  # type: ignore[union-attr]
        name = dns_label("shop", "cron", cron.name, limit=CRONJOB_LIMIT)
        job = named(objects, "CronJob", name)
        schedule = job["spec"]["schedule"]
        assert "H" not in schedule
        ours = list(itertools.islice(fire_times(cron.spec, cron.name, start), 200))
        theirs = list(itertools.islice(croniter(schedule, start).all_next(datetime.datetime), 200))
        assert ours == theirs, cron.name
        assert job["spec"]["concurrencyPolicy"] == "Forbid"
        assert job["spec"]["timeZone"] == "Europe/Paris"
        assert job["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == cron.timeout
        assert job["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
        assert pod(job)["restartPolicy"] == "Never"
        assert pod(job)["terminationGracePeriodSeconds"] == cron.shutdown_timeout
        assert len(name) <= CRONJOB_LIMIT


def test_long_names_are_shortened_deterministically() -> None:
    """A name past its limit keeps its start and ends with a digest of the whole: stable and distinct."""
    long_a, long_b = "x" * 70 + "a", "x" * 70 + "b"
    assert dns_label(long_a) == dns_label(long_a) and len(dns_label(long_a)) == 63
    assert dns_label(long_a) != dns_label(long_b)
    assert dns_label("My_Shop", "queue_worker") == "my-shop-queue-worker"


def test_cron_runs_under_sunup_which_runs_its_stop_command() -> None:
    """A cron's container is `sunup run-instance --cron NAME` (which runs `commands.stop` on
    SIGTERM), with no preStop hook that would run it a second time."""
    job = next(o for o in export_of(CRONS).objects if o["kind"] == "CronJob" and "nightly" in o["metadata"]["name"])
    container = pod(job)["containers"][0]
    assert container["command"][:5] == ["sunup", "run-instance", "--app", "shop", "--cron"]
    assert container["command"][5] == "nightly-report-with-a-rather-long-name-that-goes-past-the-limit"
    assert "lifecycle" not in container


def test_hooks_run_under_sunup() -> None:
    """The hook Jobs' containers are `sunup run-instance --hook deploy|post_deploy`, and no
    warning about a shell without the build's toolchain is left."""
    exported = export_of(CRONS)
    jobs = [o for o in exported.objects if o["kind"] == "Job"]
    commands = [pod(j)["containers"][0]["command"] for j in jobs]
    assert commands == [
        ["sunup", "run-instance", "--app", "shop", "--hook", "deploy"],
        ["sunup", "run-instance", "--app", "shop", "--hook", "post_deploy"],
    ]
    assert not [w for w in exported.warnings if "/bin/sh" in w or "toolchain" in w]


def test_hooks_are_jobs_named_by_tree_id() -> None:
    """deploy and post_deploy are Jobs named by the tree id, never retried, with web's relationships."""
    objects = export_of(CRONS, tree_ids={"shop": "abcdef0123456789" * 2 + "00000000"}).objects
    jobs = [o for o in objects if o["kind"] == "Job"]
    assert [j["metadata"]["name"] for j in jobs] == ["shop-deploy-abcdef012345", "shop-post-deploy-abcdef012345"]
    for job in jobs:
        assert job["spec"]["backoffLimit"] == 0
        assert pod(job)["containers"][0]["envFrom"] == [{"secretRef": {"name": "shop-web-relationships"}}]
        assert pod(job)["containers"][0]["image"] == "sunup/shop:abcdef0123456789abcdef012345678900000000"


def test_mounts_become_claims_and_empty_dirs() -> None:
    """storage → a ReadWriteMany claim with subPath, tmp → emptyDir 8Gi, instance → emptyDir (warned)."""
    result = export_of(CRONS, storage_class="cephfs")
    claim = named(result.objects, "PersistentVolumeClaim", "files-storage")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"] and claim["spec"]["storageClassName"] == "cephfs"
    spec = pod(named(result.objects, "Deployment", "shop-web"))
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["/app/public/media"]["subPath"] == "media"
    assert volumes[mounts["/app/public/media"]["name"]]["persistentVolumeClaim"]["claimName"] == "files-storage"
    assert volumes[mounts["/app/var/cache"]["name"]]["emptyDir"] == {"sizeLimit": "8Gi"}
    assert "initContainers" not in spec, "pre_start is run by sunup run-instance, not twice"
    assert any("instance mount 'var/sessions'" in w for w in result.warnings)
    assert any("ReadWriteMany" in w for w in result.warnings)


def test_postgresql_endpoints_get_their_own_users() -> None:
    """The server's init SQL makes one role per endpoint with its privileges, as locally."""
    objects = export_of(CRONS).objects
    sql = named(objects, "Secret", "db-service")["stringData"]["sunup.sql"]
    assert 'CREATE ROLE "admin"' in sql and 'CREATE ROLE "reporter"' in sql
    assert '\\connect "reports"' in sql
    statefulset = named(objects, "StatefulSet", "db")
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/library/postgres:16"


def test_warnings_name_what_has_no_faithful_mapping() -> None:
    """One cron at a time per app, the deploy hook before traffic, NetworkPolicy enforcement, redirects."""
    warnings = "\n".join(export_of(CRONS).warnings)
    for expected in ("one cron at a time", "deploy hook runs before", "network plugin", "redirects are not exported"):
        assert expected in warnings


def test_names_starting_with_a_digit_get_a_letter_for_services(make_project: Callable[..., Path]) -> None:
    """An app or service whose name starts with a digit still gets Service names (DNS-1035) that pass the checker."""
    from sunup.export.kubernetes.checks import check_objects

    project = make_project(
        {
            ".upsun/config.yaml": (
                "applications:\n"
                "  2048:\n"
                "    type: 'python:3.12'\n"
                "    web: {commands: {start: 'python -m http.server $PORT'}}\n"
                "    relationships: {cache: '9cache:redis'}\n"
                "services:\n"
                "  9cache: {type: 'redis:7.2'}\n"
                "routes:\n"
                "  'https://{default}/': {type: upstream, upstream: '2048:http'}\n"
            )
        }
    )
    result = export_project(plan_of(project), OPTIONS)
    services = sorted(o["metadata"]["name"] for o in result.objects if o["kind"] == "Service")
    assert services == ["s-2048-web", "s-9cache"]
    assert check_objects(result.objects) == []
    secret = named(result.objects, "Secret", "2048-web-relationships")["stringData"]
    assert secret["CACHE_HOST"] == "s-9cache"
