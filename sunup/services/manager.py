"""A small standalone runner: every service of a plan as child processes, until the supervisor runs them.

    manager = ServiceManager(plan.services, state_dir / "services", progress=print_progress)
    access = await manager.start()     # prepared, started in parallel, ready, provisioned
    ...                                # access[(service, endpoint)] -> Credentials
    await manager.stop()               # each server's own graceful stop, SIGKILL after its timeout

It uses only the providers' separate steps (prepare, process, probe, provision), as a supervisor
would. Children are `subprocess.Popen`s in their own session, waited on through a pidfd, so a
manager started under one event loop can be stopped under another (test fixtures do that). A
failed start stops whatever had started before raising.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.plan.model import ServicePlan
from sunup.plan.relationships import AccessMap, Credentials
from sunup.services import provider_for
from sunup.services.model import Progress, ServiceProcess, no_progress
from sunup.services.probes import wait_ready
from sunup.services.provider import ServiceProvider, start_failure


@dataclass(frozen=True, slots=True)
class Child:
    """One running server and how to stop it."""

    process: ServiceProcess
    popen: subprocess.Popen[bytes]
    log_file: Path


async def wait_exit(popen: subprocess.Popen[bytes], timeout: float | None = None) -> int | None:
    """The exit status of `popen` once it exits; None if it still runs after `timeout` seconds."""
    if popen.poll() is not None:
        return popen.returncode
    loop = asyncio.get_running_loop()
    fd = os.pidfd_open(popen.pid)
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await asyncio.wait_for(exited, timeout)
    except TimeoutError:
        return None
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return popen.wait()


def spawn(process: ServiceProcess, log_file: Path) -> subprocess.Popen[bytes]:
    """Start `process` in a session of its own, its output appended to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        log.write(f"--- sunup {stamp}: {' '.join(process.argv)}\n".encode())
        log.flush()
        return subprocess.Popen(
            process.argv,
            env=dict(process.env),
            cwd=process.cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def stop_child(child: Child) -> int | None:
    """The server's own stop signal, SIGKILL after its timeout; then nothing of its session is left."""
    popen = child.popen
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            popen.send_signal(child.process.stop_signal)
        if await wait_exit(popen, child.process.stop_timeout) is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            await wait_exit(popen)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signal.SIGKILL)
    return popen.returncode


class ServiceManager:
    def __init__(
        self,
        services: Sequence[ServicePlan],
        services_dir: Path,
        *,
        progress: Progress = no_progress,
        warn: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.providers: dict[str, ServiceProvider] = {s.name: provider_for(s, services_dir) for s in services}
        self.progress = progress
        self.warn = warn
        self.children: dict[str, Child] = {}
        self.credentials: dict[str, Mapping[str, Credentials]] = {}

    def access(self) -> AccessMap:
        """(service, endpoint) -> credentials of every provisioned service."""
        return {(name, ep): creds for name, by_ep in self.credentials.items() for ep, creds in by_ep.items()}

    async def start(self) -> AccessMap:
        tasks = [asyncio.create_task(self._start(name, provider)) for name, provider in self.providers.items()]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.stop()
            raise
        return self.access()

    async def _start(self, name: str, provider: ServiceProvider) -> None:
        start = await provider.prepare(self.progress)
        for warning in start.warnings:
            self.warn(warning)
        if start.process is not None:
            log_file = provider.home.log_file
            child = Child(start.process, spawn(start.process, log_file), log_file)
            self.children[name] = child
            exited = asyncio.ensure_future(wait_exit(child.popen))
            try:
                await wait_ready(name, provider.probe, timeout=provider.ready_timeout, exited=exited)
            except RuntimeFailure as exc:
                await stop_child(self.children.pop(name))  # first: a port still taken is then another's
                raise start_failure(provider, exc) from None
            finally:
                exited.cancel()
        self.credentials[name] = await provider.provision()

    async def stop(self) -> None:
        """Stop every server started, in parallel."""
        children = list(self.children.values())
        self.children.clear()
        await asyncio.gather(*(stop_child(child) for child in children))

    async def __aenter__(self) -> ServiceManager:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()
