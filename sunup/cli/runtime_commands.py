"""Running the instances: `up`, `down`, `ps`, `start`, `stop`, `restart`, `workers`, `logs`, `ssh`.

Every command but `up` and `workers` talks to the running supervisor through its control socket
(docs/control-protocol.md); `logs` reads the files itself when no supervisor runs.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sunup.cli import output
from sunup.config.loader import find_project_root
from sunup.control.client import ControlClient, NotRunningError
from sunup.control.protocol import SELECTION, ProtocolError
from sunup.errors import EXIT_OK, RuntimeFailure, SelectionError
from sunup.supervisor.background import wait_exit
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.logreader import KINDS, LogKind, LogScope
from sunup.supervisor.report import ps_table
from sunup.supervisor.statedir import StateDir, holder

#: How long `up -d` then waits for every instance to be up.
READY_TIMEOUT = 120.0
NOT_RUNNING_HINT = "start it with `sunup up` (or `sunup up -d` in the background)"


def _root(ctx: click.Context) -> Path:
    origin = ctx.find_object(output.Context)
    project_dir = origin.project_dir if origin else None
    return find_project_root(Path(project_dir) if project_dir else Path.cwd())


def _state(ctx: click.Context) -> StateDir:
    return StateDir.for_project(_root(ctx))


def _call(state: StateDir, command: str, *, limit: float | None = 30.0, **args: Any) -> Any:
    """One control request (waiting at most `limit` seconds for the reply); socket and protocol
    failures become user-facing errors."""
    client = ControlClient(state.socket, timeout=limit)
    try:
        return client.call(command, **args)
    except NotRunningError:
        raise RuntimeFailure("sunup is not running for this project", hint=NOT_RUNNING_HINT) from None
    except ProtocolError as exc:
        if exc.code == SELECTION:
            raise SelectionError(exc.message, hint=exc.hint) from None
        raise RuntimeFailure(exc.message, hint=exc.hint) from None
    except TimeoutError:
        raise RuntimeFailure("the supervisor did not answer in time") from None


def _say(text: str) -> None:
    """A message of the supervisor: warnings as warnings, a step's duration as "step: 1.23 s"
    (`sunup.supervisor.phases.timing_message`), the rest as information."""
    if text.startswith("warning: "):
        output.warning(text.removeprefix("warning: "))
        return
    if text.startswith("time: "):
        from sunup.supervisor.phases import parse_timing

        timing = parse_timing(text)
        if timing is not None:
            text = f"{timing[0]}: {timing[1]:.2f} s"
    output.info(f"sunup: {text}")


class _Steps:
    """The steps of one `sunup up` and their seconds, as the supervisor says them; shown as they
    come (`_say`), and as a table by `up --timings`."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    def say(self, text: str) -> None:
        if text.startswith("time: "):
            from sunup.supervisor.phases import parse_timing

            timing = parse_timing(text)
            if timing in self.steps:  # heard twice: said before the ready and in run 0's messages
                return
            if timing is not None:
                self.steps.append(timing)
        _say(text)

    def table(self, total: float) -> None:
        """STEP / SECONDS, in the order they ended, then the whole `up`'s time."""
        output.table(["step", "seconds"], [*([s, f"{t:.2f}"] for s, t in self.steps), ["total", f"{total:.2f}"]])


def _selection(app: str | None, web: bool, worker: str | None, index: int | None) -> dict[str, Any]:
    if web and worker:
        raise SelectionError("choose --web or --worker, not both")
    return {"app": app, "web": web, "worker": worker, "index": index}


def selection_options(func: Any) -> Any:
    """-A APP, --web, --worker W, -I N: which instances a command acts on."""
    func = click.option(
        "-I", "--instance", "index", type=click.IntRange(min=0), metavar="N", help="Instance number (0, 1, ...)."
    )(func)
    func = click.option("--worker", "worker", metavar="W", help="A worker: `queue` or `app--queue`.")(func)
    func = click.option("--web", "web", is_flag=True, help="The web instance(s).")(func)
    return click.option("-A", "--app", "app", metavar="APP", help="The application (needed with several apps).")(func)


# Commands.


@click.command()
@click.option("-d", "--detach", is_flag=True, help="Run the supervisor in the background; return once all are up.")
@click.option(
    "--stop-grace", type=click.FloatRange(min=0), default=None, metavar="SECONDS", help="SIGTERM → SIGKILL delay (15)."
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="With -d: how long each instance must stay up.",
)
@click.option(
    "--timings", is_flag=True, help="Print how long each step took (build, services, instances, hooks) as a table."
)
@click.option("--http-port", type=click.IntRange(1, 65535), help="The router's HTTP port (kept for the next ups).")
@click.option("--https-port", type=click.IntRange(1, 65535), help="The router's HTTPS port (kept for the next ups).")
@click.option("--domain", metavar="DOMAIN", help="What {default} is in routes (localhost; kept for the next ups).")
@click.option(
    "--hold-timeout",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="How long the router holds a request while web is down (30, or $SUNUP_HOLD_TIMEOUT).",
)
@click.pass_context
def up(
    ctx: click.Context,
    *,
    detach: bool,
    stop_grace: float | None,
    settle: float,
    http_port: int | None,
    https_port: int | None,
    domain: str | None,
    hold_timeout: float | None,
    timings: bool,
) -> int:
    """Start the web and worker instances and supervise them.

    In the foreground, every instance's output is shown prefixed with its name; Ctrl-C stops
    everything gracefully (twice: at once). Each step says how long it took (build, each service
    ready, instances running, deploy hooks); `--timings` adds a table of them.
    """
    import gc
    import time

    began = time.monotonic()
    steps = _Steps()

    # Starting makes many objects and no garbage: the collector is off until the instances are
    # started (`serve` turns it on again); its passes were ~5 % of the start of 200 instances.
    gc.disable()
    from sunup.project import load_plan
    from sunup.supervisor.settings import SupervisorSettings

    origin = ctx.find_object(output.Context)
    loaded, plan = load_plan(origin.project_dir if origin else None)
    state = StateDir.for_project(loaded.root)
    settings = SupervisorSettings.from_environment(stop_grace)
    from sunup.supervisor.routing import RouterOptions

    router = RouterOptions.from_environment(
        os.environ, http_port=http_port, https_port=https_port, domain=domain, hold=hold_timeout
    )
    running = holder(state)
    if running is not None:
        raise RuntimeFailure(
            f"sunup is already running for this project{f' (pid {running})' if running > 0 else ''}",
            hint="see it with `sunup ps`; stop it with `sunup down`",
        )
    if loaded.diagnostics.warnings:  # e.g. a cron more frequent than Upsun allows
        output.diagnostics(loaded)
    import asyncio

    from sunup.deploy.deployment import deployments_for
    from sunup.supervisor.daemon import serve

    if not detach:
        deployments = deployments_for(loaded.root, state.root)
        asyncio.run(
            serve(
                plan,
                loaded.root,
                state=state,
                settings=settings,
                foreground=True,
                say=steps.say,
                deployments=deployments,
                router=router,
                # The hooks run on after this (their line comes when they end).
                ready=(lambda: steps.table(time.monotonic() - began)) if timings else lambda: None,
            )
        )
        return EXIT_OK
    import functools

    from sunup.supervisor.background import detach as run_detached
    from sunup.supervisor.background import supervise

    run_detached(
        functools.partial(supervise, plan, loaded.root, state=state, settings=settings, router=router),
        state,
        say=steps.say,
    )
    try:
        return _report_up(state, settle, steps)
    finally:
        if timings:
            steps.table(time.monotonic() - began)


def _report_up(state: StateDir, settle: float, steps: _Steps | None = None) -> int:
    """Wait until every instance has stayed up `settle` seconds; name those that did not."""
    report = _call(state, "wait", limit=None, settle=settle, timeout=READY_TIMEOUT)
    failures = report["failures"]
    for failure in failures:
        output.error(f"{failure['name']} did not stay up: {failure['reason']}")
        for line in failure["output"]:
            output.echo(f"  {failure['name']} | {line}", err=True)
    if failures:
        names = ", ".join(f["name"] for f in failures)
        raise RuntimeFailure(
            f"{len(failures)} instance{'s' if len(failures) != 1 else ''} failed to start: {names}",
            hint="sunup keeps restarting them (see `sunup ps`, `sunup logs`); `sunup down` stops everything",
        )
    outcome = _wait_for_hooks(state, steps.say if steps is not None else _say)
    headers, rows = ps_table(report["instances"])
    output.table(headers, rows)
    if outcome is not None and not outcome["ok"]:
        raise RuntimeFailure(outcome["error"], hint=outcome["hint"])
    return EXIT_OK


def _wait_for_hooks(state: StateDir, say: Callable[[str], None] = _say) -> dict[str, Any] | None:
    """Show the first release's deploy and post_deploy hooks as they run (as `sunup deploy`
    does, to `say`); their outcome, None when there are none to wait for."""
    from sunup.cli.deploy_commands import show_progress
    from sunup.deploy.rollout import FIRST_RUN

    try:
        outcome: dict[str, Any] = show_progress(state, FIRST_RUN, say)["outcome"]
    except SelectionError:  # no run 0: this supervisor runs no hooks
        return None
    except KeyboardInterrupt:
        output.warning("the hooks go on in the supervisor", hint="see them with `sunup logs deploy`")
        raise
    return outcome


@click.command()
@click.pass_context
def down(ctx: click.Context) -> int:
    """Stop every instance gracefully and the supervisor with them."""
    state = _state(ctx)
    pid = holder(state)
    if pid is None:
        from sunup.isolation import open_isolation

        killed: list[str] = []
        if state.root.exists():
            isolation = open_isolation(state.root)
            try:
                killed = isolation.clear_stale()
            finally:  # the project's top-level groups too: no supervisor will use them
                isolation.close()
        if killed:
            output.info(f"sunup was not running; killed {', '.join(killed)} left by a previous sunup")
        else:
            output.info("sunup is not running for this project")
        return EXIT_OK
    try:
        result = ControlClient(state.socket, timeout=None).call("shutdown")
    except (NotRunningError, ProtocolError, OSError) as exc:
        # The supervisor holds the lock but does not answer: its SIGTERM handler stops it all.
        output.warning(f"the supervisor (pid {pid}) does not answer its socket ({exc}); sending it SIGTERM")
        if pid > 0:  # holder() says -1 when the lock file has no pid yet
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        result = None
    if pid > 0 and not wait_exit(pid, 120.0):
        raise RuntimeFailure(f"the supervisor (pid {pid}) did not end within 2 minutes", hint=f"kill -9 {pid}")
    if result is not None:
        output.info(f"stopped {result['stopped']} instance{'s' if result['stopped'] != 1 else ''}")
    else:
        output.info("stopped")
    return EXIT_OK


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (docs/ps-json.md).")
@click.option("--services", "services", is_flag=True, help="Show the servers of the services instead.")
@selection_options
@click.pass_context
def ps(
    ctx: click.Context,
    *,
    as_json: bool,
    services: bool,
    app: str | None,
    web: bool,
    worker: str | None,
    index: int | None,
) -> int:
    """Show every instance: state, pid, restarts, uptime, last exit, next retry, CPU, memory."""
    selection = {"services": True} if services else _selection(app, web, worker, index)
    rows = _call(_state(ctx), "ps", **selection)
    if as_json:
        output.json_data(rows)
        return EXIT_OK
    headers, table = ps_table(rows)
    output.table(headers, table)
    return EXIT_OK


def _control_command(name: str, verb: str, summary: str) -> click.Command:
    @click.command(name=name, help=summary)
    @selection_options
    @click.pass_context
    def command(ctx: click.Context, *, app: str | None, web: bool, worker: str | None, index: int | None) -> int:
        rows = _call(_state(ctx), verb, limit=None, **_selection(app, web, worker, index))
        for row in rows:
            pid = f" (pid {row['pid']})" if row.get("pid") else ""
            output.info(f"{row['name']}: {row['state']}{pid}")
        return EXIT_OK

    return command


start_command = _control_command("start", "start", "Start instances that were stopped (all by default).")
stop_command = _control_command("stop", "stop", "Stop instances gracefully: SIGTERM, then SIGKILL after the grace.")
restart_command = _control_command("restart", "restart", "Restart instances (all by default): stop, then start again.")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("-A", "--app", "app", metavar="APP", help="Only this application's workers.")
@click.pass_context
def workers(ctx: click.Context, as_json: bool, app: str | None) -> int:
    """List the workers and their commands."""
    from sunup.project import load_plan

    origin = ctx.find_object(output.Context)
    _, plan = load_plan(origin.project_dir if origin else None)
    groups = [g for a in plan.apps if app is None or a.name == app for g in a.workers]
    if app is not None and plan.app(app) is None:
        raise SelectionError(f"no application '{app}' in the project")
    items: list[dict[str, Any]] = [
        {
            "app": g.app,
            "name": g.name,
            "instance_name": g.instance_name,
            "count": g.resources.count,
            "commands": g.commands.to_json() if g.commands else None,
        }
        for g in groups
    ]
    if as_json:
        output.json_data(items)
    elif not items:
        output.info("no workers")
    else:
        output.table(
            ["worker", "instances", "start"],
            [[i["instance_name"], i["count"], (i["commands"] or {}).get("start", "")] for i in items],
        )
    return EXIT_OK


@click.command()
@click.argument("log_type", metavar="[TYPE]", default="app", type=click.Choice(list(KINDS)))
@selection_options
@click.option(
    "-n",
    "--lines",
    "lines",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Lines to show (of each instance, without a selection).",
)
@click.option("-f", "--tail", "--follow", "follow", is_flag=True, help="Keep showing new lines.")
@click.pass_context
def logs(
    ctx: click.Context,
    *,
    log_type: str,
    app: str | None,
    web: bool,
    worker: str | None,
    index: int | None,
    lines: int,
    follow: bool,
) -> int:
    """Show logs (TYPE: app, the default, the instances' output), UTC timestamps on each line.

    Without --web, --worker or -I: every instance of the project (of APP with -A), as
    `docker compose logs` shows them: the last lines of each (-n), merged in time order, each
    after its instance's name (`queue.0 | ...`, coloured on a terminal); -f follows them all.
    With a selection: that instance's log alone (the web instance with -I N alone).

    `cron`, `deploy` and `post-deploy` are the logs of web instance 0, where crons and those
    hooks run; `build` is the app's build log; `access` and `error` are the router's (every
    request through it, and nginx's errors).
    """
    from sunup.supervisor.logreader import follow as follow_file
    from sunup.supervisor.logreader import last_lines

    kind = KINDS[log_type]
    if kind.scope is LogScope.WEB_ZERO and (worker is not None or index not in (None, 0)):
        raise SelectionError(
            f"the {log_type} log is web instance 0's: crons, deploy and post_deploy run there only",
            hint=f"sunup logs {log_type}" + (f" -A {app}" if app else ""),
        )
    if kind.scope is LogScope.INSTANCE and not web and worker is None and index is None:
        return _every_instance(ctx, kind, app, lines, follow)
    path = _log_path(ctx, kind, _selection(app, web or worker is None, worker, index))
    if not path.exists() and not follow:
        output.info(f"no {log_type} log yet ({path})")
        return EXIT_OK
    output.log_data(last_lines(path, lines))
    if follow:
        try:
            for chunk in follow_file(path):
                output.log_data(chunk)
        except KeyboardInterrupt:
            return EXIT_OK
    return EXIT_OK


def _every_instance(ctx: click.Context, kind: LogKind, app: str | None, lines: int, follow: bool) -> int:
    """`sunup logs` without a selection: the log of every instance, merged, each line prefixed."""
    from sunup.supervisor.logreader import follow_many, merged_last_lines

    sources = _instance_logs(ctx, kind, app)
    if not sources:
        output.info(f"no {kind.name} log yet (no instance has run)")
        return EXIT_OK
    with_app = len({instance.app for instance, _ in sources}) > 1
    printer = output.PrefixedLogs([instance.label(with_app=with_app) for instance, _ in sources])
    paths = [path for _, path in sources]
    for number, line in merged_last_lines(paths, lines):
        printer.write(number, line)
    if follow:
        try:
            for number, chunk in follow_many(paths):
                printer.write(number, chunk)
        except KeyboardInterrupt:
            return EXIT_OK
    return EXIT_OK


def _instance_logs(ctx: click.Context, kind: LogKind, app: str | None) -> list[tuple[InstanceId, Path]]:
    """Each instance of the project (of `app`) and its `kind` log: the running supervisor's
    instances, or without one, those of the plan's groups that have a log folder."""
    state = _state(ctx)
    try:
        found = ControlClient(state.socket, timeout=10).call("logs", app=app)
    except NotRunningError:
        found = None
    except ProtocolError as exc:
        raise SelectionError(exc.message, hint=exc.hint) from None
    if found is not None:
        return [(InstanceId.parse_key(f"{f['app']}.{f['name']}"), Path(f["path"]).parent / kind.file) for f in found]
    from sunup.plan.selection import select_groups
    from sunup.project import load_plan

    origin = ctx.find_object(output.Context)
    _, plan = load_plan(origin.project_dir if origin else None)
    sources = []
    for group in select_groups(plan, app):
        folders = state.root / "logs" / group.app
        prefix = f"{group.name}."
        indices = sorted(
            int(f.name.removeprefix(prefix))
            for f in (folders.iterdir() if folders.is_dir() else ())
            if f.name.startswith(prefix) and f.name.removeprefix(prefix).isdigit() and (f / kind.file).exists()
        )
        for number in indices:
            instance = InstanceId(group.app, group.name, number)
            sources.append((instance, state.log_dir(instance) / kind.file))
    return sources


def _log_path(ctx: click.Context, kind: LogKind, selection: dict[str, Any]) -> Path:
    """The `kind` log of the instance `selection` names (its app's, for an app's log)."""
    state = _state(ctx)
    if kind.scope is LogScope.PROJECT:
        return state.root / kind.file
    if selection["index"] is None:
        selection = {**selection, "index": 0}
    try:
        found = ControlClient(state.socket, timeout=10).call("logs", **selection)
    except NotRunningError:
        found = None
    except ProtocolError as exc:
        raise SelectionError(exc.message, hint=exc.hint) from None
    if found:
        folder = Path(found[0]["path"]).parent
    else:
        from sunup.plan.selection import select_groups
        from sunup.project import load_plan

        origin = ctx.find_object(output.Context)
        _, plan = load_plan(origin.project_dir if origin else None)
        group = select_groups(plan, selection["app"], web=selection["web"], worker=selection["worker"])[0]
        folder = state.log_dir(InstanceId(group.app, group.name, selection["index"]))
    if kind.scope is LogScope.APP:
        folder = folder.parent  # logs/<app>/
    return folder / kind.file


@click.command(context_settings={"ignore_unknown_options": True})
@selection_options
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def ssh(
    ctx: click.Context, *, app: str | None, web: bool, worker: str | None, index: int | None, command: tuple[str, ...]
) -> int:
    """Open a shell in an instance (the web instance by default), or run `-- COMMAND` there.

    The shell has the instance's environment (with `.environment` sourced), working folder,
    mounts and read-only app folder (its mount namespace), and its CPU and memory limits;
    `sv restart app` and `systemctl restart --user app` act on the instance. With a command,
    its exit status is sunup's.
    """
    found = _call(_state(ctx), "enter", **_selection(app, web, worker, index))
    env = dict(found["environment"])
    for name in ("TERM", "COLORTERM", "COLUMNS", "LINES"):
        if name in os.environ:
            env[name] = os.environ[name]
    prelude = found["prelude"] + "if [ -r ./.environment ]; then set -a; . ./.environment; set +a; fi\n"
    if command:
        # One argument is a shell command line (`ssh -- 'cd x && make'`); several are an argv,
        # passed exactly as given (`ssh -- python -c 'print(1)'`).
        line = command[0] if len(command) == 1 else shlex.join(command)
        argv = ["/bin/sh", "-c", prelude + 'eval "$1"', "sh", line]
    else:
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        env.setdefault("PS1", f"{found['app']}/{found['name']}:\\w\\$ ")
        argv = ["/bin/sh", "-c", prelude + f"exec {shell} -i", "sh"]
        output.info(f"sunup: shell in {found['app']}/{found['name']} ({found['cwd']}); `exit` to leave")
    sys.stdout.flush()
    sys.stderr.flush()
    if found["namespace"] is not None:
        from sunup.mounts.namespace import NamespaceSetup, enter

        try:
            enter(NamespaceSetup.from_json(found["namespace"]))
        except OSError as exc:
            raise RuntimeFailure(f"cannot enter the mount namespace of {found['name']}: {exc.strerror}") from None
    os.chdir(found["cwd"])
    os.execve(argv[0], argv, env)


def register(cli: click.Group) -> None:
    for command in (up, down, ps, start_command, stop_command, restart_command, workers, logs, ssh):
        cli.add_command(command)
