"""`sunup config --json` is the stable, versioned document docs/config-json.md describes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sunup.cli.config_commands import CONFIG_JSON_VERSION, config_document
from sunup.plan.selection import select_groups
from sunup.project import load_plan
from tests.plan import golden

DOC = golden.REPO / "docs" / "config-json.md"
#: The JSON types the tables' "type" column names.
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "object": (dict,),
    "list of strings": (list,),
    "null": (type(None),),
    "boolean": (bool,),
}


def _documented() -> dict[str, list[tuple[str, str]]]:
    """{object: [(key, type)]} from the tables under "## The document" in docs/config-json.md."""
    text = DOC.read_text()
    section = text.split("## The document", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in section.splitlines():
        heading = re.match(r"^### (\w+)$", line)
        if heading:
            current = heading.group(1)
            tables[current] = []
        row = re.match(r"^\| `(\w+)` \| ([^|]+) \|", line)
        if row and current:
            tables[current].append((row.group(1), row.group(2).strip()))
    return tables


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sunup", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        check=False,
    )


def _documents() -> Iterator[dict[str, Any]]:
    """The whole-project document of every golden case."""
    for case in golden.cases():
        if not case.available:
            continue
        plan = golden.resolve(case.project)
        yield config_document(plan, select_groups(plan))


def _objects(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object of a document with the name of its table."""
    yield "document", document
    for app in document["apps"].values():
        yield "app", app
        yield "hooks", app["hooks"]
        for cron in app["crons"].values():
            yield "cron", cron
        for group in app["groups"].values():
            yield "group", group
            if group["commands"] is not None:
                yield "commands", group["commands"]
            yield "resources", group["resources"]
            for relationship in group["relationships"].values():
                yield "relationship", relationship
            for mount in group["mounts"].values():
                yield "mount", mount
            for location in group["locations"].values():
                yield "location", location
                yield "request_buffering", location["request_buffering"]
                for rule in location["rules"].values():
                    yield "rule", rule
    for service in document["services"].values():
        yield "service", service
        for endpoint in service["endpoints"].values():
            yield "endpoint", endpoint


OBJECTS = [pair for document in _documents() for pair in _objects(document)]
TABLES = _documented()


def test_every_object_of_the_document_has_a_table() -> None:
    """docs/config-json.md has one table per kind of object the document holds, and no other."""
    assert set(TABLES) == {name for name, _ in OBJECTS}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_objects_have_exactly_the_documented_keys_in_order(name: str) -> None:
    """Every object has the keys its table lists, in that order: none missing, none undocumented."""
    keys = [key for key, _ in TABLES[name]]
    samples = [obj for kind, obj in OBJECTS if kind == name]
    assert samples, f"no golden case yields a {name} object"
    for obj in samples:
        assert list(obj) == keys


@pytest.mark.parametrize("name", sorted(TABLES))
def test_values_have_the_documented_types(name: str) -> None:
    """Each value has the type its table states ("string or null" allows null)."""
    for key, written in TABLES[name]:
        allowed = tuple(t for part in written.split(" or ") for t in _TYPES[part])
        for kind, obj in OBJECTS:
            if kind == name:
                value = obj[key]
                assert isinstance(value, allowed), (name, key, value)
                assert not isinstance(value, bool) or bool in allowed, (name, key, value)


def test_list_values_hold_strings() -> None:
    """`stack` and `schemas` are lists of strings."""
    for kind, obj in OBJECTS:
        for key in {"app": "stack", "service": "schemas"}.get(kind, "").split():
            assert all(isinstance(item, str) for item in obj[key])


def test_version_is_one() -> None:
    """The document says which version of its shape it is: 1, until a breaking change."""
    assert CONFIG_JSON_VERSION == 1
    assert all(obj["version"] == 1 for kind, obj in OBJECTS if kind == "document")


def test_cli_prints_the_document_deterministically(seed_example: Path) -> None:
    """`sunup config --json` prints the plan's document, byte for byte the same on every run."""
    first, second = _run("-C", str(seed_example), "config", "--json"), _run("-C", str(seed_example), "config", "--json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    _, plan = load_plan(seed_example)
    assert json.loads(first.stdout) == config_document(plan, select_groups(plan))


def test_selection_narrows_groups_and_keeps_every_service(seed_example: Path) -> None:
    """`--worker mail` leaves only mail in `groups`; `services` still lists every service."""
    result = _run("-C", str(seed_example), "config", "--json", "--worker", "app--mail")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document["apps"]) == ["app"]
    assert list(document["apps"]["app"]["groups"]) == ["mail"]
    assert list(document["services"]) == ["mysql", "rabbitmq"]


def test_apps_without_a_selected_group_are_left_out() -> None:
    """With several apps, `-A frontend --web` leaves backend out of `apps`."""
    plan = golden.resolve(golden.case("multi-app").project)
    document = config_document(plan, select_groups(plan, "frontend", web=True))
    assert list(document["apps"]) == ["frontend"]
    assert list(document["apps"]["frontend"]["groups"]) == ["web"]
    assert list(document["services"]) == ["database"]


def test_order_of_names_follows_the_configuration(seed_example: Path) -> None:
    """Groups come web first, then workers in file order; relationships and mounts in file order."""
    document = json.loads(_run("-C", str(seed_example), "config", "--json").stdout)
    app = document["apps"]["app"]
    assert list(app["groups"]) == ["web", "queue", "mail"]
    assert list(app["groups"]["queue"]["relationships"]) == ["mysql", "rabbitmq"]


def test_errors_print_no_json(tmp_path: Path, seed_example: Path) -> None:
    """An invalid project exits 3 and an unknown worker exits 2, with nothing on stdout."""
    (tmp_path / ".upsun").mkdir()
    (tmp_path / ".upsun" / "config.yaml").write_text("applications:\n  app:\n    type: python:3.12\n    bogus: 1\n")
    invalid = _run("-C", str(tmp_path), "config", "--json")
    assert (invalid.returncode, invalid.stdout) == (3, "")
    unknown = _run("-C", str(seed_example), "config", "--json", "--worker", "nope")
    assert (unknown.returncode, unknown.stdout) == (2, "")
