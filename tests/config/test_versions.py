"""Service and runtime versions are checked against the platform's registry (`sunup.config.versions`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from sunup.config import read_config
from sunup.config.schema import RUNTIMES, SERVICE_TYPES
from sunup.config.versions import VERSIONS, Status, version_status

#: Types the registry has no entry for, so their versions are not checked.
UNCHECKED = {"bun"}


def _diagnostics(make_project: Callable[..., Path], app_type: str, service_type: str) -> dict[str, tuple[str, str]]:
    root = make_project(
        {
            ".upsun/config.yaml": (
                f"applications:\n  app:\n    type: {app_type!r}\nservices:\n  db:\n    type: {service_type!r}\n"
            )
        }
    )
    loaded = read_config(root)
    return {str(d.path): (d.code, f"{d.severity.value}: {d.message} / {d.hint}") for d in loaded.diagnostics}


def test_a_version_that_never_existed_is_an_error_listing_the_valid_ones(make_project: Callable[..., Path]) -> None:
    """`mariadb:9.9` and `python:3.99` are errors whose hints list the versions the platform offers."""
    found = _diagnostics(make_project, "python:3.99", "mariadb:9.9")
    code, text = found["services.db.type"]
    assert code == "unknown-version" and text.startswith("error: ")
    assert "supported: " + ", ".join(VERSIONS["mariadb"].supported) in text
    code, text = found["applications.app.type"]
    assert code == "unknown-version" and "3.14" in text and "'3.99'" in text


def test_a_runtime_without_version_is_an_error(make_project: Callable[..., Path]) -> None:
    """`type: python` is an error (the platform requires runtime:version); the hint names the versions."""
    found = _diagnostics(make_project, "python", "redis:8.0")
    code, text = found["applications.app.type"]
    assert code == "missing-version" and text.startswith("error: ") and "python:<version>" in text
    assert "supported: 3.14, 3.13" in text


def test_supported_versions_give_no_diagnostic_and_old_ones_a_warning(make_project: Callable[..., Path]) -> None:
    """A supported version is silent; a deprecated one and a retired one (once offered) are warnings only."""
    assert _diagnostics(make_project, "python:3.14", "postgresql:18") == {}
    found = _diagnostics(make_project, "php:8.2", "postgresql:9.6")
    assert found["applications.app.type"][0] == "deprecated-version"
    assert found["services.db.type"][0] == "retired-version"
    assert all(text.startswith("warning: ") for _, text in found.values())


@pytest.mark.parametrize(("kind", "base"), [("redis-persistent", "redis"), ("postgresql-replica", "postgresql")])
def test_variants_have_the_versions_of_their_base_type(kind: str, base: str) -> None:
    """`redis-persistent` is offered in redis's versions, `postgresql-replica` in PostgreSQL's."""
    assert VERSIONS[kind] == VERSIONS[base]
    assert version_status(kind, VERSIONS[base].supported[0]) == (Status.SUPPORTED, VERSIONS[base])


def test_every_type_sunup_knows_has_a_version_table() -> None:
    """Each service type and runtime of the schema has versions (but the ones the registry lacks)."""
    assert (set(SERVICE_TYPES) | set(RUNTIMES)) - UNCHECKED <= set(VERSIONS)
    assert version_status("bun", "1.0") is None


def test_the_table_is_well_formed() -> None:
    """Versions are dotted numbers, each in one list only, and every type offers or once offered one."""
    for kind, versions in VERSIONS.items():
        every = [*versions.supported, *versions.deprecated, *versions.retired]
        assert every, kind
        assert len(every) == len(set(every)), f"{kind} lists a version twice"
        assert all(re.fullmatch(r"\d+(\.\d+)*", v) for v in every), kind
