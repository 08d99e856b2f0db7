"""The SQL that gives each endpoint exactly its privileges (pure)."""

from __future__ import annotations

import pytest

from sunup.plan.model import EndpointPlan, ServicePlan, frozen_map
from sunup.services import grants

MARIADB = ServicePlan(
    "db", "mariadb:10.11", "mariadb", "10.11", "mysql",
    (
        EndpointPlan("admin", "main", frozen_map({"main": "admin"})),
        EndpointPlan("writer", "main", frozen_map({"main": "rw"})),
        EndpointPlan("reader", "main", frozen_map({"main": "ro", "other": "ro"})),
    ),
    schemas=("main", "other"),
)  # fmt: skip
POSTGRES = ServicePlan("pg", "postgresql:15", "postgresql", "15", "pgsql", MARIADB.endpoints, schemas=("main", "other"))
PASSWORDS = {"admin": "a", "writer": "w", "reader": "r"}


@pytest.mark.parametrize(
    ("endpoint", "grant"),
    [
        ("admin", "GRANT ALL PRIVILEGES ON `main`.* TO 'admin'@'%'"),
        ("writer", "GRANT SELECT, INSERT, UPDATE, DELETE ON `main`.* TO 'writer'@'%'"),
        ("reader", "GRANT SELECT ON `main`.* TO 'reader'@'%'"),
        ("reader", "GRANT SELECT ON `other`.* TO 'reader'@'%'"),
    ],
)
def test_mariadb_grants_by_level(endpoint: str, grant: str) -> None:
    """ro is SELECT, rw adds INSERT/UPDATE/DELETE (no DDL), admin is ALL, per schema."""
    assert grant in grants.mariadb_statements(MARIADB, PASSWORDS)


def test_mariadb_takes_away_before_granting_and_drops_removed_endpoints() -> None:
    """Every user loses all privileges before its grants, and users of removed endpoints are dropped."""
    statements = grants.mariadb_statements(MARIADB, PASSWORDS, removed=["old"])
    revoke = statements.index("REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'writer'@'%'")
    assert revoke < statements.index("GRANT SELECT, INSERT, UPDATE, DELETE ON `main`.* TO 'writer'@'%'")
    assert "DROP USER IF EXISTS 'old'@'%'" in statements
    assert statements[0].startswith("CREATE DATABASE IF NOT EXISTS `main`")


@pytest.mark.parametrize(
    ("value", "literal"),
    [("plain", "'plain'"), ("it's", "'it''s'"), ("back\\slash", "'back\\\\slash'")],
)
def test_sql_string_escapes(value: str, literal: str) -> None:
    """String literals double quotes and backslashes."""
    assert grants.sql_string(value) == literal


def test_postgres_database_access_follows_privileges() -> None:
    """PUBLIC loses CONNECT; admin gets ALL on its database, ro/rw only CONNECT and TEMPORARY."""
    statements = grants.postgres_server_statements(POSTGRES, PASSWORDS)
    assert 'REVOKE ALL ON DATABASE "main" FROM PUBLIC' in statements
    assert 'GRANT ALL ON DATABASE "main" TO "admin"' in statements
    assert 'GRANT CONNECT, TEMPORARY ON DATABASE "main" TO "writer"' in statements
    assert 'GRANT CONNECT, TEMPORARY ON DATABASE "other" TO "reader"' in statements
    assert not [s for s in statements if s.startswith("GRANT") and '"other" TO "writer"' in s]


def test_postgres_table_privileges_and_defaults_for_tables_to_come() -> None:
    """Inside a database: rw may write rows but not create; tables the admin makes later follow the levels."""
    statements = grants.postgres_database_statements(POSTGRES, "main")
    assert 'GRANT USAGE ON SCHEMA public TO "writer"' in statements
    assert 'GRANT ALL ON SCHEMA public TO "admin"' in statements
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "writer"' in statements
    assert 'ALTER DEFAULT PRIVILEGES FOR ROLE "admin" IN SCHEMA public GRANT SELECT ON TABLES TO "reader"' in statements
    assert not [s for s in statements if 'FOR ROLE "writer"' in s and " GRANT " in s]


def test_psql_script_terminates_statements() -> None:
    """SQL statements end with `;`, \\gexec lines end as they are."""
    assert grants.psql_script(["SELECT 1", "SELECT 'x'\\gexec"]) == "SELECT 1;\nSELECT 'x'\\gexec\n"
