"""PostgreSQL whose state folder is in a private folder (mode 0700, as `mktemp -d` makes, or
/root) while sunup runs as root: the server (run as `nobody`) still starts, keeps its data, and
its data stays in the state folder, unreadable by others."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from sunup.plan.model import EndpointPlan, ServicePlan, frozen_map
from sunup.services.location import services_dir
from sunup.services.manager import ServiceManager
from tests.services.conftest import require_binaries, start_bounded

psycopg = pytest.importorskip("psycopg", reason="the services tests need the dev extras (see .notes/services.md)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="as a regular user, postgres runs as that user: no folder to reach"),
]

SERVICE = ServicePlan(
    "db",
    "postgresql:15",
    "postgresql",
    "15",
    "pgsql",
    (EndpointPlan("postgresql", "main", frozen_map({"main": "admin"})),),
    schemas=("main",),
)


@pytest.fixture
def private() -> Iterator[Path]:
    """A folder of mode 0700 owned by root (what `mktemp -d` gives), removed at the end."""
    folder = Path(tempfile.mkdtemp(prefix="sunup-private-"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rows(manager: ServiceManager, access: dict[tuple[str, str], object], sql: str) -> list[tuple[object, ...]]:
    credentials = access[("db", "postgresql")]
    with psycopg.connect(
        host=credentials.host,  # type: ignore[attr-defined]
        port=credentials.port,  # type: ignore[attr-defined]
        user=credentials.username,  # type: ignore[attr-defined]
        password=credentials.password,  # type: ignore[attr-defined]
        dbname="main",
        connect_timeout=5,
        autocommit=True,
    ) as connection:
        cursor = connection.execute(sql)
        return cursor.fetchall() if cursor.description else []


def test_postgresql_runs_in_a_private_folder_as_root(private: Path) -> None:
    """A project state under a 0700 folder: PostgreSQL starts, serves, stops, starts again with
    its data, and that data is in the state folder (not readable by others)."""
    state = private / "project" / ".sunup"
    state.mkdir(parents=True)
    folder = services_dir(state)
    require_binaries((SERVICE,), folder)
    manager = ServiceManager((SERVICE,), folder)
    try:
        access = dict(asyncio.run(start_bounded(manager)))
        rows(manager, access, "CREATE TABLE kept (name TEXT)")
        rows(manager, access, "INSERT INTO kept VALUES ('across restarts')")
    finally:
        asyncio.run(manager.stop())
    data = manager.providers["db"].home.data
    assert (data / "PG_VERSION").is_file()
    assert not data.is_symlink() and data.resolve().is_relative_to(private.resolve())
    assert stat.S_IMODE(data.stat().st_mode) == 0o700

    again = ServiceManager((SERVICE,), folder)
    try:
        access = dict(asyncio.run(start_bounded(again)))
        assert rows(again, access, "SELECT name FROM kept") == [("across restarts",)]
    finally:
        asyncio.run(again.stop())


WITH_POSTGRESQL = """\
applications:
  app:
    type: "composable:25.05"
    relationships:
      database: "db:postgresql"
    web:
      commands:
        start: "exec sleep 1000"
services:
  db:
    type: postgresql:15
"""


def test_up_runs_postgresql_for_a_project_in_a_private_folder(private: Path) -> None:
    """`sunup up -d` of a project in a 0700 folder (the issue's case) starts PostgreSQL; `sunup
    sql` answers; a killed supervisor's server dies with it; nothing stays mounted on the host."""
    from tests.cli.test_runtime_commands import sunup, wait_gone

    root = private / "project"
    (root / ".upsun").mkdir(parents=True)
    (root / ".upsun" / "config.yaml").write_text(WITH_POSTGRESQL)
    try:
        started = sunup(root, "up", "-d", "--settle", "0.2", timeout=240)
        assert started.returncode == 0, started.stderr
        answer = sunup(root, "sql", "--", "-tAc", "SELECT 40 + 2")
        assert answer.stdout.strip() == "42", answer.stderr
        with open("/proc/self/mountinfo") as mounts:
            assert str(root) not in mounts.read()  # the bind is postgres's own
        server = json.loads(sunup(root, "ps", "--services", "--json").stdout)[0]["pid"]
        supervisor = int((root / ".sunup" / "supervisor.lock").read_text())
        os.kill(supervisor, signal.SIGKILL)
        assert wait_gone(supervisor, 10)
        assert wait_gone(server, 10), "postgres outlived its supervisor"
    finally:
        sunup(root, "down", timeout=120)
