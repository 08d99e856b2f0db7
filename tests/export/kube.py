"""Helpers of the exporter's tests: plans of projects, exports with fixed options, strict schemas."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
from kubernetes_validate import utils as kv

from sunup.config import read_config
from sunup.export.kubernetes import Export, ExportOptions, ServicesMode, export_project
from sunup.plan.model import ProjectPlan
from sunup.plan.resolve import resolve_project
from tests.conftest import CORPUS, EXAMPLES, REPO
from tests.plan.golden import FACTS

SEED = EXAMPLES / "workers"
DATA = REPO / "tests" / "data" / "kubernetes"
#: The Kubernetes versions every export must be strictly valid for.
VERSIONS = ("1.29", "1.37")
#: Fixed options: no host facts (tree ids, the project secret) enter the golden files.
OPTIONS = ExportOptions(namespace="shop", secret=bytes(range(32)), tree_ids={"app": "1a2b3c4d5e6f" * 3 + "0000"})


def plan_of(project: Path) -> ProjectPlan:
    loaded = read_config(project)
    if loaded.diagnostics.has_errors():
        pytest.skip("invalid configuration (tests/config/test_corpus.py says why)")
    return resolve_project(loaded, FACTS)


def export_of(project: Path, **changes: Any) -> Export:
    options = OPTIONS if not changes else ExportOptions(**{**_fields(OPTIONS), **changes})
    return export_project(plan_of(project), options)


def _fields(options: ExportOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in options.__slots__}


def external() -> dict[str, Any]:
    return {"services": ServicesMode.EXTERNAL}


def corpus_projects() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator:
    """kubernetes-validate's own strict schema of `kind`, compiled once (its `validate` reads the
    definitions file again for each object: 16 ms an object)."""
    release = [v for v in kv.all_versions() if kv.major_minor(v) <= version][-1]
    folder = f"kubernetes-json-schema/v{release}-local-strict"
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = kv.schema_contents(f"{folder}/{kind.lower()}-{api}.json", version)
    definitions = kv.schema_contents(f"{folder}/_definitions.json", version)
    registry: referencing.Registry[Any] = referencing.Registry()
    registry = referencing.Resource.from_contents(schema) @ registry
    registry = referencing.Resource.from_contents(definitions) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def strict_errors(item: dict[str, Any], version: str) -> list[str]:
    validator = _validator(version, item["kind"], item["apiVersion"])
    return [f"{item['kind']}/{item['metadata']['name']} ({version}): {e.message}" for e in validator.iter_errors(item)]
