"""`sunup services`, `sunup relationships` and `sunup sql`: the project's services as a user sees them.

Until the supervisor serves this through its control socket, these read each service's state
file (``<state>/services/<name>/service.json``) and ask the server itself whether it runs (one
protocol ping), so they say plainly when a service is stopped or was never started.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import click
import yaml

from sunup.cli import output
from sunup.config.catalog import SQL_TYPES
from sunup.errors import EXIT_OK, RuntimeFailure, SelectionError
from sunup.plan.model import GroupPlan, ProjectPlan
from sunup.plan.relationships import AccessMap, Credentials, entry_url, relationships_environment
from sunup.plan.selection import select_groups
from sunup.services import provider_for
from sunup.services.location import default_state_dir, services_dir
from sunup.services.provider import ServiceProvider


def _project(ctx: click.Context) -> tuple[ProjectPlan, Path]:
    from sunup.project import load_plan

    start = ctx.find_object(output.Context)
    loaded, plan = load_plan(start.project_dir if start else None)
    return plan, services_dir(default_state_dir(loaded.root))


def _providers(plan: ProjectPlan, folder: Path) -> list[ServiceProvider]:
    return [provider_for(service, folder) for service in plan.services]


async def _probe_all(providers: list[ServiceProvider]) -> list[str | None]:
    return list(await asyncio.gather(*(p.probe() for p in providers)))


def _status(provider: ServiceProvider, reason: str | None) -> str:
    if provider.state() is None:
        return "never started"
    if provider.service.kind == "network-storage":
        return "ready" if reason is None else "missing"
    return "running" if reason is None else "stopped"


def _size(folder: Path) -> int:
    total = 0
    for path, _, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(path) / name).lstat().st_size
            except OSError:
                continue
    return total


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the services as JSON.")
@click.pass_context
def services(ctx: click.Context, as_json: bool) -> int:
    """Show each service: its state, version, port, data folder and size."""
    plan, folder = _project(ctx)
    providers = _providers(plan, folder)
    if not providers:
        output.info("the project has no services")
        return EXIT_OK
    reasons = asyncio.run(_probe_all(providers))
    rows: list[dict[str, Any]] = []
    for provider, reason in zip(providers, reasons, strict=True):
        state = provider.state()
        data = provider.home.data
        rows.append(
            {
                "name": provider.service.name,
                "type": provider.service.type,
                "state": _status(provider, reason),
                "version": state.version if state else None,
                "port": state.port if state and state.port else None,
                "data": str(data),
                "size": _size(data) if data.exists() else 0,
            }
        )
    if as_json:
        output.json_data(rows)
        return EXIT_OK
    output.table(
        ["name", "type", "state", "version", "port", "data folder", "size"],
        [[r["name"], r["type"], r["state"], r["version"], r["port"], r["data"], _human(r["size"])] for r in rows],
    )
    if any(r["state"] in ("stopped", "never started") for r in rows):
        output.info("services run while the project is up: start them with `sunup up`")
    return EXIT_OK


def _access(plan: ProjectPlan, folder: Path, group: GroupPlan) -> AccessMap:
    """Credentials of the services `group` relates to, with a warning for each one not running."""
    wanted = {r.service for r in group.relationships}
    providers = [p for p in _providers(plan, folder) if p.service.name in wanted]
    reasons = asyncio.run(_probe_all(providers))
    access: dict[tuple[str, str], Credentials] = {}
    for provider, reason in zip(providers, reasons, strict=True):
        credentials = provider.credentials()
        if provider.state() is None:
            continue
        if reason is not None:
            output.warning(f"service '{provider.service.name}' is not running; these are the credentials it will have")
        access.update({(provider.service.name, ep): c for ep, c in credentials.items()})
    return access


def _group(plan: ProjectPlan, app: str | None, worker: str | None) -> GroupPlan:
    """One group, as `upsun relationships` picks it: the app's web instance unless --worker."""
    return select_groups(plan, app, web=worker is None, worker=worker)[0]


def _relationship_documents(plan: ProjectPlan, folder: Path, group: GroupPlan) -> dict[str, list[dict[str, Any]]]:
    computed = relationships_environment(group, plan, _access(plan, folder, group))
    for warning in computed.warnings:
        output.warning(warning, hint="start the project's services with `sunup up`")
    return {
        rel: [{**entry, "url": entry_url(entry)} for entry in entries]
        for rel, entries in computed.relationships.items()
    }


@click.command()
@click.option("-A", "--app", default=None, help="The application (optional with one app).")
@click.option("--web", is_flag=True, help="The web instance (the default).")
@click.option("--worker", default=None, metavar="NAME", help="A worker (`queue` or `app--queue`).")
@click.option("--json", "as_json", is_flag=True, help="Print the relationships as JSON.")
@click.pass_context
def relationships(ctx: click.Context, app: str | None, web: bool, worker: str | None, as_json: bool) -> int:
    """Show the relationships an instance has, decoded, each with its URL (as `upsun relationships`)."""
    if web and worker:
        raise click.UsageError("--web and --worker are exclusive")
    plan, folder = _project(ctx)
    group = _group(plan, app, worker)
    documents = _relationship_documents(plan, folder, group)
    if as_json:
        output.json_data(documents)
    elif documents:
        output.data(yaml.safe_dump(documents, sort_keys=False, default_flow_style=False).rstrip())
    else:
        output.info(f"{group.instance_name} has no relationships it can use now")
    return EXIT_OK


def _sql_relationship(plan: ProjectPlan, group: GroupPlan, name: str | None) -> str:
    """The relationship to a database to open."""
    candidates = {
        r.name: service.kind
        for r in group.relationships
        if (service := plan.service(r.service)) is not None and service.kind in SQL_TYPES
    }
    if name is not None:
        if name not in candidates:
            known = ", ".join(candidates) or "none"
            raise SelectionError(
                f"{group.instance_name} has no database relationship '{name}'", hint=f"its databases: {known}"
            )
        return name
    if not candidates:
        raise SelectionError(f"{group.instance_name} has no relationship to a MariaDB, MySQL or PostgreSQL service")
    if len(candidates) > 1:
        raise SelectionError(
            f"{group.instance_name} has {len(candidates)} database relationships; choose one with -r",
            hint=f"relationships: {', '.join(candidates)}",
        )
    return next(iter(candidates))


def _client(
    provider: ServiceProvider, credentials: Credentials, extra: tuple[str, ...]
) -> tuple[list[str], dict[str, str]]:
    """The client program of `provider`'s engine, connected as `credentials`."""
    from sunup.services import mariadb, postgresql

    if isinstance(provider, postgresql.PostgresqlProvider):
        return postgresql.client_command(provider.client(), credentials, extra)
    if isinstance(provider, mariadb.MariadbProvider):
        return mariadb.client_command(provider.client(), credentials, extra)
    raise RuntimeFailure(f"service '{provider.service.name}' has no SQL client")


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("-r", "--relationship", default=None, metavar="REL", help="The database relationship to open.")
@click.option("-A", "--app", default=None, help="The application (optional with one app).")
@click.option("--worker", default=None, metavar="NAME", help="Use a worker's relationships instead of web's.")
@click.argument("extra", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def sql(
    ctx: click.Context, relationship: str | None, app: str | None, worker: str | None, extra: tuple[str, ...]
) -> int:
    """Open the database client (mariadb or psql) on a relationship, as `upsun sql` does.

    Arguments after `--` go to the client, e.g. `sunup sql -- -e 'SHOW TABLES'`.
    """
    plan, folder = _project(ctx)
    group = _group(plan, app, worker)
    rel_name = _sql_relationship(plan, group, relationship)
    rel = next(r for r in group.relationships if r.name == rel_name)
    service = plan.service(rel.service)
    if service is None:
        raise SelectionError(f"relationship '{rel_name}' names no service")
    provider = provider_for(service, folder)
    if provider.state() is None:
        raise RuntimeFailure(f"service '{service.name}' has never been started", hint="start it with `sunup up`")
    reason = asyncio.run(provider.probe())
    if reason is not None:
        raise RuntimeFailure(f"service '{service.name}' is not running ({reason})", hint="start it with `sunup up`")
    credentials = provider.credentials().get(rel.endpoint)
    if credentials is None:
        raise RuntimeFailure(f"service '{service.name}' has no endpoint '{rel.endpoint}'")
    argv, env = _client(provider, credentials, extra)
    return subprocess.run(argv, env={**os.environ, **env}, check=False).returncode


def register(cli: click.Group) -> None:
    cli.add_command(services)
    cli.add_command(relationships)
    cli.add_command(sql)
