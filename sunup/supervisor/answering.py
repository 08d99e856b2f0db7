"""Waiting until web instances answer: their `PORT` (or `SOCKET`) accepts a connection.

`sunup deploy`, `sunup redeploy` and `sunup restart --web` return only once the new web
instances answer, so that a client told "done" reaches the new code (spec §10): when the
instances they replace answered (`answers`, tried once before the stop). A web instance that
never listens (a test's `sleep`, an app that serves nothing) is not waited for. A port starting
to listen is not an event anything delivers: each instance is tried every `RETRY` seconds until
it accepts, leaves the starting and running states (it failed: the wait ends, the caller reports
it), or the deadline passes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from sunup.supervisor.lifecycle import InstanceState
from sunup.supervisor.runner import InstanceRunner

RETRY = 0.02
#: Seconds a web instance has to answer after it started.
ANSWER_TIMEOUT = 60.0
_ALIVE = (InstanceState.STARTING, InstanceState.RUNNING)


async def answering(runners: Iterable[InstanceRunner], timeout: float = ANSWER_TIMEOUT) -> list[InstanceRunner]:
    """Wait for each of `runners` that listens to accept a connection; the ones that did not
    (failed, or still silent at the deadline)."""
    waits = [_one(r, timeout) for r in runners if r.spec.port is not None or r.spec.environment.get("SOCKET")]
    found = await asyncio.gather(*waits)
    return [runner for runner in found if runner is not None]


async def answers(runners: Iterable[InstanceRunner]) -> bool:
    """Whether any of `runners` accepts a connection now (one try each)."""
    for runner in runners:
        with contextlib.suppress(OSError):
            if await _connect(runner):
                return True
    return False


async def _connect(runner: InstanceRunner) -> bool:
    spec = runner.spec
    if spec.port is not None:
        _, writer = await asyncio.open_connection("127.0.0.1", spec.port)
    elif spec.environment.get("SOCKET"):
        _, writer = await asyncio.open_unix_connection(spec.environment["SOCKET"])
    else:
        return False
    writer.close()
    return True


async def _one(runner: InstanceRunner, timeout: float) -> InstanceRunner | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while runner.status.state in _ALIVE and loop.time() < deadline:
        with contextlib.suppress(OSError):
            if await _connect(runner):
                return None
        await asyncio.sleep(RETRY)
    return runner
