"""Real clients read the relationships environment unchanged, and an instance gets only its own."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sunup.plan.relationships import relationships_environment
from tests.services.conftest import RunningProject

pymysql = pytest.importorskip("pymysql", reason="the services tests need the dev extras (see .notes/services.md)")
pytest.importorskip("platformshconfig", reason="the services tests need the dev extras (see .notes/services.md)")
OperationalError = pymysql.err.OperationalError

READER = """
import json
from platformshconfig import Config
config = Config()
print(json.dumps({
    "valid": config.is_valid_platform(),
    "in_build": config.in_build(),
    "credentials": {rel: config.credentials(rel) for rel in json.loads(config["RELATIONSHIPS_NAMES"])},
}))
"""


def instance_env(running_project: RunningProject, group_name: str) -> dict[str, str]:
    app = running_project.plan.apps[0]
    group = app.group(group_name)
    assert group is not None
    computed = relationships_environment(group, running_project.plan, running_project.access)
    assert computed.warnings == ()
    env = {"PATH": "/usr/bin:/bin", **group.environment, **computed.variables}
    env["PLATFORM_RELATIONSHIPS_NAMES"] = json.dumps([r.name for r in group.relationships])
    return env


def read_with_platformshconfig(env: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", READER], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return dict(json.loads(result.stdout))


def test_platformshconfig_reads_every_relationship_of_web(running_project: RunningProject) -> None:
    """`platformshconfig` in an instance gives the provisioned credentials for every relationship."""
    env = instance_env(running_project, "web")
    seen = read_with_platformshconfig(env)
    assert seen["valid"] is True and seen["in_build"] is False
    credentials = seen["credentials"]
    assert isinstance(credentials, dict)
    for rel in running_project.plan.apps[0].web.relationships:
        expected = running_project.credentials(rel.service, rel.endpoint)
        entry = credentials[rel.name]
        assert (entry["host"], entry["port"], entry["username"], entry["password"], entry["path"]) == (
            expected.host,
            expected.port,
            expected.username,
            expected.password,
            expected.path,
        )
    assert credentials["database"]["scheme"] == "mysql" and credentials["database"]["query"] == {"is_master": True}
    assert credentials["pgdb"]["scheme"] == "pgsql"
    assert credentials["queue"]["scheme"] == "amqp" and credentials["queue"]["query"] == []


def test_service_variables_connect_as_written(running_project: RunningProject) -> None:
    """DATABASE_HOST, DATABASE_PORT, DATABASE_USERNAME, DATABASE_PASSWORD and DATABASE_PATH open MariaDB."""
    env = instance_env(running_project, "web")
    assert env["DATABASE_URL"].startswith("mysql://admin:")
    assert env["DATABASE_QUERY"] == '{"is_master":true}' and env["DATABASE_PUBLIC"] == "false"
    with pymysql.connect(
        host=env["DATABASE_HOST"],
        port=int(env["DATABASE_PORT"]),
        user=env["DATABASE_USERNAME"],
        password=env["DATABASE_PASSWORD"],
        database=env["DATABASE_PATH"],
        connect_timeout=5,
    ) as connection:
        assert connection.open


def test_worker_without_database_relationship_cannot_reach_mariadb(running_project: RunningProject) -> None:
    """`mail` has only `queue`: no database variables, and nothing it holds opens MariaDB."""
    env = instance_env(running_project, "mail")
    assert not [name for name in env if name.startswith(("DATABASE_", "REPORTS_", "PGDB_", "CACHE_"))]
    seen = read_with_platformshconfig(env)
    assert set(seen["credentials"]) == {"queue"}
    db = running_project.credentials("db", "admin")
    for user in ("rabbitmq", "root", "admin", ""):
        with pytest.raises(OperationalError):
            pymysql.connect(host=db.host, port=db.port, user=user, password=env["QUEUE_PASSWORD"], connect_timeout=5)
