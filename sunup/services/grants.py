"""The SQL that gives every endpoint exactly its privileges (pure: plan in, statements out).

Privileges per schema / database (spec §5):

| level | MariaDB | PostgreSQL |
|---|---|---|
| ro | SELECT | CONNECT; USAGE on schema public; SELECT on its tables and sequences |
| rw | SELECT, INSERT, UPDATE, DELETE (no DDL) | ro + INSERT, UPDATE, DELETE; USAGE on sequences |
| admin | ALL | ALL on the database, schema public and everything in it |

Each run first takes away what an endpoint had, then grants what it has now, so that running it
again after a configuration change leaves exactly the new privileges. Users of endpoints that
were removed from the configuration are dropped (MariaDB) or lose the right to log in (PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sunup.plan.model import ServicePlan

MARIADB_PRIVILEGES = {
    "ro": "SELECT",
    "rw": "SELECT, INSERT, UPDATE, DELETE",
    "admin": "ALL PRIVILEGES",
}
POSTGRES_TABLE_PRIVILEGES = {"ro": "SELECT", "rw": "SELECT, INSERT, UPDATE, DELETE", "admin": "ALL"}
POSTGRES_SEQUENCE_PRIVILEGES = {"ro": "SELECT", "rw": "USAGE, SELECT", "admin": "ALL"}


def sql_string(value: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def mariadb_name(value: str) -> str:
    return "`" + value.replace("`", "``") + "`"


def postgres_name(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def mariadb_statements(service: ServicePlan, passwords: Mapping[str, str], removed: Iterable[str] = ()) -> list[str]:
    """Schemas, one user per endpoint with exactly its privileges, and no user for `removed` endpoints."""
    statements = [
        f"CREATE DATABASE IF NOT EXISTS {mariadb_name(schema)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        for schema in service.schemas
    ]
    for endpoint in service.endpoints:
        user = f"{sql_string(endpoint.name)}@'%'"
        password = sql_string(passwords[endpoint.name])
        statements += [
            f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {password}",
            f"ALTER USER {user} IDENTIFIED BY {password}",
            f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {user}",
        ]
        statements += [
            f"GRANT {MARIADB_PRIVILEGES[level]} ON {mariadb_name(schema)}.* TO {user}"
            for schema, level in endpoint.privileges.items()
        ]
    statements += [f"DROP USER IF EXISTS {sql_string(name)}@'%'" for name in removed]
    statements.append("FLUSH PRIVILEGES")
    return statements


def postgres_server_statements(
    service: ServicePlan, passwords: Mapping[str, str], removed: Iterable[str] = ()
) -> list[str]:
    """Roles and databases, run connected to the `postgres` database (psql script, uses \\gexec)."""
    statements: list[str] = []
    for endpoint in service.endpoints:
        role = postgres_name(endpoint.name)
        statements += [
            f"SELECT 'CREATE ROLE {role}' WHERE NOT EXISTS "
            f"(SELECT FROM pg_roles WHERE rolname = {sql_string(endpoint.name)})\\gexec",
            f"ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            f"PASSWORD {sql_string(passwords[endpoint.name])}",
        ]
    for name in removed:
        statements.append(
            f"SELECT 'ALTER ROLE {postgres_name(name)} NOLOGIN' WHERE EXISTS "
            f"(SELECT FROM pg_roles WHERE rolname = {sql_string(name)})\\gexec"
        )
    for database in service.schemas:
        db = postgres_name(database)
        statements += [
            f"SELECT 'CREATE DATABASE {db} ENCODING ''UTF8''' WHERE NOT EXISTS "
            f"(SELECT FROM pg_database WHERE datname = {sql_string(database)})\\gexec",
            f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
        ]
        for endpoint in service.endpoints:
            role = postgres_name(endpoint.name)
            statements.append(f"REVOKE ALL ON DATABASE {db} FROM {role}")
            level = endpoint.privileges.get(database)
            if level == "admin":
                statements.append(f"GRANT ALL ON DATABASE {db} TO {role}")
            elif level in ("ro", "rw"):
                statements.append(f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}")
    return statements


def postgres_database_statements(service: ServicePlan, database: str) -> list[str]:
    """Privileges inside `database` (schema public, its tables, sequences, and future ones)."""
    statements: list[str] = []
    levels = {e.name: e.privileges.get(database) for e in service.endpoints}
    for name, level in levels.items():
        role = postgres_name(name)
        statements += [
            f"REVOKE ALL ON SCHEMA public FROM {role}",
            f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
            f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        ]
        if level is None:
            continue
        statements += [
            f"GRANT {'ALL' if level == 'admin' else 'USAGE'} ON SCHEMA public TO {role}",
            f"GRANT {POSTGRES_TABLE_PRIVILEGES[level]} ON ALL TABLES IN SCHEMA public TO {role}",
            f"GRANT {POSTGRES_SEQUENCE_PRIVILEGES[level]} ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ]
    # Tables that an admin endpoint creates later are visible to the others with their level.
    for creator, creator_level in levels.items():
        for name, level in levels.items():
            if name == creator:
                continue
            prefix = f"ALTER DEFAULT PRIVILEGES FOR ROLE {postgres_name(creator)} IN SCHEMA public"
            statements += [
                f"{prefix} REVOKE ALL ON TABLES FROM {postgres_name(name)}",
                f"{prefix} REVOKE ALL ON SEQUENCES FROM {postgres_name(name)}",
            ]
            if creator_level != "admin" or level is None:
                continue
            statements += [
                f"{prefix} GRANT {POSTGRES_TABLE_PRIVILEGES[level]} ON TABLES TO {postgres_name(name)}",
                f"{prefix} GRANT {POSTGRES_SEQUENCE_PRIVILEGES[level]} ON SEQUENCES TO {postgres_name(name)}",
            ]
    return statements


def psql_script(statements: Iterable[str]) -> str:
    """Statements as one psql script: `;` after SQL, nothing after a \\gexec line."""
    return "".join(f"{s}\n" if s.endswith("\\gexec") else f"{s};\n" for s in statements)
