"""`sunup services`, `sunup relationships` and `sunup sql` as a user runs them, on running servers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.services.conftest import RunningProject, make_state_dir


def sunup(state_dir: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NO_COLOR": "1", "SUNUP_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "sunup", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_services_lists_state_version_port_and_folder(running_project: RunningProject) -> None:
    """`sunup services --json` shows every service running, with its version, port and data folder."""
    result = sunup(running_project.state_dir, running_project.root, "services", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["db"]["state"] == "running" and rows["db"]["port"] == running_project.credentials("db", "admin").port
    assert rows["files"]["state"] == "ready" and rows["files"]["port"] is None
    assert all(row["version"] for row in rows.values() if row["name"] != "files")
    assert rows["db"]["size"] > 0


def test_relationships_shows_decoded_entries_with_url(running_project: RunningProject) -> None:
    """`sunup relationships --worker mail --json` shows only mail's relationship, with its URL."""
    result = sunup(running_project.state_dir, running_project.root, "relationships", "--worker", "mail", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert list(document) == ["queue"]
    credentials = running_project.credentials("queue", "rabbitmq")
    entry = document["queue"][0]
    assert entry["url"] == f"amqp://rabbitmq:{credentials.password}@127.0.0.1:{credentials.port}/jobs"


def test_relationships_as_yaml_for_web(running_project: RunningProject) -> None:
    """`sunup relationships` prints every relationship of the web instance, as the Upsun CLI does."""
    result = sunup(running_project.state_dir, running_project.root, "relationships")
    assert result.returncode == 0, result.stderr
    for rel in ("database:", "reports:", "pgdb:", "cache:", "queue:", "url: mysql://admin:"):
        assert rel in result.stdout


def test_sql_runs_the_client_on_the_chosen_relationship(running_project: RunningProject) -> None:
    """`sunup sql -r reports -- -e ...` runs mariadb as the reader endpoint; `-r pgdb` runs psql."""
    mariadb = sunup(
        running_project.state_dir, running_project.root, "sql", "-r", "reports", "--", "-e", "SELECT CURRENT_USER()"
    )
    assert mariadb.returncode == 0, mariadb.stderr
    assert "reader@%" in mariadb.stdout
    psql = sunup(
        running_project.state_dir, running_project.root, "sql", "-r", "pgdb", "--", "-tAc", "SELECT current_user"
    )
    assert psql.returncode == 0, psql.stderr
    assert psql.stdout.strip() == "admin"


def test_sql_needs_a_choice_among_several_databases(running_project: RunningProject) -> None:
    """With several database relationships and no -r, `sunup sql` names them and exits 2."""
    result = sunup(running_project.state_dir, running_project.root, "sql")
    assert result.returncode == 2
    assert "choose one with -r" in result.stderr and "database" in result.stderr


def test_commands_say_when_services_never_started(running_project: RunningProject) -> None:
    """With an empty state folder, the commands say the services were never started."""
    empty = make_state_dir()
    try:
        services = sunup(empty, running_project.root, "services")
        assert services.returncode == 0 and "never started" in services.stdout
        assert "sunup up" in services.stderr
        sql = sunup(empty, running_project.root, "sql", "-r", "database")
        assert sql.returncode == 1 and "has never been started" in sql.stderr
        relationships = sunup(empty, running_project.root, "relationships", "--json")
        assert relationships.returncode == 0 and json.loads(relationships.stdout) == {}
        assert "is not running" in relationships.stderr
    finally:
        shutil.rmtree(empty, ignore_errors=True)
