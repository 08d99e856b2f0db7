"""`sunup validate`, `sunup config` and `sunup schema`: reading a project without running it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sunup.cli import output
from sunup.config import read_config
from sunup.config.loader import find_project_root
from sunup.config.schema import project_schema
from sunup.errors import EXIT_INVALID_CONFIG, EXIT_OK
from sunup.plan.model import GroupPlan, ProjectPlan
from sunup.plan.selection import select_groups

#: Version of the `sunup config --json` document (docs/config-json.md); bumped on breaking change.
CONFIG_JSON_VERSION = 1


def _root(ctx: click.Context) -> Path:
    start = ctx.find_object(output.Context)
    project_dir = start.project_dir if start else None
    return find_project_root(Path(project_dir) if project_dir else Path.cwd())


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the diagnostics as JSON.")
@click.pass_context
def validate(ctx: click.Context, as_json: bool) -> int:
    """Check the project's configuration and print every problem at once.

    Exit status: 0 when valid (warnings allowed), 3 when there are errors, 4 without a project.
    """
    loaded = read_config(_root(ctx))
    valid = not loaded.diagnostics.has_errors()
    if as_json:
        output.json_data(
            {
                "valid": valid,
                "format": loaded.format,
                "files": loaded.files,
                "diagnostics": [
                    {
                        "severity": d.severity.value,
                        "code": d.code,
                        "message": d.message,
                        "file": d.mark.file if d.mark else None,
                        "line": d.mark.line if d.mark else None,
                        "column": d.mark.column if d.mark else None,
                        "path": d.path,
                        "hint": d.hint,
                    }
                    for d in loaded.diagnostics.sorted()
                ],
            }
        )
        return EXIT_OK if valid else EXIT_INVALID_CONFIG
    output.diagnostics(loaded)
    if not valid:
        return EXIT_INVALID_CONFIG
    apps = loaded.data.get("applications") or {}
    workers = sum(len((a or {}).get("workers") or {}) for a in apps.values() if isinstance(a, dict))
    services = len(loaded.data.get("services") or {})
    output.info(
        f"{output.style('valid', fg='green', bold=True)}: {', '.join(loaded.files)} "
        f"({_count(len(apps), 'application')}, {_count(workers, 'worker')}, {_count(services, 'service')})"
    )
    return EXIT_OK


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


@click.command()
@click.option("-A", "--app", default=None, help="The application (optional with one app).")
@click.option("--web", is_flag=True, help="Only the web instance group.")
@click.option("--worker", default=None, metavar="NAME", help="Only this worker (`queue` or `app--queue`).")
@click.option("--json", "as_json", is_flag=True, help="Print the effective configuration as JSON.")
@click.pass_context
def config(ctx: click.Context, app: str | None, web: bool, worker: str | None, as_json: bool) -> int:
    """Show the effective configuration of each instance group, after inheritance."""
    from sunup.project import load_plan

    if web and worker:
        raise click.UsageError("--web and --worker are exclusive")
    start = ctx.find_object(output.Context)
    loaded, plan = load_plan(start.project_dir if start else None)
    for warning in loaded.diagnostics.warnings:
        output.echo(output.render_diagnostic(warning, loaded.positions.sources), err=True)
    groups = select_groups(plan, app, web=web, worker=worker)
    if as_json:
        output.json_data(config_document(plan, groups))
    else:
        _print_groups(plan, groups)
    return EXIT_OK


def config_document(plan: ProjectPlan, groups: list[GroupPlan]) -> dict[str, Any]:
    """The `sunup config --json` document (docs/config-json.md)."""
    chosen = {(g.app, g.name) for g in groups}
    apps: dict[str, Any] = {}
    for app in plan.apps:
        selected = [g for g in app.groups if (app.name, g.name) in chosen]
        if not selected:
            continue
        document = app.to_json()
        document["groups"] = {g.name: g.to_json() for g in selected}
        apps[app.name] = document
    return {
        "version": CONFIG_JSON_VERSION,
        "format": plan.format,
        "apps": apps,
        "services": {s.name: s.to_json() for s in plan.services},
    }


def _fpm_note(plan: ProjectPlan, group: GroupPlan) -> str:
    """What the default start of a PHP app's web runs (spec §12)."""
    from sunup.php import uses_fpm
    from sunup.php.settings import php_settings

    app = plan.app(group.app)
    if app is None or not uses_fpm(group):
        return ""
    children = php_settings(app, group).max_children
    return f"  (PHP-FPM, the default of php: pool of {children} children on the instance's socket)"


def _print_groups(plan: ProjectPlan, groups: list[GroupPlan]) -> None:
    bold = {"bold": True}
    for index, group in enumerate(groups):
        if index:
            output.data("")
        kind = "web" if group.is_web else "worker"
        title = f"{group.app} {group.name}" if not group.is_web else f"{group.app} web"
        output.data(output.style(f"{title}", **bold) + f"  ({kind}, {group.instance_name})")
        if group.commands:
            for key, value in (
                ("pre_start", group.commands.pre_start),
                ("start", group.commands.start),
                ("post_start", group.commands.post_start),
            ):
                if value:
                    note = _fpm_note(plan, group) if key == "start" else ""
                    output.data(f"  {key + ':':<18}{_one_line(value)}{note}")
        else:
            output.data(f"  {'start:':<18}(none: the web instance serves static files only)")
        r = group.resources
        instances = _count(r.count, "instance")
        output.data(f"  {'resources:':<18}{r.cpu:g} CPU, {r.memory_mb} MB ({r.profile}), {instances}")
        output.data(f"  {'access:':<18}" + ", ".join(f"{k}: {v}" for k, v in group.access.items()))
        output.data(f"  {'timezone:':<18}{group.timezone}")
        output.data(f"  {'relationships:':<18}" + ("" if group.relationships else "(none)"))
        for rel in group.relationships:
            service = plan.service(rel.service)
            what = f" ({service.type})" if service else ""
            output.data(f"    {rel.name} -> {rel.service}:{rel.endpoint}{what}")
        output.data(f"  {'mounts:':<18}" + ("" if group.mounts else "(none)"))
        for mount in group.mounts:
            sub = mount.source_path or "(whole volume)"
            output.data(f"    /{mount.path}  {mount.source}, shared by {_scope(mount.scope.value)}, source_path {sub}")
        env = {k: v for k, v in group.environment.items() if not k.startswith("PLATFORM_")}
        output.data(f"  {'variables:':<18}" + ("" if group.variables else "(none)"))
        for prefix, block in group.variables.items():
            for name, value in block.items():
                output.data(f"    {prefix}:{name} = {json.dumps(value)}")
        if env:
            output.data(f"  {'environment:':<18}" + " ".join(f"{k}={v}" for k, v in env.items()))


def _scope(scope: str) -> str:
    return {
        "group": "the instances of this group",
        "service": "every app naming the service",
        "instance": "this instance only",
        "tmp": "this instance only, wiped on down",
    }[scope]


def _one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0] + (f"  (+{len(lines) - 1} lines)" if len(lines) > 1 else "") if lines else ""


@click.command()
@click.option("--legacy", is_flag=True, help="The schema of the Platform.sh files instead.")
def schema(legacy: bool) -> int:
    """Print the JSON Schema sunup validates against (for editors)."""
    output.json_data(project_schema(legacy=legacy))
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(validate)
    cli.add_command(config)
    cli.add_command(schema)
