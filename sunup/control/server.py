"""The control socket server: reads requests, hands them to the handlers, writes replies.

The socket is created with mode 0600 (umask set around bind) in the state folder. Nothing a
client sends can stop the supervisor: undecodable or oversized lines get an error reply, and an
exception in a handler becomes an ``internal`` error reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sunup.control.protocol import (
    BAD_REQUEST,
    BUSY,
    INTERNAL,
    MAX_MESSAGE,
    ProtocolError,
    Request,
    decode_request,
    encode_error,
    encode_result,
    socket_address,
)

Handler = Callable[[Request], Awaitable[Any]]
#: How long closing waits for the requests being answered.
CLOSE_TIMEOUT = 5.0
#: Connections open at once; one more gets a ``busy`` error reply and is closed, so that clients
#: holding connections open cannot take the file descriptors the instances need.
MAX_CONNECTIONS = 512


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()
        #: Connections answering a request now.
        self._busy: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        previous = os.umask(0o177)
        try:
            with socket_address(self.path) as address:
                self._server = await asyncio.start_unix_server(self._serve, path=address, limit=MAX_MESSAGE)
        finally:
            os.umask(previous)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        """Stop listening; let requests being answered finish (a few seconds), then hang up."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._busy:
            await asyncio.wait(list(self._busy), timeout=CLOSE_TIMEOUT)
        for task in list(self._connections):
            task.cancel()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if len(self._connections) >= MAX_CONNECTIONS:
            error = ProtocolError(BUSY, f"{MAX_CONNECTIONS} connections are open already", hint="try again later")
            with contextlib.suppress(ConnectionError):
                writer.write(encode_error(None, error))
            writer.close()
            return
        if task is not None:
            self._connections.add(task)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                if exc.partial.strip():
                    writer.write(encode_error(None, ProtocolError(BAD_REQUEST, "a request must end with a newline")))
                    await writer.drain()
                return
            except asyncio.LimitOverrunError:
                error = ProtocolError(BAD_REQUEST, f"a request is at most {MAX_MESSAGE} bytes")
                writer.write(encode_error(None, error))
                await writer.drain()
                return
            if not line.strip():
                continue
            task = asyncio.current_task()
            if task is not None:
                self._busy.add(task)
            try:
                writer.write(await self._answer(line))
                await writer.drain()
            finally:
                if task is not None:
                    self._busy.discard(task)
            # Neither a buffered request nor an unblocked write waits: without this, a client
            # sending thousands of requests at once would hold the loop until all are answered.
            await asyncio.sleep(0)

    async def _answer(self, line: bytes) -> bytes:
        ident: int | str | None = None
        try:
            request = decode_request(line)
            ident = request.id
            return encode_result(ident, await self._handler(request))
        except ProtocolError as exc:
            return encode_error(ident, exc)
        except Exception as exc:  # a bug in a handler is answered, never fatal
            return encode_error(ident, ProtocolError(INTERNAL, f"{type(exc).__name__}: {exc}"))
