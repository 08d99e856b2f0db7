"""PLATFORM_RELATIONSHIPS and the service variables, computed from the plan and credentials (pure)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sunup.plan.model import ProjectPlan
from sunup.plan.relationships import (
    ENTRY_KEYS,
    Credentials,
    entry_url,
    relationships_environment,
    variable_prefix,
    variable_value,
)
from sunup.project import load_plan

ACCESS = {
    ("mysql", "mysql"): Credentials("127.0.0.1", 41001, "mysql", "pw1", "main"),
    ("rabbitmq", "rabbitmq"): Credentials("127.0.0.1", 41002, "rabbitmq", "pw2", None),
}


@pytest.fixture(scope="module")
def seed(seed_example: Path) -> ProjectPlan:
    return load_plan(seed_example)[1]


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("database", "DATABASE"),
        ("my-db", "MY_DB"),
        ("db.v2", "DB_V2"),
        ("cache_1", "CACHE_1"),
        ("is_master", "IS_MASTER"),
    ],
)
def test_variable_prefix(name: str, prefix: str) -> None:
    """`<REL>` is upper-cased with every character outside [0-9A-Z_] replaced by `_`."""
    assert variable_prefix(name) == prefix


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (True, "true"), (False, "false"), (0, "0"), (3306, "3306"), ("main", "main"),
     ({"is_master": True}, '{"is_master":true}'), ([], "[]")],
)  # fmt: skip
def test_variable_value(value: Any, text: str) -> None:
    """null is empty, booleans are true/false, objects are compact JSON."""
    assert variable_value(value) == text


@pytest.mark.parametrize(
    ("entry", "url"),
    [
        (
            {"scheme": "mysql", "username": "u", "password": "p", "host": "h", "port": 1, "path": "main"},
            "mysql://u:p@h:1/main",
        ),
        ({"scheme": "redis", "username": None, "password": None, "host": "h", "port": 2, "path": None}, "redis://h:2"),
        (
            {"scheme": "amqp", "username": "u", "password": "p/@:", "host": "h", "port": 3, "path": "/"},
            "amqp://u:p%2F%40%3A@h:3/%2F",
        ),
        (
            {"scheme": "http", "username": None, "password": None, "host": "h", "port": 8000, "path": None},
            "http://h:8000",
        ),
    ],
)
def test_entry_url(entry: dict[str, Any], url: str) -> None:
    """`<REL>_URL` is scheme://user:pass@host:port/path, escaped, without the parts an entry lacks."""
    assert entry_url(entry) == url


def test_entries_have_exactly_the_platform_keys(seed: ProjectPlan) -> None:
    """Each entry has the platform's keys only, with the SQL query flag and the service's type."""
    computed = relationships_environment(seed.apps[0].web, seed, ACCESS)
    mysql = computed.relationships["mysql"][0]
    assert tuple(mysql) == ENTRY_KEYS
    assert mysql["query"] == {"is_master": True} and mysql["type"] == "mariadb:10.11" and mysql["rel"] == "mysql"
    assert computed.relationships["rabbitmq"][0]["query"] == []
    assert (
        mysql["public"] is False and mysql["host_mapped"] is False and mysql["epoch"] == 0 and mysql["fragment"] is None
    )


def test_platform_relationships_is_base64_json_of_the_entries(seed: ProjectPlan) -> None:
    """PLATFORM_RELATIONSHIPS decodes to the same document as the decoded relationships."""
    computed = relationships_environment(seed.apps[0].web, seed, ACCESS)
    decoded = json.loads(base64.b64decode(computed.variables["PLATFORM_RELATIONSHIPS"]))
    assert decoded == computed.relationships


@pytest.mark.parametrize(
    ("group", "present", "absent"),
    [
        ("web", {"MYSQL_HOST", "MYSQL_URL", "RABBITMQ_PASSWORD"}, set()),
        ("queue", {"MYSQL_PASSWORD", "RABBITMQ_URL"}, set()),
        ("mail", {"RABBITMQ_USERNAME", "RABBITMQ_URL"}, {"MYSQL_HOST", "MYSQL_PASSWORD", "MYSQL_URL"}),
    ],
)
def test_each_group_gets_exactly_its_relationships(
    seed: ProjectPlan, group: str, present: set[str], absent: set[str]
) -> None:
    """The seed's mail worker gets only rabbitmq; web and queue get both (after inheritance)."""
    chosen = seed.apps[0].group(group)
    assert chosen is not None
    variables = relationships_environment(chosen, seed, ACCESS).variables
    assert present <= set(variables) and not absent & set(variables)
    expected = {r.name for r in chosen.relationships}
    assert set(json.loads(base64.b64decode(variables["PLATFORM_RELATIONSHIPS"]))) == expected
    assert {name for name in variables if name.endswith("_URL")} == {f"{variable_prefix(n)}_URL" for n in expected}


def test_service_variables_cover_every_key(seed: ProjectPlan) -> None:
    """Every entry key becomes `<REL>_<KEY>`, and the values are the entry's."""
    variables = relationships_environment(seed.apps[0].web, seed, ACCESS).variables
    assert {f"MYSQL_{key.upper()}" for key in ENTRY_KEYS} <= set(variables)
    assert variables["MYSQL_PORT"] == "41001" and variables["MYSQL_PATH"] == "main"
    assert variables["RABBITMQ_PATH"] == "" and variables["MYSQL_URL"] == "mysql://mysql:pw1@127.0.0.1:41001/main"


def test_relationship_without_credentials_is_left_out_with_a_warning(seed: ProjectPlan) -> None:
    """A service that is not running is left out of the environment, and a warning says so."""
    only_queue = {("rabbitmq", "rabbitmq"): ACCESS[("rabbitmq", "rabbitmq")]}
    computed = relationships_environment(seed.apps[0].web, seed, only_queue)
    assert set(computed.relationships) == {"rabbitmq"}
    assert len(computed.warnings) == 1 and "'mysql'" in computed.warnings[0]


def test_relationship_to_another_app_uses_its_web_instance(make_project: Any) -> None:
    """A relationship to an app (endpoint http) gets that app's web host and port when given, else a warning."""
    root = make_project(
        {
            ".upsun/config.yaml": """
applications:
  front:
    type: "nodejs:20"
    web: {commands: {start: "node x"}}
    relationships:
      api: "back:http"
  back:
    type: "python:3.12"
    web: {commands: {start: "python x"}}
"""
        }
    )
    _, plan = load_plan(root)
    front = plan.app("front")
    assert front is not None
    missing = relationships_environment(front.web, plan, {})
    assert missing.relationships == {} and "application 'back'" in missing.warnings[0]
    given = relationships_environment(front.web, plan, {("back", "http"): Credentials("127.0.0.1", 8001)})
    entry = given.relationships["api"][0]
    assert (entry["scheme"], entry["host"], entry["port"], entry["type"]) == ("http", "127.0.0.1", 8001, "python:3.12")
    assert given.variables["API_URL"] == "http://127.0.0.1:8001"
