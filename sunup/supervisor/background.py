"""Starting the supervisor in the background (`sunup up -d`) and waiting for it to end.

`detach` forks the CLI process, which has already read the plan, into the background supervisor:
a second fork in a new session makes it nobody's child, its output goes to supervisor.log, and
no second Python start nor second reading of the configuration is paid. (`start_background`
runs `python -m sunup.supervisor` instead, for callers without a plan at hand.) The supervisor
reports on a pipe through a `ReadyChannel`: ``say: <message>`` lines while it starts, then
``ok``, or ``error: <message>`` (and ``hint: <hint>``) when it cannot start.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sunup.errors import EXIT_FAILURE, RuntimeFailure, SunupError, describe_os_error
from sunup.supervisor.statedir import STATE_VARIABLE, StateDir, holder

if TYPE_CHECKING:
    from sunup.plan.model import ProjectPlan
    from sunup.supervisor.routing import RouterOptions
    from sunup.supervisor.settings import SupervisorSettings

#: How long to wait for the background supervisor to start the services and spawn every instance
#: (a database's first start initialises its data folder).
SPAWN_TIMEOUT = 300.0
#: How long an interrupted `sunup up -d` waits for the supervisor it stops.
ABORT_TIMEOUT = 60.0


class ReadyChannel:
    """The background supervisor's end of the pipe to `sunup up -d` (closed once ready)."""

    def __init__(self, fd: int | None, terminal: str | None = None) -> None:
        self._fd = fd
        #: The terminal `sunup up -d` ran in (told if the project is deleted: `presence`).
        self.terminal = terminal

    def _send(self, line: str) -> None:
        if self._fd is not None:
            try:
                os.write(self._fd, line.encode() + b"\n")
            except BrokenPipeError:  # `sunup up -d` is gone (interrupted): the log still has it all
                self.close()

    def say(self, text: str) -> None:
        """A message: to the log (stderr) always, to `sunup up -d` until ready."""
        print(text, file=sys.stderr, flush=True)
        self._send("say: " + text.replace("\n", " "))

    def ready(self) -> None:
        self._send("ok")
        self.close()

    def fail(self, exc: BaseException) -> int:
        """Report why the supervisor could not start (or ended); returns the exit status."""
        if isinstance(exc, OSError):  # the machine refused something (a full disk): said, no traceback
            exc = RuntimeFailure(describe_os_error(exc))
        if isinstance(exc, SunupError):
            self._send(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""))
            print(f"error: {exc.message}", file=sys.stderr, flush=True)
            self.close()
            return exc.exit_code
        self._send(f"error: the supervisor failed: {type(exc).__name__}: {exc}")
        traceback.print_exception(exc, file=sys.stderr)
        self.close()
        return EXIT_FAILURE

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def supervise(
    plan: ProjectPlan,
    project_root: Path,
    channel: ReadyChannel,
    *,
    state: StateDir,
    settings: SupervisorSettings,
    router: RouterOptions | None = None,
) -> None:
    """Run the background supervisor of `plan` (builds and deploys included), reporting on `channel`."""
    import asyncio

    from sunup.deploy.deployment import deployments_for
    from sunup.supervisor.daemon import serve

    asyncio.run(
        serve(
            plan,
            project_root,
            state=state,
            settings=settings,
            foreground=False,
            say=channel.say,
            ready=channel.ready,
            deployments=deployments_for(project_root, state.root),
            terminal=channel.terminal,
            router=router,
        )
    )


def detach(
    run: Callable[[ReadyChannel], None], state: StateDir, *, say: Callable[[str], None], timeout: float = SPAWN_TIMEOUT
) -> None:
    """Run `run` in a background process (see the module doc); return once it says it is ready.

    `run` gets the channel to report on; it must call `channel.ready()` once it runs.
    """
    try:
        state.create()
    except OSError as exc:
        raise RuntimeFailure(f"cannot use the state folder {state.root}: {exc.strerror}") from None
    sys.stdout.flush()
    sys.stderr.flush()
    start = _log_size(state)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked process, which never returns here
        status = EXIT_FAILURE
        try:
            os.close(read_end)
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            from sunup.supervisor.presence import origin_terminal

            channel = ReadyChannel(write_end, origin_terminal())
            try:
                _redirect(state)
                run(channel)
                status = 0
            except BaseException as exc:
                status = channel.fail(exc)
        finally:
            os._exit(status)
    os.close(write_end)
    os.waitpid(child, 0)
    try:
        message = _read_all(read_end, timeout).strip()
    except KeyboardInterrupt:
        _abort(state, say)
        raise
    finally:
        os.close(read_end)
    _report(message, state, say, start)


def _abort(state: StateDir, say: Callable[[str], None]) -> None:
    """Ctrl-C while `sunup up -d` waits: stop the supervisor it started (SIGTERM) and wait for it."""
    pid = holder(state)
    if pid is None or pid <= 0:
        return
    say(f"interrupted: stopping the background supervisor (pid {pid})")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not wait_exit(pid, ABORT_TIMEOUT):
        say(f"warning: the supervisor (pid {pid}) still runs; `sunup down` stops it")


def _redirect(state: StateDir) -> None:
    """stdin from /dev/null, stdout and stderr appended to the log; `RuntimeFailure` naming the
    log when it cannot be written (another user's state folder): the error goes to `sunup up -d`
    only, never to the terminal the supervisor was started from."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    try:
        log = os.open(state.supervisor_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RuntimeFailure(
            f"cannot write the supervisor's log {state.supervisor_log}: {exc.strerror}",
            hint=f"run sunup as the owner of {state.root}, or point {STATE_VARIABLE} to a folder you can write",
        ) from None
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def _log_size(state: StateDir) -> int:
    """Where what the supervisor about to start writes to its log will begin."""
    try:
        return state.supervisor_log.stat().st_size
    except OSError:
        return 0


def start_background(
    root: Path, state: StateDir, grace: float, *, say: Callable[[str], None], timeout: float = SPAWN_TIMEOUT
) -> None:
    """Start the supervisor of the project at `root` in the background; return once it runs.

    `say` gets each message it prints while starting (``warning: ...`` for warnings). Raises
    `RuntimeFailure` with its error (or the end of its log) when it does not get that far.
    """
    state.create()
    start = _log_size(state)
    read_end, write_end = os.pipe()
    try:
        with open(state.supervisor_log, "ab") as log:
            argv = [sys.executable, "-m", "sunup.supervisor", "--project", str(root), "--grace", str(grace)]
            subprocess.run(
                ["/bin/sh", "-c", '"$@" &', "sh", *argv, "--ready-fd", str(write_end)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(write_end,),
                start_new_session=True,
                check=True,
            )
        os.close(write_end)
        write_end = -1
        message = _read_all(read_end, timeout).strip()
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    _report(message, state, say, start)


def _report(message: str, state: StateDir, say: Callable[[str], None], start: int) -> None:
    """Show what the starting supervisor said; raise its error, if it had one (or the end of
    what it wrote to its log, from `start` on: older lines are another run's)."""
    lines = message.splitlines()
    for line in lines:
        if line.startswith("say: "):
            say(line.removeprefix("say: "))
    message = "\n".join(line for line in lines if not line.startswith("say: "))
    if message == "ok":
        return
    text, _, hint = message.partition("\nhint: ")
    if not text:
        tail = _log_since(state, start).splitlines()[-5:]
        text = "the background supervisor ended before it was ready" + "".join(f"\n  {t}" for t in tail)
        hint = hint or f"see {state.supervisor_log}"
    raise RuntimeFailure(text.removeprefix("error: "), hint=hint or None)


def _log_since(state: StateDir, start: int) -> str:
    try:
        with open(state.supervisor_log, "rb") as log:
            log.seek(start)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def _read_all(fd: int, timeout: float) -> str:
    """Everything written on `fd` until its end of file, waiting at most `timeout` seconds."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise RuntimeFailure(f"the background supervisor was not ready after {timeout:g} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            return b"".join(chunks).decode(errors="replace")
        chunks.append(chunk)


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait for process `pid` to end (on a pidfd: no polling); False after `timeout` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)
