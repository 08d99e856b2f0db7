"""PostgreSQL endpoints hold exactly their privileges, with real connections (spec §5)."""

from __future__ import annotations

import pytest

from sunup.plan.relationships import Credentials
from tests.services.conftest import RunningProject

psycopg = pytest.importorskip("psycopg", reason="the services tests need the dev extras (see .notes/services.md)")


def connect(credentials: Credentials, *, dbname: str | None = None, password: str | None = None) -> psycopg.Connection:
    return psycopg.connect(
        host=credentials.host,
        port=credentials.port,
        user=credentials.username,
        password=password if password is not None else credentials.password,
        dbname=dbname or credentials.path,
        connect_timeout=5,
        autocommit=True,
    )


def denied(credentials: Credentials, sql: str) -> bool:
    with connect(credentials) as connection:
        try:
            connection.execute(sql)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


@pytest.fixture(scope="module", autouse=True)
def table(running_project: RunningProject) -> None:
    """A table made by the admin endpoint, with one row."""
    with connect(running_project.credentials("pg", "admin")) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS jobs (id SERIAL PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO jobs (name) VALUES ('first')")


def test_admin_endpoint_can_create_tables(running_project: RunningProject) -> None:
    """An `admin` endpoint can CREATE and DROP tables in its database."""
    with connect(running_project.credentials("pg", "admin")) as connection:
        connection.execute("CREATE TABLE scratch (id INT)")
        connection.execute("DROP TABLE scratch")


def test_ro_endpoint_reads_but_cannot_insert(running_project: RunningProject) -> None:
    """An `ro` endpoint can SELECT the admin's tables but not INSERT into them."""
    reader = running_project.credentials("pg", "reader")
    with connect(reader) as connection:
        row = connection.execute("SELECT COUNT(*) FROM jobs").fetchone()
        assert row is not None and row[0] >= 1
    assert denied(reader, "INSERT INTO jobs (name) VALUES ('no')")


def test_rw_endpoint_writes_but_cannot_create_tables(running_project: RunningProject) -> None:
    """An `rw` endpoint can INSERT (with the serial), UPDATE and DELETE but not CREATE a table or schema."""
    writer = running_project.credentials("pg", "writer")
    with connect(writer) as connection:
        connection.execute("INSERT INTO jobs (name) VALUES ('rw')")
        connection.execute("UPDATE jobs SET name = 'rw2' WHERE name = 'rw'")
        connection.execute("DELETE FROM jobs WHERE name = 'rw2'")
    assert denied(writer, "CREATE TABLE sneaky (id INT)")
    assert denied(writer, "CREATE SCHEMA sneaky")
    assert denied(writer, "DROP TABLE jobs")


def test_endpoint_cannot_connect_to_a_database_it_has_no_privilege_on(running_project: RunningProject) -> None:
    """No endpoint names `other`, so none can connect to it."""
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        connect(running_project.credentials("pg", "admin"), dbname="other")


def test_endpoint_password_does_not_open_another_role(running_project: RunningProject) -> None:
    """A role of one endpoint cannot log in as another with its own password, nor as the superuser."""
    reader = running_project.credentials("pg", "reader")
    admin = running_project.credentials("pg", "admin")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(admin, password=reader.password or "")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(Credentials(admin.host, admin.port, "sunup_admin", None, "postgres"), password=admin.password or "")
