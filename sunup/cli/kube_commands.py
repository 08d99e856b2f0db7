"""sunup in and for a cluster: `run-instance` (a container's command), `image-build` (a step of
the image's Containerfile) and `export image-context` (writes that Containerfile); `sunup deploy --to
kubernetes` dispatches here too (`deploy_to_kubernetes`). docs/kubernetes.md.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from sunup.cli import output
from sunup.errors import EXIT_OK


def _project_dir(ctx: click.Context) -> Path:
    origin = ctx.find_object(output.Context)
    if origin and origin.project_dir:
        return Path(origin.project_dir)
    return Path(os.environ.get("SUNUP_PROJECT") or Path.cwd())


@click.command("run-instance")
@click.option("--app", "app", required=True, metavar="APP", help="The application.")
@click.option("--group", "group", default="web", show_default=True, metavar="GROUP", help="`web` or a worker's name.")
@click.option("--index", "index", type=click.IntRange(min=0), default=0, show_default=True, help="Instance number.")
@click.option(
    "--listen",
    type=click.IntRange(min=0, max=65535),
    default=None,
    metavar="PORT",
    help="Web: the pod port forwarded to the app's PORT on 127.0.0.1 (8080; 0: none).",
)
@click.option(
    "--init/--no-init",
    "init",
    default=None,
    help="Reap orphans and forward signals as PID 1 does (default: when this is PID 1).",
)
@click.option(
    "--stop-grace", type=click.FloatRange(min=0), default=None, metavar="SECONDS", help="SIGTERM → SIGKILL delay (15)."
)
@click.option(
    "--hook",
    type=click.Choice(["deploy", "post_deploy", "post-deploy"]),
    default=None,
    help="Run this hook once, as web instance 0, and exit with its status.",
)
@click.option(
    "--cron", default=None, metavar="NAME", help="Run this cron once, as web instance 0, and exit with its status."
)
@click.pass_context
def run_instance(
    ctx: click.Context,
    *,
    app: str,
    group: str,
    index: int,
    listen: int | None,
    init: bool | None,
    stop_grace: float | None,
    hook: str | None,
    cron: str | None,
) -> int:
    """Run one instance of the plan in the foreground, as `sunup up` runs it: the container's
    command. Its output goes to stdout with UTC timestamps; SIGTERM stops it (SIGKILL of what is
    left after the grace) and ends the command. With --hook or --cron: that command once."""
    if hook is not None and cron is not None:
        raise click.UsageError("choose --hook or --cron, not both")
    if init or (init is None and os.getpid() == 1):
        from sunup.container.init import become_init

        become_init()
    from sunup.container.entrypoint import Request, run

    return run(
        Request(app, group, index, listen),
        project_dir=_project_dir(ctx),
        environ=os.environ,
        grace=stop_grace,
        hook=hook,
        cron=cron,
    )


@click.command("image-build", hidden=True)
@click.option("--app", "app", required=True, metavar="APP", help="The application to build in --app-dir.")
@click.option("--app-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("/app"), show_default=True)
@click.pass_context
def image_build(ctx: click.Context, app: str, app_dir: Path) -> int:
    """Build APP in its folder as it is (a step of the image's Containerfile): toolchain,
    dependencies, build hook, as `sunup up` builds it; record the toolchain for run-instance."""
    from sunup.container.imagebuild import build_image_app

    record = build_image_app(_project_dir(ctx), app, app_dir.absolute(), environ=os.environ, progress=output.info)
    output.info(f"built '{record.app}' in {record.app_dir} (tree {record.tree_id})")
    return EXIT_OK


@click.command("image-context")
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Where to write one build context per app (DIR/<app>/Containerfile).",
)
@click.option("--base", "base", default=None, metavar="IMAGE", help="Base image instead of the one of `type:`.")
@click.option(
    "--image",
    default=None,
    metavar="IMAGE",
    help="The image name: a template with {app} and {tree} [sunup/{app}:{tree}] (as for `export kubernetes`).",
)
@click.pass_context
def image_context(ctx: click.Context, out: Path, base: str | None, image: str | None) -> int:
    """Write each app's image build context: DIR/<app>/Containerfile and its files.

    The Containerfile installs sunup, copies the app to /app and builds it there with the local
    build's steps; the image is named by the app's tree id, as `sunup export kubernetes` names it."""
    from sunup.export.kubernetes.image import write_contexts
    from sunup.project import load_plan

    origin = ctx.find_object(output.Context)
    loaded, plan = load_plan(origin.project_dir if origin else None)
    from sunup.export.kubernetes import DEFAULT_IMAGE

    for context in write_contexts(plan, loaded.root, out, base=base, image=image or DEFAULT_IMAGE):
        output.info(f"{context.folder}: podman build -t {context.image} {context.folder}")
    return EXIT_OK


#: Seconds between two reads of what a Kubernetes deploy waits for (tests make it short).
POLL_VARIABLE = "SUNUP_KUBE_POLL"


def deploy_to_kubernetes(
    ctx: click.Context, *, context: str | None, namespace: str | None, image: str | None, timeout: float
) -> int:
    """`sunup deploy --to kubernetes`: export the plan, then play the deploy sequence against the
    cluster of the kubeconfig (`sunup.kubedeploy.choreography`); 1 when a hook failed."""
    from sunup.cli.runtime_commands import _say
    from sunup.errors import EXIT_FAILURE
    from sunup.export.kubernetes import DEFAULT_IMAGE, ExportOptions, export_project
    from sunup.export.kubernetes.image import app_tree_id
    from sunup.export.kubernetes.naming import DNS_LABEL
    from sunup.kubedeploy.choreography import Choreography, DeploySettings
    from sunup.kubedeploy.official import connect
    from sunup.project import load_plan
    from sunup.services.secret import project_secret
    from sunup.supervisor.statedir import StateDir

    namespace = namespace or "default"
    if not DNS_LABEL.match(namespace) or len(namespace) > 63:
        raise click.BadParameter(
            "a namespace is a DNS-1123 label (lowercase letters, digits, '-')", param_hint="--namespace"
        )
    origin = ctx.find_object(output.Context)
    loaded, plan = load_plan(origin.project_dir if origin else None)
    options = ExportOptions(
        namespace=namespace,
        image=image or DEFAULT_IMAGE,
        tree_ids={app.name: app_tree_id(app, loaded.root) for app in plan.apps},
        secret=project_secret(StateDir.for_project(loaded.root).root / "services"),
    )
    exported = export_project(plan, options)
    for warning in exported.warnings:
        output.warning(warning)
    cluster = connect(context)
    output.info(f"sunup: deploying {len(exported.objects)} objects to {cluster.host}, namespace {namespace}")
    try:
        poll = float(os.environ.get(POLL_VARIABLE) or 1.0)
    except ValueError:
        poll = 1.0
    choreography = Choreography(
        cluster, exported.objects, say=_say, settings=DeploySettings(timeout=timeout, poll=poll)
    )
    report = choreography.run()
    failed = [hook for hook, state in report.hooks.items() if state == "failed"]
    if failed:
        output.error(f"the {' and '.join(failed)} hook failed; the deploy went on (the new release runs)")
        return EXIT_FAILURE
    return EXIT_OK


def register(cli: click.Group) -> None:
    for command in (run_instance, image_build):  # image_context: `sunup export image-context`
        cli.add_command(command)
