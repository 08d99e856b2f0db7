"""Facts every resolved plan holds, checked on the golden cases and on every valid corpus project."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.config import read_config
from sunup.config.catalog import SQL_TYPES
from sunup.plan.model import GroupKind, MountScope, ProjectPlan
from sunup.plan.resolve import resolve_project
from tests.conftest import CORPUS
from tests.plan import golden

#: Service kinds whose endpoint names sunup knows; other kinds accept any endpoint name.
_KNOWN_ENDPOINTS = SQL_TYPES | {"rabbitmq", "redis", "redis-persistent", "network-storage"}
_SCOPES = {
    "storage": {MountScope.GROUP, MountScope.SERVICE},
    "instance": {MountScope.INSTANCE},
    "tmp": {MountScope.TMP},
    "service": {MountScope.SERVICE},
}


def _projects() -> list[Path]:
    corpus = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []
    return [c.project for c in golden.cases() if c.available] + corpus


PROJECTS = _projects()


def _valid_plan(project: Path) -> ProjectPlan:
    loaded = read_config(project)
    if loaded.diagnostics.has_errors():
        pytest.skip("invalid configuration (tests/config/test_corpus.py says why)")
    return resolve_project(loaded, golden.FACTS)


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_plan_invariants(project: Path) -> None:
    """Groups are web then workers with platform names; relationships reach existing endpoints; mounts are normalised."""
    plan = _valid_plan(project)
    services = {s.name: s for s in plan.services}
    apps = {a.name for a in plan.apps}
    for app in plan.apps:
        assert app.groups[0].kind is GroupKind.WEB and all(g.kind is GroupKind.WORKER for g in app.groups[1:])
        assert len({g.name for g in app.groups}) == len(app.groups)
        for group in app.groups:
            expected_name = app.name if group.is_web else f"{app.name}--{group.name}"
            assert group.instance_name == group.environment["PLATFORM_APPLICATION_NAME"] == expected_name
            if not group.is_web:
                assert group.commands is not None and group.socket_family is None
                assert not {"PORT", "SOCKET", "PLATFORM_APP_COMMAND"} & set(group.environment)
            for rel in group.relationships:
                assert rel.service in services or rel.service in apps, rel
                service = services.get(rel.service)
                if service is not None and service.kind in _KNOWN_ENDPOINTS:
                    assert service.endpoint(rel.endpoint) is not None, (rel, [e.name for e in service.endpoints])
                elif rel.service in apps:
                    assert rel.endpoint == "http"
            for mount in group.mounts:
                assert mount.path == mount.path.strip("/") and mount.source_path == mount.source_path.strip("/")
                assert mount.scope in _SCOPES[mount.source], mount
    json.dumps(plan.to_json())


@pytest.mark.parametrize("project", PROJECTS[:12], ids=[p.name for p in PROJECTS[:12]])
def test_resolution_is_pure(project: Path) -> None:
    """Resolving the same files with the same host facts twice gives equal plans."""
    assert _valid_plan(project) == _valid_plan(project)


def test_a_default_endpoint_the_service_lacks_is_rejected(make_project: Callable[..., Path]) -> None:
    """`reports:` on a MariaDB whose endpoints do not include `mysql` is a configuration error."""
    root = make_project(
        {
            ".upsun/config.yaml": (
                "applications:\n"
                "  app:\n"
                "    type: python:3.12\n"
                "    relationships:\n"
                "      reports:\n"
                "services:\n"
                "  reports:\n"
                "    type: mariadb:11.4\n"
                "    configuration:\n"
                "      schemas: [main]\n"
                "      endpoints:\n"
                "        admin:\n"
                "          default_schema: main\n"
                "          privileges: {main: admin}\n"
            )
        }
    )
    assert [d.code for d in read_config(root).diagnostics.errors] == ["unknown-endpoint"]
