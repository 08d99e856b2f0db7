"""The deploy and post_deploy hooks, run on web instance 0 (spec §3).

Each hook is one shell script (`/bin/sh -c`): it fails only if its last command fails, unless it
says `set -e`. Its output goes to the instance's `deploy.log` / `post-deploy.log` after a
timestamped "Launching command" line. A failing hook is reported, and the deploy goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sunup.deploy.logfile import TimestampedLog
from sunup.deploy.namespace import Enter, no_namespace

#: Log file of each hook, in the instance's log folder.
LOG_NAMES = {"deploy": "deploy.log", "post_deploy": "post-deploy.log"}


@dataclass(frozen=True, slots=True)
class HookResult:
    hook: str
    status: int
    duration: float
    #: The last lines of its output.
    tail: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.status == 0

    def describe(self) -> str:
        outcome = "succeeded" if self.ok else f"failed with exit status {self.status}"
        return f"the {self.hook} hook {outcome} after {self.duration:.1f} s"


async def run_hook(
    hook: str, script: str, *, environment: Mapping[str, str], cwd: Path, log_dir: Path, enter: Enter | None = None
) -> HookResult:
    """Run `script` as the `hook` hook, logging to its log file in `log_dir`; `enter` puts it in
    web instance 0's mount namespace (its read-only app folder and its mounts)."""
    log = TimestampedLog(log_dir / LOG_NAMES[hook])
    shown = script.strip().replace("\n", "\\n")  # one log line, the script as written
    log.write(f"Launching command '{shown}'.")
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=10)
    argv, preexec = (enter or no_namespace)(["/bin/sh", "-c", script])
    process = await asyncio.create_subprocess_exec(
        *argv,
        preexec_fn=preexec,
        cwd=cwd,
        env=dict(environment),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        async for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            tail.append(line)
            log.write(line)
        status = await process.wait()
    except asyncio.CancelledError:  # the supervisor stops: so does the hook, all of it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        log.write("Command interrupted: sunup is stopping.")
        raise
    result = HookResult(hook, status, time.monotonic() - started, tuple(tail))
    log.write(f"Command {'finished' if result.ok else f'failed with exit status {status}'}.")
    return result
