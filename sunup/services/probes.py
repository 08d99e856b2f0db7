"""Readiness: one real protocol exchange with a server, and a bounded wait built on it.

A probe opens a TCP connection and speaks just enough of the server's protocol to know it serves
clients: MariaDB's greeting packet, PostgreSQL's answer to a startup message (not "starting up"),
Redis's PONG (not LOADING), AMQP's Connection.Start. It returns None when ready, else the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import struct
from collections.abc import Awaitable, Callable

from sunup.errors import RuntimeFailure

#: One attempt's limit: a server that accepts but does not answer within this is not ready.
ATTEMPT_TIMEOUT = 2.0

Probe = Callable[[], Awaitable[str | None]]


async def _exchange(host: str, port: int, send: bytes, size: int) -> bytes:
    """Connect, send `send`, read up to `size` bytes (at least one), close."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), ATTEMPT_TIMEOUT)
    try:
        if send:
            writer.write(send)
            await writer.drain()
        data = await asyncio.wait_for(reader.read(size), ATTEMPT_TIMEOUT)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if not data:
        raise ConnectionResetError("the server closed the connection without a word")
    return data


async def _attempt(host: str, port: int, send: bytes, size: int, judge: Callable[[bytes], str | None]) -> str | None:
    try:
        return judge(await _exchange(host, port, send, size))
    except TimeoutError:
        return f"{host}:{port} accepted no connection or gave no answer within {ATTEMPT_TIMEOUT:.0f} s"
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"


def _mysql_judge(data: bytes) -> str | None:
    if len(data) > 4 and data[4] == 0x0A:
        return None
    if len(data) > 7 and data[4] == 0xFF:
        return "the server refused: " + data[7:].decode("utf-8", "replace")
    return "no MySQL greeting"


async def mysql_ping(host: str, port: int) -> str | None:
    """Ready when the server sends its protocol-10 greeting."""
    return await _attempt(host, port, b"", 1024, _mysql_judge)


def _postgres_startup(user: str) -> bytes:
    body = struct.pack("!I", 196608) + f"user\0{user}\0database\0postgres\0\0".encode()
    return struct.pack("!I", len(body) + 4) + body


def _postgres_judge(data: bytes) -> str | None:
    if data[:1] == b"R":
        return None
    if data[:1] == b"E":
        fields = {part[:1].decode(): part[1:].decode("utf-8", "replace") for part in data[5:].split(b"\0") if part}
        if fields.get("C") in ("57P03", "53300"):
            return fields.get("M", "the database system is starting up")
        return None
    return "no PostgreSQL answer"


async def postgres_ping(host: str, port: int, user: str) -> str | None:
    """Ready when a startup message gets an authentication request (or any error but "starting up")."""
    return await _attempt(host, port, _postgres_startup(user), 4096, _postgres_judge)


def _redis_judge(data: bytes) -> str | None:
    line = data.split(b"\r\n", 1)[0].decode("utf-8", "replace")
    if line == "+PONG" or line.startswith("-NOAUTH"):
        return None
    return line or "no Redis answer"


async def redis_ping(host: str, port: int) -> str | None:
    """Ready on PONG; LOADING (replaying the append-only file) is not ready."""
    return await _attempt(host, port, b"*1\r\n$4\r\nPING\r\n", 1024, _redis_judge)


def _amqp_judge(data: bytes) -> str | None:
    # A method frame on channel 0 carrying connection.start (class 10, method 10).
    if len(data) >= 11 and data[0] == 1 and data[7:11] == b"\x00\x0a\x00\x0a":
        return None
    return "no AMQP connection.start"


async def amqp_ping(host: str, port: int) -> str | None:
    """Ready when the AMQP 0-9-1 protocol header gets connection.start."""
    return await _attempt(host, port, b"AMQP\x00\x00\x09\x01", 4096, _amqp_judge)


def ended(status: int | None) -> str:
    """How a server ended, from its exit status as `Popen.returncode` gives it (-N: killed by signal N)."""
    if status is None:
        return "exited"
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


async def wait_ready(
    service: str, probe: Probe, *, timeout: float, exited: asyncio.Future[int | None] | None = None
) -> None:
    """Probe until ready; fail after `timeout` seconds, or as soon as `exited` is set: the server's
    exit status (`ended`), which the failure names."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.02
    while True:
        reason = await probe()
        if reason is None:
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise RuntimeFailure(
                f"service '{service}' was not ready after {timeout:.0f} s: {reason}",
                hint="its log says why (sunup services shows where it is)",
            )
        if exited is not None:
            done, _ = await asyncio.wait({exited}, timeout=min(delay, remaining))
            if done:
                raise RuntimeFailure(f"service '{service}' {ended(exited.result())} before it was ready")
        else:
            await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.25)
