"""The client side of the control socket, for the CLI and the shims (blocking, no asyncio)."""

from __future__ import annotations

import itertools
import pwd
import socket
from pathlib import Path
from typing import Any

from sunup.control.protocol import MAX_MESSAGE, ProtocolError, Request, decode_response, socket_address
from sunup.errors import SunupError


class NotRunningError(Exception):
    """No supervisor listens on the socket."""


class SocketAccessError(SunupError):
    """The socket exists but this user may not connect to it (mode 0600: its owner only)."""

    def __init__(self, path: Path) -> None:
        owner = _owner(path)
        super().__init__(
            f"permission denied on the control socket {path}: the supervisor runs as {owner}",
            hint=f"run sunup as {owner}, the user who started it",
        )


def _owner(path: Path) -> str:
    try:
        uid = path.stat().st_uid
    except OSError:
        return "another user"
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


class ControlClient:
    def __init__(self, path: Path, *, timeout: float | None = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._ids = itertools.count(1)

    def call(self, command: str, *, timeout: float | None = -1.0, **args: Any) -> Any:
        """Send one request and return its result; raises `ProtocolError` on an error reply.

        `timeout` (seconds, None for no limit) overrides the client's for this call.
        """
        ident = next(self._ids)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(self.timeout if timeout == -1.0 else timeout)
            try:
                with socket_address(self.path) as address:
                    conn.connect(address)
            except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as exc:
                raise NotRunningError(str(self.path)) from exc
            except PermissionError:
                raise SocketAccessError(self.path) from None
            conn.sendall(Request(command, args, ident).encode())
            line = _read_line(conn)
        response = decode_response(line)
        if response.error is not None:
            raise response.error
        return response.result


def _read_line(conn: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            raise ProtocolError("failed", "the supervisor closed the connection without a reply")
        newline = chunk.find(b"\n")
        if newline >= 0:
            chunks.append(chunk[: newline + 1])
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > 64 * MAX_MESSAGE:
            raise ProtocolError("failed", "the supervisor's reply is too long")
