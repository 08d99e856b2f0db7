"""The `sunup` command line.

Commands live one family per module and register on the `cli` group here. This is the one place
that turns `SunupError`s into messages and exit statuses (see `sunup.errors`).
"""

from __future__ import annotations

import sys

import click

from sunup import __version__
from sunup.cli import output
from sunup.errors import EXIT_FAILURE, ConfigError, SunupError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="sunup")
@click.option(
    "-C",
    "--project-dir",
    "project_dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Run as if sunup was started in DIR (the project is found at or above it).",
    metavar="DIR",
)
@click.pass_context
def cli(ctx: click.Context, project_dir: str | None) -> None:
    """Run an Upsun application on this machine: web, workers, crons, services and mounts."""
    ctx.obj = output.Context(project_dir=project_dir)


def _register() -> None:
    from sunup.cli import (
        config_commands,
        deploy_commands,
        mount_commands,
        resource_commands,
        runtime_commands,
        service_commands,
    )

    families = (config_commands, runtime_commands, deploy_commands, service_commands, resource_commands)
    for family in (*families, mount_commands):
        family.register(cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `sunup` script: run a command, map errors to exit statuses."""
    _register()
    try:
        status = cli.main(args=argv, prog_name="sunup", standalone_mode=False)
    except click.exceptions.Abort:
        output.error("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        output.diagnostics(exc.loaded)
        sys.exit(exc.exit_code)
    except SunupError as exc:
        output.error(exc.message, hint=exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_FAILURE)
    sys.exit(status if isinstance(status, int) else 0)
