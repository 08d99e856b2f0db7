"""One supervisor process for one project: the lock, isolation, the instances, the control socket.

`serve` runs until SIGTERM, SIGINT or SIGHUP (the handlers only set an event; the loop does the
work), or a `shutdown` request; it then stops every instance in parallel and returns. A second
signal during the stop skips the rest of the grace (SIGKILL now). Used in the foreground by
`sunup up`, and in the background through `python -m sunup.supervisor` by `sunup up -d`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from sunup.control.handlers import Handlers
from sunup.control.server import ControlServer
from sunup.isolation import open_isolation
from sunup.plan.model import ProjectPlan
from sunup.supervisor.console import Console
from sunup.supervisor.events import Event, StateChangedEvent
from sunup.supervisor.launch import ExtraEnvironment, instance_specs, no_extra_environment
from sunup.supervisor.lifecycle import GraceExpired, InstanceState
from sunup.supervisor.logcapture import Timestamps
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.shims import write_shims
from sunup.supervisor.statedir import StateDir, SupervisorLock
from sunup.supervisor.supervisor import Supervisor

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class EventLog:
    """An observer writing one line per event to supervisor.log."""

    def __init__(self, path: Path, with_app: bool) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._with_app = with_app
        self._stamps = Timestamps()

    def say(self, text: str) -> None:
        os.write(self._fd, self._stamps.prefix() + text.encode() + b"\n")

    def __call__(self, event: Event) -> None:
        self.say(f"{event.instance.label(with_app=self._with_app)}: {event.describe()}")

    def close(self) -> None:
        os.close(self._fd)


async def serve(
    plan: ProjectPlan,
    project_root: Path,
    *,
    state: StateDir,
    settings: SupervisorSettings,
    foreground: bool,
    say: Callable[[str], None],
    ready: Callable[[], None] = lambda: None,
    extra_environment: ExtraEnvironment = no_extra_environment,
    host_environment: Mapping[str, str] | None = None,
) -> None:
    """Supervise every instance of `plan` until told to stop. `say` prints one message line."""
    lock = SupervisorLock(state)
    lock.acquire()
    log = EventLog(state.supervisor_log, len(plan.apps) > 1)
    try:
        log.say(f"supervisor {os.getpid()} starting")
        isolation = open_isolation(state.root)
        if isolation.warning:
            say(f"warning: {isolation.warning}")
        stale = isolation.clear_stale()
        if stale:
            say(f"killed {', '.join(stale)}: left running by a previous sunup")
        write_shims(state.bin, sys.executable)
        specs = instance_specs(
            plan,
            project_root,
            state,
            host_environment=os.environ if host_environment is None else host_environment,
            extra_environment=extra_environment,
        )
        state.run.mkdir(exist_ok=True)
        loop = asyncio.get_running_loop()
        console = Console([s.id for s in specs]) if foreground else None
        observers: list[Callable[[Event], None]] = [log]
        if console is not None:
            observers.append(_console_filter(console))
        supervisor = Supervisor(specs, isolation=isolation, settings=settings, observers=observers, console=console)
        done = asyncio.Event()
        server = ControlServer(state.socket, Handlers(supervisor, plan, project_root, done.set))
        await server.start()
        signals = {"count": 0}

        def on_signal() -> None:
            signals["count"] += 1
            done.set()
            if signals["count"] > 1:
                for runner in supervisor.runners.values():
                    if runner.status.state is InstanceState.STOPPING:
                        runner.feed(GraceExpired())

        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_signal)
        try:
            supervisor.start()
            ready()
            await done.wait()
            log.say("stopping every instance")
            await supervisor.stop_all()
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
            await server.close()
            supervisor.close()
            isolation.close()
            log.say("supervisor stopped")
    finally:
        log.close()
        lock.release()


def _console_filter(console: Console) -> Callable[[Event], None]:
    """Show state changes to running / backoff / stopped and every other event; skip noise."""

    def observe(event: Event) -> None:
        if isinstance(event, StateChangedEvent) and event.status.state is InstanceState.STARTING:
            return
        console.event(event)

    return observe
