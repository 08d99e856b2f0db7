"""Reading the golden cases of tests/data/golden/ and comparing a plan with their expected facts.

A case is a folder holding a project (``.upsun/`` or the legacy Platform.sh files) and an
``expected.yaml`` that states facts about the plan it resolves to. The format of
``expected.yaml`` is described in tests/data/golden/README.md; in short, mappings are partial
(only the keys written are checked) except where a fact is a whole set:

- ``apps``, ``services``, ``groups`` (in order), ``mounts``, ``crons``, ``endpoints``,
  ``locations``, ``rules``: the keys
  written are all the keys there are; each value is checked partially;
- ``relationships`` (written ``name: "service:endpoint"``), ``variables``, ``access``,
  ``platform_variables`` (the decoded PLATFORM_VARIABLES), ``privileges``, ``schemas``: equal;
- ``environment``: these variables with these values; ``environment_absent``: not set at all;
- ``route_plans`` (keyed by ``original_url``, in order) and ``platform_routes`` (the decoded
  PLATFORM_ROUTES at `ADDRESS`, keyed by URL): the keys written are all the keys there are, in
  this order; each value is checked partially.

A case may resolve a project of the shared corpus (``corpus: <path under upsun-configs>``), read
from there, never copied; such a case is skipped when the corpus is not there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sunup.config import read_config
from sunup.plan.model import GroupPlan, ProjectPlan
from sunup.plan.resolve import HostFacts, resolve_project
from sunup.plan.routes import local_routes, platform_routes
from sunup.router.address import RouterAddress
from tests.conftest import CORPUS

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "data" / "golden"
#: The same host facts for every case, so that plans of different folders compare equal.
FACTS = HostFacts(project="goldenproject1", project_entropy="0123456789abcdef0123456789abcdef")
#: The router's address every case's PLATFORM_ROUTES is resolved at.
ADDRESS = RouterAddress(http_port=20080, https_port=20081)

#: Mappings whose keys are the whole set (values checked partially).
_KEY_SETS = frozenset({"apps", "services", "groups", "mounts", "crons", "endpoints", "locations", "rules"})
#: Values compared whole.
_WHOLE = frozenset({"relationships", "variables", "access", "platform_variables", "privileges", "schemas"})


@dataclass(frozen=True)
class Case:
    name: str
    folder: Path
    expected: Mapping[str, Any]

    @property
    def project(self) -> Path:
        """The project the case resolves: its own folder, ``project:`` relative to the repository,
        or ``corpus:`` relative to the shared corpus."""
        if "corpus" in self.expected:
            return CORPUS / self.expected["corpus"]
        written = self.expected.get("project")
        return REPO / written if written else self.folder

    @property
    def available(self) -> bool:
        """False for a corpus case when the corpus is not there."""
        return "corpus" not in self.expected or self.project.is_dir()


def cases() -> list[Case]:
    """Every folder of tests/data/golden/ that has an expected.yaml, by name."""
    found = []
    for expected in sorted(GOLDEN.glob("*/expected.yaml")):
        found.append(Case(expected.parent.name, expected.parent, yaml.safe_load(expected.read_text())))
    return found


def case(name: str) -> Case:
    return next(c for c in cases() if c.name == name)


def resolve(project: Path) -> ProjectPlan:
    """The plan of the project at `project`, which must have no configuration error."""
    loaded = read_config(project)
    errors = [f"{d.mark}: {d.code}: {d.message}" for d in loaded.diagnostics.errors]
    assert not errors, f"{project} has configuration errors:\n" + "\n".join(errors)
    return resolve_project(loaded, FACTS)


def group(plan: ProjectPlan, ref: str) -> GroupPlan:
    """The group named ``app.group`` (``app.web``, ``app.queue``)."""
    app_name, _, group_name = ref.partition(".")
    app = plan.app(app_name)
    assert app is not None, f"no app {app_name!r}"
    found = app.group(group_name)
    assert found is not None, f"app {app_name!r} has no group {group_name!r}"
    return found


def comparable_group(group: GroupPlan) -> dict[str, Any]:
    """A group's JSON without PLATFORM_APPLICATION, which carries the app's configuration as written."""
    data = group.to_json()
    data["environment"] = {k: v for k, v in data["environment"].items() if k != "PLATFORM_APPLICATION"}
    return data


def group_facts(group: GroupPlan) -> dict[str, Any]:
    """A group as expected.yaml states it (see the module docstring)."""
    data = group.to_json()
    data["relationships"] = {r.name: f"{r.service}:{r.endpoint}" for r in group.relationships}
    data["platform_variables"] = json.loads(base64.b64decode(group.environment["PLATFORM_VARIABLES"]))
    return data


def mismatches(case: Case, plan: ProjectPlan) -> list[str]:
    """Every way in which `plan` differs from the case's expected facts (empty when it matches)."""
    problems: list[str] = []
    expected = case.expected
    if "format" in expected:
        _match(expected["format"], plan.format, "format", problems)
    if "apps" in expected:
        _keys(expected["apps"], {a.name for a in plan.apps}, "apps", problems)
        for app_name, app_facts in expected["apps"].items():
            app = plan.app(app_name)
            if app is None:
                continue
            actual = app.to_json()
            for key, value in app_facts.items():
                if key == "groups":
                    names = [g.name for g in app.groups]
                    if list(value) != names:
                        problems.append(f"apps.{app_name}.groups: expected {list(value)}, got {names}")
                    for group_name, facts in value.items():
                        found = app.group(group_name)
                        if found is not None:
                            _group(facts, found, f"apps.{app_name}.groups.{group_name}", problems)
                elif key not in actual:
                    problems.append(f"apps.{app_name}.{key}: not a fact of an app")
                else:
                    _match(value, actual[key], f"apps.{app_name}.{key}", problems, key=key)
    for ref_a, ref_b in (expected.get("volumes") or {}).get("same", ()):
        a, b = _volume(plan, ref_a), _volume(plan, ref_b)
        if a != b:
            problems.append(f"volumes: {ref_a} ({a}) and {ref_b} ({b}) should be the same folder")
    for ref_a, ref_b in (expected.get("volumes") or {}).get("different", ()):
        a, b = _volume(plan, ref_a), _volume(plan, ref_b)
        if a == b:
            problems.append(f"volumes: {ref_a} and {ref_b} should not share a folder (both {a})")
    if "services" in expected:
        _match(expected["services"], {s.name: s.to_json() for s in plan.services}, "services", problems, key="services")
    if "route_plans" in expected:
        actual_routes = {r.original_url: r.to_json() for r in plan.route_plans}
        _ordered(expected["route_plans"], actual_routes, "route_plans", problems)
    if "platform_routes" in expected:
        document = platform_routes(local_routes(plan.route_plans, ADDRESS))
        _ordered(expected["platform_routes"], document, "platform_routes", problems)
    return problems


def _ordered(expected: Mapping[str, Any], actual: Mapping[str, Any], path: str, problems: list[str]) -> None:
    """The keys written are all the keys, in this order; each value checked partially."""
    if list(expected) != list(actual):
        problems.append(f"{path}: expected keys {list(expected)}, got {list(actual)}")
    for name, value in expected.items():
        if name in actual:
            _match(value, actual[name], f"{path}.{name}", problems)


def _volume(plan: ProjectPlan, ref: str) -> tuple[str, str]:
    """Where the mount ``app.group:path`` keeps its files: the volume and the folder in it."""
    group_ref, _, path = ref.partition(":")
    mount = next((m for m in group(plan, group_ref).mounts if m.path == path), None)
    assert mount is not None, f"{group_ref} has no mount {path!r}"
    return mount.volume, mount.source_path


def _group(facts: Mapping[str, Any], group: GroupPlan, path: str, problems: list[str]) -> None:
    actual = group_facts(group)
    for key, value in facts.items():
        if key == "environment_absent":
            present = [name for name in value if name in group.environment]
            if present:
                problems.append(f"{path}.environment: {present} should not be set")
        elif key not in actual:
            problems.append(f"{path}.{key}: not a fact of a group")
        else:
            _match(value, actual[key], f"{path}.{key}", problems, key=key)


def _keys(expected: Mapping[str, Any], actual: set[str] | Mapping[str, Any], path: str, problems: list[str]) -> None:
    if set(expected) != set(actual):
        problems.append(f"{path}: expected keys {sorted(expected)}, got {sorted(actual)}")


def _match(expected: Any, actual: Any, path: str, problems: list[str], *, key: str = "") -> None:
    if key in _WHOLE or not isinstance(expected, Mapping):
        if expected != actual:
            problems.append(f"{path}: expected {expected!r}, got {actual!r}")
        return
    if not isinstance(actual, Mapping):
        problems.append(f"{path}: expected a mapping {dict(expected)!r}, got {actual!r}")
        return
    if key in _KEY_SETS:
        _keys(expected, actual, path, problems)
    for sub, value in expected.items():
        if sub in actual:
            # The entries of a key set are named by the user: their names are no field names.
            _match(value, actual[sub], f"{path}.{sub}", problems, key="" if key in _KEY_SETS else sub)
        elif key not in _KEY_SETS:
            problems.append(f"{path}.{sub}: missing")
