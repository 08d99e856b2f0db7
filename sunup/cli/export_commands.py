"""`sunup export kubernetes`: the project's plan as Kubernetes objects, in YAML.

The exporter (`sunup.export.kubernetes`) returns data; this module computes the host facts it
takes (each app's tree id, the project's password secret), serialises the objects and writes
them: one multi-document stream on stdout, or one file per object in `-o DIR` (numbered in apply
order, so `kubectl apply -f DIR` applies them in that order). Warnings go to stderr and, as
comments, into the YAML.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from sunup.cli import output, yamlemit
from sunup.errors import EXIT_OK

#: The first line of every file sunup writes: files starting so are its own (and may be replaced).
HEADER = "# Written by `sunup export kubernetes`: edit the configuration and export again."
_OWN_FILE = re.compile(r"^[0-9]{3,}-[a-z0-9-]+\.yaml$")


@click.group()
def export() -> None:
    """Write the project for another system to run (Kubernetes)."""


@export.command()
@click.option(
    "-o",
    "--output",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Write one file per object into DIR (default: YAML on stdout).",
)
@click.option("--namespace", default="default", metavar="NS", show_default=True, help="The namespace of every object.")
@click.option(
    "--image",
    default=None,
    metavar="IMAGE",
    help="The image of the apps: a name, or a template with {app} and {tree} [sunup/{app}:{tree}].",
)
@click.option(
    "--services",
    "services_mode",
    type=click.Choice(["in-cluster", "external"]),
    default="in-cluster",
    show_default=True,
    help="Run the services as StatefulSets, or point at servers run elsewhere.",
)
@click.option(
    "--storage-class",
    default=None,
    metavar="CLASS",
    help="The ReadWriteMany StorageClass of storage mounts (default: the cluster's default).",
)
@click.option("--domain", default=None, metavar="DOMAIN", help="The domain {default} stands for in routes.")
@click.pass_context
def kubernetes(  # noqa: PLR0917 (click passes each option as an argument)
    ctx: click.Context,
    directory: Path | None,
    namespace: str,
    image: str | None,
    services_mode: str,
    storage_class: str | None,
    domain: str | None,
) -> int:
    """The project as Kubernetes objects, in YAML.

    Every app, worker, cron, hook, mount, service, relationship and route (docs/kubernetes.md).
    Exit status as `sunup validate` for a configuration with errors."""
    from sunup.export.kubernetes import DEFAULT_IMAGE, ExportOptions, ServicesMode, export_project
    from sunup.export.kubernetes.naming import DNS_LABEL
    from sunup.project import load_plan

    if not DNS_LABEL.match(namespace) or len(namespace) > 63:
        raise click.BadParameter(
            "a namespace is a DNS-1123 label (lowercase letters, digits, '-')", param_hint="--namespace"
        )
    start = ctx.find_object(output.Context)
    loaded, plan = load_plan(start.project_dir if start else None)
    for warning in loaded.diagnostics.warnings:
        output.echo(output.render_diagnostic(warning, loaded.positions.sources), err=True)
    options = ExportOptions(
        namespace=namespace,
        image=image or DEFAULT_IMAGE,
        services=ServicesMode(services_mode),
        tree_ids=_tree_ids(loaded.root, plan),
        storage_class=storage_class,
        secret=_secret(loaded.root),
        domain=domain,
    )
    result = export_project(plan, options)
    for message in result.warnings:
        output.warning(message)
    if directory is None:
        output.data(to_yaml(result.objects, result.warnings).rstrip("\n"))
    else:
        written = write_files(directory, result.objects, result.warnings)
        output.info(f"wrote {len(written)} files into {directory}")
    return EXIT_OK


def _tree_ids(root: Path, plan: Any) -> dict[str, str]:
    """The tree id of each app's build, as `sunup up` computes it (the image's tag)."""
    from sunup.build.builder import build_config
    from sunup.build.tree import source_files, tree_id

    ids = {}
    for app in plan.apps:
        source = root / app.source_root
        if not source.is_dir():
            output.warning(f"the source folder of '{app.name}' ({source}) does not exist: its image has no tree id")
            continue
        variables = {k: dict(v) for k, v in app.web.variables.items()}
        ids[app.name] = tree_id(source, source_files(source), build_config(app, variables))
    return ids


def _secret(root: Path) -> bytes:
    """The project's password secret, the one the local services use (made on first use)."""
    from sunup.services.secret import project_secret
    from sunup.supervisor.statedir import StateDir

    return project_secret(StateDir.for_project(root).root / "services")


# -- serialising ------------------------------------------------------------------------------


def _comments(lines: Iterable[str]) -> str:
    return "".join(f"# warning: {line}\n" for text in lines for line in text.splitlines())


def _document(item: dict[str, Any]) -> str:
    from sunup.export.kubernetes.objects import WARNING_ANNOTATION

    notes = ((item.get("metadata") or {}).get("annotations") or {}).get(WARNING_ANNOTATION)
    body = yamlemit.dump(item)
    return (_comments([notes]) if notes else "") + body


def to_yaml(objects: Iterable[dict[str, Any]], warnings: Iterable[str] = ()) -> str:
    """One YAML stream: the header and every warning as comments, then each object as a document."""
    head = HEADER + "\n" + _comments(warnings)
    return head + "".join(f"---\n{_document(item)}" for item in objects)


def file_name(index: int, item: dict[str, Any], width: int) -> str:
    return f"{index:0{width}d}-{str(item['kind']).lower()}-{item['metadata']['name']}.yaml"


def write_files(directory: Path, objects: tuple[dict[str, Any], ...], warnings: Iterable[str] = ()) -> list[Path]:
    """One file per object, numbered in apply order; the files of a former export are removed."""
    directory.mkdir(parents=True, exist_ok=True)
    width = max(3, len(str(len(objects))))
    written: list[Path] = []
    for index, item in enumerate(objects, start=1):
        path = directory / file_name(index, item, width)
        head = HEADER + "\n" + (_comments(warnings) if index == 1 else "")
        _write(path, head + _document(item))
        written.append(path)
    keep = {p.name for p in written}
    for old in directory.iterdir():
        if old.name not in keep and _OWN_FILE.match(old.name) and _is_own(old):
            old.unlink()
    return written


def _is_own(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == HEADER
    except (OSError, UnicodeDecodeError):
        return False


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def register(group: click.Group) -> None:
    from sunup.cli.kube_commands import image_context  # `sunup export image-context`

    export.add_command(image_context)
    group.add_command(export)
