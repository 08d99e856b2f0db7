"""`sunup mount:list`: the mounts of an app or worker, who shares them, and their folders on the host.

Read from the configuration and the state folder; no supervisor is needed. docs/mounts.md tells
the rules; the JSON form is a list of mounts, each with ``folders`` mapping every instance of the
group (``queue.0``) to the host folder it sees.
"""

from __future__ import annotations

from typing import Any

import click

from sunup.cli import output
from sunup.errors import EXIT_OK
from sunup.mounts.volumes import host_folder, shared_by, storage_services
from sunup.plan.model import GroupPlan, ProjectPlan
from sunup.supervisor.statedir import StateDir


def mount_rows(plan: ProjectPlan, groups: list[GroupPlan], state: StateDir) -> list[dict[str, Any]]:
    """One item per mount of each group (the JSON of `mount:list --json`)."""
    network_storage = storage_services(plan)
    items: list[dict[str, Any]] = []
    for group in groups:
        for mount in group.mounts:
            folders = {
                name: str(host_folder(mount, index, state.root, network_storage))
                for index, name in enumerate(group.instance_names())
            }
            items.append(
                {
                    "app": group.app,
                    "group": group.name,
                    "instance_name": group.instance_name,
                    **mount.to_json(),
                    "shared_by": shared_by(mount, group),
                    "folders": folders,
                }
            )
    return items


def _table_rows(items: list[dict[str, Any]], with_group: bool) -> list[list[str]]:
    rows: list[list[str]] = []
    for item in items:
        source = item["source"] + (f" (service: {item['service']})" if item["service"] else "")
        first = [item["instance_name"]] if with_group else []
        folders: dict[str, str] = item["folders"]
        if item["scope"] in ("instance", "tmp"):
            shown = [f"{name}: {folder}" for name, folder in folders.items()]
        else:
            shown = sorted(set(folders.values()))
        for number, folder in enumerate(shown or ["(no instance)"]):
            if number == 0:
                rows.append([*first, item["path"], source, item["shared_by"], folder])
            else:
                rows.append([*([""] if with_group else []), "", "", "", folder])
    return rows


@click.command(name="mount:list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("-A", "--app", "app", metavar="APP", help="The application (needed with several apps).")
@click.option("--web", "web", is_flag=True, help="The web instances' mounts (the default).")
@click.option("--worker", "worker", metavar="W", help="A worker's mounts: `queue` or `app--queue`.")
@click.option("--all", "every", is_flag=True, help="The mounts of the web instances and of every worker.")
@click.pass_context
def mount_list(
    ctx: click.Context, *, as_json: bool, app: str | None, web: bool, worker: str | None, every: bool
) -> int:
    """List the mounts: path, source, who shares the files, and the folder on this machine."""
    from sunup.errors import SelectionError
    from sunup.plan.selection import select_app, select_groups
    from sunup.project import load_plan

    if web and worker:
        raise SelectionError("choose --web or --worker, not both")
    origin = ctx.find_object(output.Context)
    loaded, plan = load_plan(origin.project_dir if origin else None)
    if every and (web or worker):
        raise SelectionError("--all lists every group; leave out --web and --worker")
    groups = list(select_app(plan, app).groups) if every else select_groups(plan, app, web=not worker, worker=worker)
    items = mount_rows(plan, groups, StateDir.for_project(loaded.root))
    if as_json:
        output.json_data(items)
    elif not items:
        names = ", ".join(g.instance_name for g in groups)
        output.info(f"{names} {'has' if len(groups) == 1 else 'have'} no mounts")
    else:
        headers = ["path", "source", "shared by", "folder on this machine"]
        output.table(["name", *headers] if every else headers, _table_rows(items, with_group=every))
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(mount_list)
