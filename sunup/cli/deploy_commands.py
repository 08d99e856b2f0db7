"""Deploying while sunup runs: `deploy`, `redeploy`, `crons`, `cron:run`, `cron:cancel`.

Every command talks to the running supervisor through its control socket; the supervisor does
the work (`sunup.deploy.rollout`, `sunup.deploy.crons`), so a deploy goes on when its command is
interrupted. `deploy` and `redeploy` show the deploy's messages as they come (docs/deploy.md).
"""

from __future__ import annotations

import contextlib
import datetime
import signal
import zoneinfo
from collections.abc import Callable
from typing import Any

import click

from sunup.cli import output
from sunup.cli.runtime_commands import _call, _say, _state
from sunup.errors import EXIT_OK, RuntimeFailure
from sunup.supervisor.background import wait_exit
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.report import ps_table
from sunup.supervisor.statedir import StateDir, holder

#: How long one `deploy-progress` request waits for news (the supervisor caps it at 60 s).
PROGRESS_WAIT = 30.0
#: How long a deploy whose connection ended waits to see whether its supervisor ended too.
ENDED_WAIT = 5.0


@click.command()
@click.option(
    "--to",
    "target",
    type=click.Choice(["local", "kubernetes"]),
    default="local",
    show_default=True,
    help="Where: the running supervisor, or a Kubernetes cluster (docs/kubernetes.md).",
)
@click.option("--context", "kube_context", default=None, metavar="NAME", help="Kubernetes: the kubeconfig context.")
@click.option("--namespace", default=None, metavar="NS", help="Kubernetes: the namespace [default].")
@click.option("--image", default=None, metavar="IMAGE", help="Kubernetes: the image template [sunup/{app}:{tree}].")
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=600.0, metavar="SECONDS", help="Kubernetes: longest wait (600)."
)
@click.pass_context
def deploy(  # noqa: PLR0917 (click passes each option as an argument)
    ctx: click.Context,
    target: str,
    kube_context: str | None,
    namespace: str | None,
    image: str | None,
    timeout: float,
) -> int:
    """Deploy the project as it is now: rebuild when it changed, then replace the instances.

    The configuration is read again and the build runs while the old instances keep serving; a
    failing build leaves them running. Then, as on Upsun: a running cron is waited for, the old
    instances stop, the new ones start from the new build, and web instance 0 runs the deploy
    hook (new code only) and post_deploy. Crons start again after them. With `--to kubernetes`,
    the same sequence is played against a cluster (images built and pushed beforehand).
    """
    if target == "kubernetes":
        from sunup.cli.kube_commands import deploy_to_kubernetes

        return deploy_to_kubernetes(ctx, context=kube_context, namespace=namespace, image=image, timeout=timeout)
    return _follow(ctx, "deploy")


@click.command()
@click.pass_context
def redeploy(ctx: click.Context) -> int:
    """Restart every instance and run post_deploy: no build, no deploy hook."""
    return _follow(ctx, "redeploy")


def _follow(ctx: click.Context, command: str) -> int:
    """Start a deploy, show its messages until it ends, then the instances; fail as it failed."""
    state = _state(ctx)
    supervisor = None
    with contextlib.suppress(RuntimeFailure):  # another user's lock: the socket says it better
        supervisor = holder(state)
    try:
        started = _call(state, command)
        page = show_progress(state, started["deploy"])
    except KeyboardInterrupt:
        output.warning(f"the {command} goes on in the supervisor", hint="see the instances with `sunup ps`")
        return 130
    except RuntimeFailure as exc:
        # A connection that ends without a reply, or no supervisor at all: say so when it ended.
        if supervisor is not None and supervisor > 0 and wait_exit(supervisor, ENDED_WAIT):
            again = " and runs the deploy hook of this tree again" if command == "deploy" else ""
            raise RuntimeFailure(
                f"the supervisor (pid {supervisor}) ended during the {command} ({exc.message}); "
                "its instances and services ended with it",
                hint=f"see why in {state.supervisor_log}; `sunup up` starts the project again{again}",
            ) from None
        raise
    outcome = page["outcome"]
    if not outcome["ok"]:
        raise RuntimeFailure(outcome["error"], hint=outcome["hint"])
    headers, rows = ps_table(_call(state, "ps"))
    output.table(headers, rows)
    return EXIT_OK


def show_progress(state: StateDir, number: int, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Show the messages of deploy `number` as they come (to `say`, default `_say`), until it
    ends; its last page (with its `outcome`). Also how `sunup up -d` follows the first release's
    hooks (run 0)."""
    say = say or _say
    after = 0
    while True:
        page: dict[str, Any] = _call(
            state, "deploy-progress", limit=PROGRESS_WAIT + 30, deploy=number, after=after, wait=PROGRESS_WAIT
        )
        for line in page["lines"]:
            say(line)
        after = page["next"]
        if page["done"]:
            return page


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("-A", "--app", "app", metavar="APP", help="Only this application's crons.")
@click.pass_context
def crons(ctx: click.Context, as_json: bool, app: str | None) -> int:
    """List the crons: spec, next run (in the app's timezone), running since, last run and exit."""
    items = _call(_state(ctx), "crons", app=app)
    if as_json:
        output.json_data(items)
        return EXIT_OK
    if not items:
        output.info("no crons")
        return EXIT_OK
    with_app = len({i["app"] for i in items}) > 1
    rows = [
        [
            f"{i['app']}/{i['name']}" if with_app else i["name"],
            i["spec"],
            _when(i["next_run"], i["timezone"]) if i["scheduled"] else "after the deploy hooks",
            _running(i),
            _when(i["last"]["started"], i["timezone"], seconds=True) if i["last"] else "",
            _exit(i["last"]),
        ]
        for i in items
    ]
    output.table(["cron", "spec", "next run", "running since", "last run", "last exit"], rows)
    return EXIT_OK


@click.command(name="cron:run")
@click.argument("name")
@click.option("-A", "--app", "app", metavar="APP", help="The application (when several have this cron).")
@click.option("--no-wait", is_flag=True, help="Return once it is queued; do not wait for it to end.")
@click.pass_context
def cron_run(ctx: click.Context, name: str, app: str | None, no_wait: bool) -> int:
    """Run cron NAME now (after the running cron, if any) and show its output.

    Its exit status is sunup's (128 + N when it died of signal N).
    """
    state = _state(ctx)
    if no_wait:
        _call(state, "cron:run", app=app, name=name, wait=False)
        output.info(f"sunup: cron {name} queued; its output goes to cron.log (`sunup logs cron`)")
        return EXIT_OK
    log = None
    for item in _call(state, "crons", app=app):
        if item["name"] == name:
            log = state.log_dir(InstanceId(item["app"], "web", 0)) / "cron.log"
            output.info(f"sunup: running cron {name}")
    start = log.stat().st_size if log is not None and log.exists() else 0
    result = _call(state, "cron:run", limit=None, app=app, name=name, wait=True)
    log = state.log_dir(InstanceId(result["app"], "web", 0)) / "cron.log"
    with log.open("rb") as handle:
        handle.seek(start)
        text = handle.read().decode("utf-8", "replace").rstrip("\n")
    if text:
        output.data(text)
    run = result["run"]
    output.info(f"sunup: cron {name} {'cancelled' if run['cancelled'] else 'ended'} after {run['duration']:.1f} s")
    status = int(run["status"])
    return status if status >= 0 else 128 - status


@click.command(name="cron:cancel")
@click.argument("name")
@click.option("-A", "--app", "app", metavar="APP", help="The application (when several have this cron).")
@click.pass_context
def cron_cancel(ctx: click.Context, name: str, app: str | None) -> int:
    """Cancel cron NAME: its stop command or SIGTERM, SIGKILL after its shutdown_timeout."""
    result = _call(_state(ctx), "cron:cancel", limit=None, app=app, name=name)
    if result["cancelled"] == "running":
        run = result["run"] or {}
        ended = _exit({**run, "cancelled": False}) if run else "?"
        output.info(f"sunup: cron {name} cancelled after {run.get('duration', 0):.1f} s ({ended})")
    elif result["cancelled"] == "queued":
        output.info(f"sunup: cron {name} was waiting to run; it will not run now")
    else:
        output.info(f"sunup: cron {name} is not running; nothing to cancel")
    return EXIT_OK


# Formatting.


def _when(moment: str | None, timezone: str, *, seconds: bool = False) -> str:
    """An ISO time shown in the app's timezone."""
    if not moment:
        return ""
    try:
        zone: datetime.tzinfo = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
    shown = datetime.datetime.fromisoformat(moment).astimezone(zone)
    return shown.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def _running(item: dict[str, Any]) -> str:
    since = item["running_since"]
    if since:
        started = datetime.datetime.fromisoformat(since)
        elapsed = (datetime.datetime.now(datetime.UTC) - started).total_seconds()
        return f"{_when(since, item['timezone'], seconds=True)} ({elapsed:.0f} s)"
    return "queued" if item["queued"] else ""


def _exit(run: dict[str, Any] | None) -> str:
    if not run:
        return ""
    status = int(run["status"])
    ended = str(status) if status >= 0 else _signal_name(-status)
    return f"cancelled, {ended}" if run["cancelled"] else ended


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def register(cli: click.Group) -> None:
    for command in (deploy, redeploy, crons, cron_run, cron_cancel):
        cli.add_command(command)
