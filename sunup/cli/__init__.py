"""The `sunup` command line.

Commands live one family per module and register on the `cli` group here. This is the one place
that turns `SunupError`s into messages and exit statuses (see `sunup.errors`).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from sunup import __version__
from sunup.cli import output
from sunup.errors import EXIT_FAILURE, ConfigError, ProjectNotFoundError, SunupError, describe_os_error

#: Which module holds each command: a command's module is imported only when it runs (or for
#: `--help`), so `sunup up` does not pay for the imports of every other command.
FAMILIES: dict[str, tuple[str, ...]] = {
    "config_commands": ("validate", "config", "schema"),
    "runtime_commands": ("up", "down", "ps", "start", "stop", "restart", "workers", "logs", "ssh"),
    "deploy_commands": ("deploy", "redeploy", "crons", "cron:run", "cron:cancel"),
    "service_commands": ("services", "relationships", "sql"),
    "resource_commands": ("resources", "resources:set"),
    "mount_commands": ("mount:list",),
    "route_commands": ("routes", "url", "route:get"),
    "export_commands": ("export",),
    "kube_commands": ("run-instance", "image-build"),
    "dashboard_commands": ("dashboard",),
}


class LazyGroup(click.Group):
    """A group that imports a command family's module the first time one of its commands is asked for."""

    def _load(self, family: str) -> None:
        module = importlib.import_module(f"sunup.cli.{family}")
        module.register(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            for family, names in FAMILIES.items():
                if cmd_name in names:
                    self._load(family)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for family in FAMILIES:
            self._load(family)
        return super().list_commands(ctx)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, with the closest command suggested for a misspelt one (a usage error, 2)."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            from sunup.config.diagnostics import did_you_mean

            hint = did_you_mean(name, [n for names in FAMILIES.values() for n in names])
            ctx.fail(f"No such command '{name}'" + (f": {hint}" if hint else "."))
        return super().resolve_command(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="sunup")
@click.option(
    "-C",
    "--project-dir",
    "project_dir",
    type=click.Path(exists=True, file_okay=False, path_type=str),  # a missing DIR: a usage error (2)
    default=None,
    help="Run as if sunup was started in DIR (the project is found at or above it).",
    metavar="DIR",
)
@click.pass_context
def cli(ctx: click.Context, project_dir: str | None) -> None:
    """Run an Upsun application on this machine: web, workers, crons, services and mounts."""
    if project_dir is None:
        try:
            os.getcwd()
        except FileNotFoundError:
            raise ProjectNotFoundError(
                "the current folder no longer exists", hint="cd into the project again, or use -C DIR"
            ) from None
    ctx.obj = output.Context(project_dir=project_dir)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `sunup` script: run a command, map errors to exit statuses."""
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
    except OSError as exc:  # the machine refused something (permissions, space, files): no traceback
        output.error(describe_os_error(exc))
        sys.exit(EXIT_FAILURE)
    sys.exit(status if isinstance(status, int) else 0)
