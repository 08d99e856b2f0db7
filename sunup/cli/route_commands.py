"""`sunup routes`, `sunup url` and `sunup route:get`: the project's URLs on this machine (spec §10).

Read from the plan and the router's kept address (`sunup.router.address`: the ports are chosen
and kept the first time a project needs them, so these commands give the URLs `sunup up` will
serve); no supervisor is needed. docs/routes.md tells how routes resolve locally.
"""

from __future__ import annotations

import json
import webbrowser
from pathlib import Path

import click

from sunup.cli import output
from sunup.errors import EXIT_FAILURE, EXIT_OK, SelectionError
from sunup.plan.routes import LocalRoute, local_routes, platform_routes, primary_route
from sunup.router.address import router_address
from sunup.supervisor.statedir import StateDir


def ca_file() -> Path:
    """The certificate of the local CA that signs the router's certificates (the file to trust)."""
    from sunup.router.certificates import ca_path

    return ca_path()


def project_routes(ctx: click.Context, *, warnings: bool = False) -> tuple[LocalRoute, ...]:
    """The project's routes at their local URLs (the ports chosen and kept if none were yet);
    with `warnings`, the configuration's warnings are printed first."""
    from sunup.project import load_plan

    origin = ctx.find_object(output.Context)
    loaded, plan = load_plan(origin.project_dir if origin else None)
    for warning in loaded.diagnostics.warnings if warnings else ():
        output.echo(output.render_diagnostic(warning, loaded.positions.sources), err=True)
    address = router_address(StateDir.for_project(loaded.root).root, loaded.root)
    return local_routes(plan.route_plans, address)


def _target(route: LocalRoute) -> str:
    if route.route.type == "upstream":
        return f"{route.route.upstream}:http"
    return route.to or ""


@click.command(name="routes")
@click.option("--json", "as_json", is_flag=True, help="Print PLATFORM_ROUTES (decoded) and the CA file as JSON.")
@click.pass_context
def routes(ctx: click.Context, as_json: bool) -> int:
    """List every route at its local URL: type, upstream or redirect target, id, primary, template."""
    found = project_routes(ctx, warnings=not as_json)
    if as_json:
        output.json_data({"ca_file": str(ca_file()), "routes": platform_routes(found)})
        return EXIT_OK
    rows = [
        [
            r.url,
            r.route.type,
            _target(r),
            r.route.id or "",
            "yes" if r.route.primary else "",
            r.route.original_url + (" (generated)" if r.route.generated else ""),
        ]
        for r in found
    ]
    output.table(["url", "type", "to", "id", "primary", "original_url"], rows)
    output.info(f"HTTPS certificates are signed by sunup's local CA: trust {ca_file()} (curl --cacert FILE)")
    return EXIT_OK


@click.command(name="url")
@click.option("--open", "open_browser", is_flag=True, help="Open the URL in a web browser, when there is one.")
@click.pass_context
def url(ctx: click.Context, open_browser: bool) -> int:
    """Print the primary route's URL (and nothing else), as `upsun url --pipe`."""
    primary = primary_route(project_routes(ctx))
    if primary is None:  # a plan always has one; a project without apps has no route at all
        raise SelectionError("the project has no route", hint="add `routes:` or an application")
    output.data(primary.url)
    if not open_browser:
        return EXIT_OK
    try:
        opened = webbrowser.open(primary.url)
    except webbrowser.Error:
        opened = False
    if not opened:
        output.error("no web browser can be opened here", hint="open the URL above yourself")
        return EXIT_FAILURE
    return EXIT_OK


@click.command(name="route:get")
@click.argument("route_ref", metavar="ROUTE")
@click.option("-P", "--property", "prop", default=None, metavar="NAME", help="Print only this property.")
@click.option("--json", "as_json", is_flag=True, help="Print the route as JSON.")
@click.pass_context
def route_get(ctx: click.Context, route_ref: str, prop: str | None, as_json: bool) -> int:
    """Show one route: ROUTE is its id, its template (https://{default}/) or its local URL.

    The properties are those of PLATFORM_ROUTES, with `url` (the local URL) added.
    """
    found = project_routes(ctx)
    chosen = _find(found, route_ref)
    entry = {"url": chosen.url, **platform_routes([chosen])[chosen.url]}
    if prop is not None:
        if prop not in entry:
            raise SelectionError(f"a route has no property '{prop}'", hint=f"properties: {', '.join(entry)}")
        value = entry[prop]
        output.data(value if isinstance(value, str) else json.dumps(value))
        return EXIT_OK
    if as_json:
        output.json_data(entry)
        return EXIT_OK
    output.table(["property", "value"], [[k, v if isinstance(v, str) else json.dumps(v)] for k, v in entry.items()])
    return EXIT_OK


def _find(found: tuple[LocalRoute, ...], ref: str) -> LocalRoute:
    """The route whose id, template or local URL is `ref` (a template may leave out its last "/")."""
    for key in ("id", "original_url", "url", "template"):
        for route in found:
            if (
                (key == "id" and route.route.id == ref)
                or (key == "original_url" and route.route.original_url == ref)
                or (key == "url" and route.url == ref)
                or (key == "template" and route.route.original_url == ref + "/")
            ):
                return route
    ids = [r.route.id for r in found if r.route.id]
    example = found[0].route.original_url if found else "https://{default}/"
    raise SelectionError(
        f"no route is '{ref}'",
        hint=(f"route ids: {', '.join(ids)}; or " if ids else "give ")
        + f"a template such as {example} or a local URL (see `sunup routes`)",
    )


def register(cli: click.Group) -> None:
    cli.add_command(routes)
    cli.add_command(url)
    cli.add_command(route_get)
