"""Every export is strictly valid for Kubernetes 1.29 and 1.37, passes the semantic checker, and
its NetworkPolicies let each group reach exactly the services of its relationships: the seed
example, the golden project, and every valid project of the corpus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import kubernetes_validate
import pytest

from sunup.config import read_config
from sunup.export.kubernetes import Export
from sunup.export.kubernetes.checks import check_objects
from sunup.export.kubernetes.engines import ENGINES
from sunup.export.kubernetes.reachability import service_reachability
from sunup.plan.model import ProjectPlan
from tests.export.kube import DATA, SEED, VERSIONS, corpus_projects, export_of, external, plan_of, strict_errors

PROJECTS = [SEED, DATA / "crons-hooks", *corpus_projects()]


def expected_reach(plan: ProjectPlan) -> dict[tuple[str, str], set[str]]:
    """(app, group) → the services run in the cluster that the group has a relationship to."""
    in_cluster = {s.name for s in plan.services if s.kind in ENGINES}
    return {
        (g.app, g.name): {r.service for r in g.relationships if r.service in in_cluster}
        for a in plan.apps
        for g in a.groups
    }


def assert_reach_equals_relationships(plan: ProjectPlan, result: Export) -> None:
    reached = service_reachability(result.objects)
    expected = expected_reach(plan)
    for (app, group, role), services in reached.items():
        assert services == expected[(app, group)], f"{app}:{group} ({role}) reaches {services}"
    instances = {(a, g) for a, g, role in reached if role == "instance"}
    assert instances == set(expected), "every group has a Deployment whose pods were evaluated"


@pytest.mark.parametrize("version", VERSIONS)
def test_seed_passes_kubernetes_validate(version: str) -> None:
    """Each object of the seed's export passes kubernetes_validate.validate in strict mode."""
    for item in export_of(SEED).objects + export_of(SEED, **external()).objects:
        assert kubernetes_validate.validate(item, version, strict=True) == version


def test_seed_mail_cannot_reach_mysql() -> None:
    """In the seed, web and queue may open MariaDB and RabbitMQ; mail only RabbitMQ."""
    reached = service_reachability(export_of(SEED).objects)
    assert reached[("app", "web", "instance")] == {"mysql", "rabbitmq"}
    assert reached[("app", "queue", "instance")] == {"mysql", "rabbitmq"}
    assert reached[("app", "mail", "instance")] == {"rabbitmq"}


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_export_is_valid(project: Path) -> None:
    """Strict schemas of both versions and the semantic checker find nothing, with services in
    the cluster and external; reachability equals the plan's relationships."""
    plan = plan_of(project)
    for changes in ({}, external()):
        result = export_of(project, **changes)
        problems = [e for item in result.objects for v in VERSIONS for e in strict_errors(item, v)]
        problems += check_objects(result.objects)
        assert not problems, "\n".join(problems[:20])
    assert_reach_equals_relationships(plan, export_of(project))


def test_many_workers_export_is_valid(make_project: Callable[..., Path]) -> None:
    """100 workers, half of them with only RabbitMQ: the checker finds nothing, each reaches exactly its services."""
    lines = [
        "applications:",
        "  app:",
        "    type: 'python:3.12'",
        "    relationships: {db: 'db:mysql', queue: 'mq:rabbitmq'}",
        "    web: {commands: {start: 'gunicorn app:app'}}",
        "    workers:",
    ]
    for i in range(100):
        lines.append(f"      worker-number-{i}-with-a-long-name-to-shorten: {{commands: {{start: 'python w.py {i}'}}}}")
        if i % 2:
            lines[-1] = lines[-1][:-1] + ", relationships: {queue: 'mq:rabbitmq'}}"
    lines += ["services:", "  db: {type: 'mariadb:11.4'}", "  mq: {type: 'rabbitmq:3.13'}"]
    project = make_project({".upsun/config.yaml": "\n".join(lines) + "\n"})
    assert not read_config(project).diagnostics.has_errors()
    plan = plan_of(project)
    result = export_of(project)
    assert check_objects(result.objects) == []
    assert_reach_equals_relationships(plan, result)
    assert all(len(o["metadata"]["name"]) <= 63 for o in result.objects)
