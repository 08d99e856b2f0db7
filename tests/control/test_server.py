"""The control socket with a real supervisor: commands, selection, garbage, permissions."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sunup.control.client import ControlClient
from sunup.control.handlers import Handlers
from sunup.control.protocol import ProtocolError
from sunup.control.server import ControlServer
from sunup.isolation import open_isolation
from sunup.plan.model import ProjectPlan
from sunup.supervisor.launch import instance_specs
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.statedir import StateDir
from sunup.supervisor.supervisor import Supervisor
from sunup.supervisor.testing import group_plan, project_plan
from tests.supervisor.harness import run

PLAN = project_plan(group_plan("web", "exec sleep 1000"), group_plan("queue", "exec sleep 1000", count=2))


@asynccontextmanager
async def serving(root: Path, plan: ProjectPlan = PLAN) -> AsyncIterator[tuple[Supervisor, StateDir, asyncio.Event]]:
    state = StateDir(root / ".sunup")
    state.create()
    isolation = open_isolation(state.root)
    specs = instance_specs(plan, root, state, host_environment=dict(os.environ))
    supervisor = Supervisor(specs, isolation=isolation, settings=SupervisorSettings(grace=2))
    done = asyncio.Event()
    server = ControlServer(state.socket, Handlers(supervisor, plan, root, done.set))
    await server.start()
    supervisor.start()

    async def stop_when_done() -> None:
        # What the daemon does once told to shut down.
        await done.wait()
        await supervisor.stop_all()

    stopper = asyncio.create_task(stop_when_done())
    try:
        yield supervisor, state, done
    finally:
        stopper.cancel()
        await server.close()
        await supervisor.stop_all()
        supervisor.close()
        isolation.close()


async def call(state: StateDir, command: str, **args: object) -> object:
    """A blocking client call, run off the loop so the server can answer."""
    return await asyncio.to_thread(ControlClient(state.socket).call, command, **args)


async def raw(state: StateDir, payload: bytes) -> list[dict[str, object]]:
    reader, writer = await asyncio.open_unix_connection(str(state.socket))
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    replies = [json.loads(line) for line in (await reader.read()).splitlines()]
    writer.close()
    await writer.wait_closed()
    return replies


def test_socket_is_private(tmp_path: Path) -> None:
    """The socket is created with mode 0600."""

    async def scenario() -> None:
        async with serving(tmp_path) as (_, state, _):
            assert stat.S_IMODE(os.stat(state.socket).st_mode) == 0o600

    run(scenario())


def test_ps_and_selection(tmp_path: Path) -> None:
    """`ps` lists every instance; --worker and -I narrow it; an unknown worker is a selection error with a hint."""

    async def scenario() -> None:
        async with serving(tmp_path) as (_, state, _):
            rows = await call(state, "ps")
            assert isinstance(rows, list)
            assert [r["name"] for r in rows] == ["web.0", "queue.0", "queue.1"]
            assert {"app", "group", "index", "name", "state", "pid", "restarts", "last_exit"} <= set(rows[0])
            one = await call(state, "ps", worker="app--queue", index=1)
            assert [r["name"] for r in one] == ["queue.1"]  # type: ignore[union-attr]
            try:
                await call(state, "ps", worker="qeueu")
            except ProtocolError as exc:
                assert exc.code == "selection"
                assert exc.hint is not None and "queue" in exc.hint
            else:
                raise AssertionError("an unknown worker was accepted")
            try:
                await call(state, "ps", worker="queue", index=5)
            except ProtocolError as exc:
                assert "2 instances" in exc.message
            else:
                raise AssertionError("a missing instance number was accepted")

    run(scenario())


def test_restart_and_stop_through_the_socket(tmp_path: Path) -> None:
    """`restart` replies once the instance runs again with a new pid; `stop` once it is stopped."""

    async def scenario() -> None:
        async with serving(tmp_path) as (_, state, _):
            before = await call(state, "ps", worker="queue", index=0)
            after = await call(state, "restart", worker="queue", index=0)
            assert after[0]["state"] == "running"  # type: ignore[index]
            assert after[0]["pid"] != before[0]["pid"]  # type: ignore[index]
            stopped = await call(state, "stop", web=True)
            assert stopped[0]["state"] == "stopped"  # type: ignore[index]
            started = await call(state, "start", web=True)
            assert started[0]["state"] in ("starting", "running")  # type: ignore[index]

    run(scenario())


def test_garbage_gets_error_replies_and_the_server_survives(tmp_path: Path) -> None:
    """Undecodable lines, unknown commands and oversized requests get errors; later requests still work."""

    async def scenario() -> None:
        async with serving(tmp_path) as (_, state, _):
            replies = await raw(state, b'not json\n{"command": "explode"}\n\n{"command": "ping", "id": 3}\n')
            assert [r["ok"] for r in replies] == [False, False, True]
            assert replies[0]["error"]["code"] == "bad-request"  # type: ignore[index]
            assert replies[1]["error"]["code"] == "unknown-command"  # type: ignore[index]
            assert replies[2]["id"] == 3
            try:
                huge = await raw(state, b"x" * (2 * 1024 * 1024))
            except ConnectionError:
                huge = [{"ok": False}]  # the server may close before reading it all: a reset
            assert huge[0]["ok"] is False
            truncated = await raw(state, b'{"command": "ps"')
            assert truncated[0]["ok"] is False
            assert (await call(state, "ping"))["instances"] == 3  # type: ignore[index]

    run(scenario())


def test_env_gives_an_instance_environment(tmp_path: Path) -> None:
    """`env` answers the environment and folder of the web instance by default, of a worker on request."""

    async def scenario() -> None:
        async with serving(tmp_path) as (_, state, _):
            web = await call(state, "env")
            assert web["name"] == "web.0" and "PORT" in web["environment"]  # type: ignore[index,operator]
            queue = await call(state, "env", worker="queue", index=1)
            assert queue["environment"]["SUNUP_INSTANCE"] == "app.queue.1"  # type: ignore[index]
            assert queue["cwd"] == str(tmp_path.resolve())  # type: ignore[index]

    run(scenario())


def test_long_socket_paths_work(tmp_path: Path) -> None:
    """A state folder deeper than sun_path allows still gets a working socket."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)

    async def scenario() -> None:
        async with serving(deep) as (_, state, _):
            assert len(str(state.socket)) > 108
            assert (await call(state, "ping"))["instances"] == 3  # type: ignore[index]

    run(scenario())


def test_shutdown_stops_everything(tmp_path: Path) -> None:
    """`shutdown` replies after every instance is stopped and tells the service to end."""

    async def scenario() -> None:
        async with serving(tmp_path) as (supervisor, state, done):
            result = await call(state, "shutdown")
            assert result == {"stopped": 3}
            assert done.is_set()
            assert all(r["state"] == "stopped" for r in supervisor.snapshot())

    run(scenario())
