"""The pod's port, passed on to the app: apps bind ``127.0.0.1:$PORT`` as on the platform.

On Upsun the app listens on loopback and the platform's web server in front of it takes the
traffic. In a pod, a Service reaches the pod's IP, never its loopback: `Forwarder` listens on the
pod's port (0.0.0.0:8080, `sunup.export.kubernetes.HTTP_PORT`) and copies each connection both
ways to the app's PORT on 127.0.0.1 (or its unix SOCKET). An app that binds 0.0.0.0:$PORT is
reached the same way; so every web pod behaves alike, whatever its app binds.

While the app is not listening (starting, restarting), a connection is closed at once: the
Service's readiness is the exporter's business, a refused connection the client's.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

#: Bytes per read when copying.
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Target:
    """Where the app listens: a loopback TCP port, or a unix socket."""

    port: int | None = None
    socket: str | None = None

    def describe(self) -> str:
        return f"127.0.0.1:{self.port}" if self.port is not None else f"unix:{self.socket}"


class Forwarder:
    """A TCP listener whose connections go to `target`."""

    def __init__(self, target: Target, host: str = "0.0.0.0", port: int = 8080) -> None:
        self.target = target
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen (raises OSError when the port is taken)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.target.port is not None:
            return await asyncio.open_connection("127.0.0.1", self.target.port)
        assert self.target.socket is not None
        return await asyncio.open_unix_connection(self.target.socket)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            try:
                app_reader, app_writer = await self._connect()
            except OSError:
                return
            try:
                await asyncio.gather(_copy(reader, app_writer), _copy(app_reader, writer))
            finally:
                await _close(app_writer)
        finally:
            await _close(writer)
            if task is not None:
                self._tasks.discard(task)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of file, then half-close the other side (a client that shut its writing
    side still gets its answer)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
