"""`sunup dashboard`: the URL of the running supervisor's live dashboard (docs/dashboard.md)."""

from __future__ import annotations

import click

from sunup.cli import output
from sunup.errors import EXIT_OK


@click.command(name="dashboard")
@click.option("--open", "open_browser", is_flag=True, help="Open it in a browser too (where there is one).")
@click.pass_context
def dashboard(ctx: click.Context, open_browser: bool) -> int:
    """Print the URL of the live dashboard (with its token), served by the running supervisor.

    The token is made at each `sunup up`: an old URL stops working when sunup restarts.
    """
    from sunup.cli.runtime_commands import _call, _state

    found = _call(_state(ctx), "dashboard", limit=40.0)
    link = str(found["link"])
    click.echo(link)
    if open_browser:
        import webbrowser

        if not webbrowser.open(link):
            output.warning("no browser found here: open the URL above in one")
    return EXIT_OK


def register(cli: click.Group) -> None:
    cli.add_command(dashboard)
