"""MariaDB endpoints hold exactly their privileges, with real connections (spec §5)."""

from __future__ import annotations

import asyncio

import pytest

from sunup.plan.relationships import Credentials
from sunup.services import provider_for
from tests.services.conftest import RunningProject

pymysql = pytest.importorskip("pymysql", reason="the services tests need the dev extras (see .notes/services.md)")
OperationalError = pymysql.err.OperationalError


def connect(
    credentials: Credentials, *, database: str | None = None, password: str | None = None
) -> pymysql.Connection:
    return pymysql.connect(
        host=credentials.host,
        port=credentials.port,
        user=credentials.username,
        password=password if password is not None else credentials.password,
        database=database or credentials.path,
        connect_timeout=5,
        autocommit=True,
    )


def denied(credentials: Credentials, sql: str) -> bool:
    with connect(credentials) as connection, connection.cursor() as cursor:
        try:
            cursor.execute(sql)
        except OperationalError as exc:
            return exc.args[0] in (1142, 1044, 1143)  # command denied / access denied to database
    return False


@pytest.fixture(scope="module", autouse=True)
def table(running_project: RunningProject) -> None:
    """A table made by the admin endpoint, with one row."""
    with connect(running_project.credentials("db", "admin")) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS jobs (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT)")
        cursor.execute("INSERT INTO jobs (name) VALUES ('first')")


def test_admin_endpoint_can_create_tables(running_project: RunningProject) -> None:
    """An `admin` endpoint can CREATE and DROP tables in its schema."""
    with connect(running_project.credentials("db", "admin")) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE scratch (id INT)")
        cursor.execute("DROP TABLE scratch")


def test_ro_endpoint_reads_but_cannot_insert(running_project: RunningProject) -> None:
    """An `ro` endpoint can SELECT but not INSERT."""
    reader = running_project.credentials("db", "reader")
    with connect(reader) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM jobs")
        assert cursor.fetchone()[0] >= 1
    assert denied(reader, "INSERT INTO jobs (name) VALUES ('no')")


def test_rw_endpoint_writes_but_cannot_create_tables(running_project: RunningProject) -> None:
    """An `rw` endpoint can INSERT, UPDATE and DELETE but not CREATE or DROP a table."""
    writer = running_project.credentials("db", "writer")
    with connect(writer) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO jobs (name) VALUES ('rw')")
        cursor.execute("UPDATE jobs SET name = 'rw2' WHERE name = 'rw'")
        cursor.execute("DELETE FROM jobs WHERE name = 'rw2'")
    assert denied(writer, "CREATE TABLE sneaky (id INT)")
    assert denied(writer, "DROP TABLE jobs")


def test_endpoint_cannot_use_another_schema(running_project: RunningProject) -> None:
    """An endpoint with privileges on `other` only cannot open `main`."""
    other = running_project.credentials("db", "other")
    with pytest.raises(OperationalError) as caught:
        connect(other, database="main")
    assert caught.value.args[0] == 1044


def test_endpoint_password_does_not_open_another_user(running_project: RunningProject) -> None:
    """A user of one endpoint cannot log in as another with its own password."""
    reader = running_project.credentials("db", "reader")
    admin = running_project.credentials("db", "admin")
    with pytest.raises(OperationalError) as caught:
        connect(Credentials(admin.host, admin.port, admin.username, None, admin.path), password=reader.password)
    assert caught.value.args[0] == 1045
    with pytest.raises(OperationalError):
        connect(Credentials(admin.host, admin.port, "root", None, None), password="")


def test_provision_is_idempotent(running_project: RunningProject) -> None:
    """Provisioning again keeps data, users and passwords as they were."""
    service = running_project.plan.service("db")
    assert service is not None
    provider = provider_for(service, running_project.manager.providers["db"].home.root.parent)
    again = asyncio.run(provider.provision())
    assert again["reader"] == running_project.credentials("db", "reader")
    with connect(again["reader"]) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT name FROM jobs WHERE name = 'first'")
        assert cursor.fetchone() is not None
