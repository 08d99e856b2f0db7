"""The hold server: where nginx sends a request that no web instance of its app took.

It runs in the supervisor's event loop on a unix socket, and is in the path of a request only
while an app's web instances do not answer: during a deploy, a redeploy or a restart (the old
instance stopped, the new one not listening yet), or a crash loop. nginx passes the request as
it got it (method, headers, the whole body), with two headers of its own: the app
(``X-Sunup-App``), the instances it tried (``X-Sunup-Upstream``: ``$upstream_addr``) and
what each attempt gave (``X-Sunup-Connect``: ``$upstream_connect_time``, ``-`` for an attempt
that could not connect). For an app nginx speaks FastCGI to (PHP-FPM), ``X-Sunup-Retry`` names
the location that passes it on: once an instance accepts, the hold answers with an
``X-Accel-Redirect`` there instead of relaying the request itself.

- When no attempt connected, the app never saw the request, so passing it on later is safe for
  any method: the request is held until a web instance of the app accepts a connection, then
  sent to it as it was, and its answer relayed (the client sees one slow answer, no error).
- When an attempt connected and the connection broke, the instance may have seen the request.
  If sunup itself was stopping that instance (a deploy, a restart: the instance was told to
  finish what it had, and a connection it had not taken yet is reset), it did not: the request is
  held as above. Otherwise (it died while answering) only requests that may be repeated (GET,
  HEAD, OPTIONS, PUT, DELETE) are held and passed on; others get a 502.
- After the hold time (30 s by default), or at once for an app with no web instance: 503, with
  a page naming the instance, its state and last exit, and how to read its logs.

Waiting is bounded: a connection attempt to each instance every `RETRY` seconds until the
deadline (a port starting to listen is not an event anything delivers).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Seconds a request is held by default (`sunup up --hold-timeout`).
DEFAULT_HOLD = 30.0
RETRY = 0.05
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
HEADER_LIMIT = 64 * 1024
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Down:
    """Why an app's web instances do not answer, for the 503 page."""

    #: ``app web.0`` or ``web.0``.
    instance: str
    #: ``backoff (next try in 3 s)``, ``stopped``...
    state: str
    #: ``exit status 1``, or None.
    last_exit: str | None
    #: The command that shows its logs.
    logs: str


class HoldServer:
    """`addresses(app)` gives where the app's web instances listen now (``127.0.0.1:8000`` or
    ``unix:/path``), `describe(app)` why they do not answer."""

    def __init__(
        self,
        socket_path: Path,
        addresses: Callable[[str], Sequence[str]],
        describe: Callable[[str], Down],
        *,
        stopped_by_sunup: Callable[[str], bool] = lambda _address: False,
        hold: float = DEFAULT_HOLD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.socket_path = socket_path
        self._addresses = addresses
        self._describe = describe
        self._stopped_by_sunup = stopped_by_sunup
        self.hold = hold
        self._clock = clock
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()
        #: Requests held and passed on, and answered 503, since the start (for tests and logs).
        self.passed = 0
        self.refused = 0

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(self._client, path=str(self.socket_path), limit=HEADER_LIMIT)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._clients):
            task.cancel()
        for task in list(self._clients):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head[:-4].split(b"\r\n")
        method = request_line.split(b" ", 1)[0].decode("latin-1")
        app, length = "", 0
        retry = b""
        tried: list[str] = []
        connects: list[str] = []
        kept: list[bytes] = []
        for line in header_lines:
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"x-sunup-app":
                app = value.strip().decode("latin-1")
            elif key == b"x-sunup-connect":
                connects = _list(value)
            elif key == b"x-sunup-upstream":
                tried = _list(value)
            elif key == b"x-sunup-retry":
                retry = value.strip()
            elif key == b"connection":
                continue
            else:
                if key == b"content-length":
                    length = int(value.strip())
                kept.append(line)
        body = await reader.readexactly(length) if length else b""
        seen = [address for address, took in zip(tried, connects, strict=False) if took not in ("-", "")]
        if len(connects) > len(tried):  # addresses nginx did not name: assume the worst
            seen.append("")
        if method not in IDEMPOTENT and not all(self._stopped_by_sunup(a) for a in seen):
            self.refused += 1
            writer.write(_page(502, "Bad Gateway", self._describe(app), "it stopped while answering this request"))
            await writer.drain()
            return
        upstream = await self._connect(app)
        if upstream is None:
            self.refused += 1
            writer.write(_page(503, "Service Unavailable", self._describe(app), f"not answering after {self.hold:g} s"))
            await writer.drain()
            return
        up_reader, up_writer = upstream
        if retry:
            # An app nginx speaks FastCGI to: it passes the request on itself, to `retry`.
            up_writer.close()
            writer.write(b"HTTP/1.0 200 OK\r\nX-Accel-Redirect: " + retry + b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            self.passed += 1
            return
        try:
            up_writer.write(b"\r\n".join([request_line, *kept, b"Connection: close"]) + b"\r\n\r\n" + body)
            await up_writer.drain()
            while chunk := await up_reader.read(CHUNK):
                writer.write(chunk)
                await writer.drain()
            self.passed += 1
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    async def _connect(self, app: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to a web instance of `app` once one accepts, or None at the deadline."""
        deadline = self._clock() + self.hold
        while True:
            for address in self._addresses(app):
                with contextlib.suppress(OSError):
                    if address.startswith("unix:"):
                        return await asyncio.open_unix_connection(address[5:])
                    host, _, port = address.rpartition(":")
                    return await asyncio.open_connection(host, int(port))
            remaining = deadline - self._clock()
            if remaining <= 0:
                return None
            await asyncio.sleep(min(RETRY, remaining))


def _list(value: bytes) -> list[str]:
    """nginx's list of attempts: ``a, b`` (one upstream), ``a : b`` (after an internal redirect)."""
    text = value.decode("latin-1").replace(" : ", ", ")
    return [part.strip() for part in text.split(",")]


def _page(status: int, reason: str, down: Down, why: str) -> bytes:
    """An HTTP/1.0 answer with a page saying which instance does not answer and what to do."""
    exit_line = f"<p>Its last exit: {html.escape(down.last_exit)}.</p>" if down.last_exit else ""
    body = (
        "<!DOCTYPE html>\n<html><head><meta charset=utf-8>"
        f"<title>{status} {reason}: {html.escape(down.instance)}</title></head><body>"
        f"<h1>{html.escape(down.instance)} is not answering</h1>"
        f"<p>sunup's router held this request, but {html.escape(down.instance)} is {html.escape(down.state)}: "
        f"{html.escape(why)}.</p>{exit_line}"
        f"<p>See its logs: <code>{html.escape(down.logs)}</code></p></body></html>\n"
    ).encode()
    head = (
        f"HTTP/1.0 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nRetry-After: 5\r\n"
        f"X-Sunup-Instance: {down.instance}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1", "replace") + body
