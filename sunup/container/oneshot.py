"""One run of a hook or a cron in a container: `sunup run-instance --hook deploy` / `--cron NAME`.

The Job of a hook and the Job a CronJob starts run their command once, in the environment of web
instance 0 as `run-instance` makes it (the plan's variables, the pod's Secret, the build's
toolchain first on PATH), with `.environment` sourced, in the app folder; output on stdout with
UTC timestamps; the command's exit status is the container's.

Stopping (SIGTERM / SIGINT to the container, or a cron past its `timeout`): a cron's
`commands.stop` runs when it has one, else SIGTERM goes to the command's process group; SIGKILL
follows after the grace (a cron's `shutdown_timeout`, 15 s for a hook), as sunup does locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sunup.supervisor.child import dying_with_parent
from sunup.supervisor.logcapture import Timestamps

ENVIRONMENT_PRELUDE = "if [ -r ./.environment ]; then set -a; . ./.environment; set +a; fi\n"
#: The longest output line read whole.
LINE_LIMIT = 1024 * 1024
#: Exit status of a run cancelled at its timeout (as timeout(1)).
TIMED_OUT = 124


@dataclass(frozen=True, slots=True)
class OneShot:
    """What to run once, and how to stop it."""

    label: str
    script: str
    environment: Mapping[str, str]
    cwd: Path
    stop: str | None = None
    grace: float = 15.0
    timeout: float | None = None


async def run_once(job: OneShot, say: Callable[[str], None], fd: int = 1) -> int:
    """Run `job` to its end; its exit status (128 + N when a signal N ended it)."""
    loop = asyncio.get_running_loop()
    argv, preexec = dying_with_parent(["/bin/sh", "-c", ENVIRONMENT_PRELUDE + job.script])
    process = await asyncio.create_subprocess_exec(
        *argv,
        preexec_fn=preexec,
        cwd=job.cwd,
        env=dict(job.environment),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
        limit=LINE_LIMIT,
    )
    say(f"{job.label}: started (pid {process.pid})")
    stopping: list[asyncio.Task[None]] = []
    timed_out: list[bool] = []

    def stop(reason: str) -> None:
        if not stopping:
            say(f"{job.label}: {reason}, stopping")
            stopping.append(loop.create_task(_stop(job, process.pid, say, fd)))

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, f"{signal.Signals(sig).name} received")
    timer = None
    if job.timeout is not None:

        def expire() -> None:
            timed_out.append(True)
            stop(f"still running after its timeout of {job.timeout:g} s")

        timer = loop.call_later(job.timeout, expire)
    try:
        stamps = Timestamps()
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw if raw.endswith(b"\n") else raw + b"\n"
            with contextlib.suppress(OSError):
                os.write(fd, stamps.prefix() + line)
        code = await process.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if timer is not None:
            timer.cancel()
        for task in stopping:
            task.cancel()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # what it left behind goes with it
    status = TIMED_OUT if timed_out else (code if code >= 0 else 128 - code)
    say(f"{job.label}: ended with status {status}")
    return status


async def _stop(job: OneShot, pid: int, say: Callable[[str], None], fd: int) -> None:
    """The cron's stop command, or SIGTERM to the group; SIGKILL after the grace."""
    if job.stop:
        argv, preexec = dying_with_parent(["/bin/sh", "-c", ENVIRONMENT_PRELUDE + job.stop])
        stopper = await asyncio.create_subprocess_exec(
            *argv,
            preexec_fn=preexec,
            cwd=job.cwd,
            env=dict(job.environment),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        said, _ = await stopper.communicate()
        stamp = Timestamps().prefix()
        with contextlib.suppress(OSError):
            os.write(fd, b"".join(stamp + line + b"\n" for line in said.splitlines()))
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
            os.killpg(pid, signal.SIGCONT)
    await asyncio.sleep(job.grace)  # the grace itself: a deadline, not a wait for a state
    say(f"{job.label}: still running {job.grace:g} s after the stop: SIGKILL")
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
