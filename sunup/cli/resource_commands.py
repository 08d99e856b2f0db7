"""`sunup resources` and `sunup resources:set`: CPU, memory and instance counts (spec §7)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from sunup.cli import output
from sunup.errors import EXIT_OK, RuntimeFailure
from sunup.localsettings import read_settings, settings_lock, write_settings
from sunup.plan.model import ProjectPlan
from sunup.plan.resources import ResourceSetting
from sunup.plan.sizing import parse_counts, parse_sizes
from sunup.supervisor.statedir import StateDir, holder


def _load(ctx: click.Context) -> tuple[Path, ProjectPlan]:
    from sunup.project import load_plan

    origin = ctx.find_object(output.Context)
    loaded, plan = load_plan(origin.project_dir if origin else None)
    return loaded.root, plan


def _print_table(plan: ProjectPlan) -> None:
    rows = []
    for app in plan.apps:
        for group in app.groups:
            r = group.resources
            name = app.name if group.is_web else f"{app.name}--{group.name}"
            rows.append([name, "web" if group.is_web else "worker", f"{r.cpu:g}", r.memory_mb, r.profile, r.count])
    output.table(["name", "kind", "cpu", "memory (MB)", "profile", "instances"], rows)


@click.command(name="resources")
@click.pass_context
def resources(ctx: click.Context) -> int:
    """Show the CPU, memory and instance count of every app and worker."""
    _root, plan = _load(ctx)
    _print_table(plan)
    return EXIT_OK


@click.command(name="resources:set")
@click.option("--size", default="", metavar="NAME:CPU,...", help="CPU sizes, e.g. web:1,queue:0.25.")
@click.option("--count", default="", metavar="NAME:N,...", help="Instance counts, e.g. queue:3.")
@click.pass_context
def resources_set(ctx: click.Context, size: str, count: str) -> int:
    """Set the CPU size and instance count of apps and workers (kept on this machine).

    NAME is `web` (or the app's name) for the web instances, and a worker as `queue` or
    `app--queue`. Memory follows the container profile for the size (the table of spec §7).
    """
    if not size and not count:
        raise click.UsageError("give --size and/or --count")
    root, plan = _load(ctx)
    sizes, counts = parse_sizes(plan, size), parse_counts(plan, count)
    state = StateDir.for_project(root)
    with settings_lock(state.root):  # another resources:set at once waits, then keeps this change
        settings = dict(read_settings(state.root))
        for key in {*sizes, *counts}:
            current = settings.get(key) or ResourceSetting()
            settings[key] = dataclasses.replace(
                current,
                cpu=sizes.get(key, current.cpu),
                memory_mb=None if key in sizes else current.memory_mb,
                count=counts.get(key, current.count),
            )
        write_settings(state.root, settings)
    _root, updated = _load(ctx)
    _print_table(updated)
    if holder(state) is not None:
        if counts:
            _scale(state, counts)
        if sizes:
            output.info("sunup is running: run `sunup redeploy` to apply the new sizes")
    return EXIT_OK


def _scale(state: StateDir, counts: dict[str, int]) -> None:
    """Apply instance counts to the running supervisor: groups grow or shrink live."""
    from sunup.control.client import ControlClient, NotRunningError
    from sunup.control.protocol import ProtocolError

    try:
        result = ControlClient(state.socket, timeout=None).call("scale", counts=counts)
    except NotRunningError:
        return
    except ProtocolError as exc:
        raise RuntimeFailure(f"sunup runs, but could not scale: {exc.message}", hint=exc.hint) from None
    for change in result["groups"]:
        name = change["group"] if change["group"] == "web" else f"{change['app']}--{change['group']}"
        if change["before"] != change["after"]:
            output.info(f"{name}: {change['before']} → {change['after']} instances")


def register(cli: click.Group) -> None:
    cli.add_command(resources)
    cli.add_command(resources_set)
