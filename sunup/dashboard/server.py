"""The dashboard's HTTP server (aiohttp) on 127.0.0.1, in the supervisor's event loop.

    GET  /?token=T                  the page (HTML with its CSS and JS inlined: one response)
    GET  /events?token=T            Server-Sent Events: instances, services, crons, deploys, samples
    GET  /logs?token=T&instance=K   Server-Sent Events: the log of instance K (``all``: every one)
    POST /api/COMMAND               a button: header X-Sunup-Token, JSON arguments; same-origin only

Every request without the token gets 401 and no data (`sunup.dashboard.access`). The commands a
button may send are the control protocol's (`sunup.control.handlers`), never a second code path.
"""

from __future__ import annotations

import contextlib
import json
from importlib import resources
from typing import Any

from aiohttp import web

from sunup.control.protocol import FAILED, ProtocolError
from sunup.dashboard.access import TOKEN_HEADER, same_origin_refusal, token_matches
from sunup.dashboard.hub import Hub, Page, answer

#: What a button may ask, and the arguments it may pass (the CLI's own for these commands).
COMMANDS: dict[str, frozenset[str]] = {
    "start": frozenset({"instances", "services", "service"}),
    "stop": frozenset({"instances", "services", "service"}),
    "restart": frozenset({"instances", "services", "service"}),
    "cron:run": frozenset({"app", "name"}),
    "cron:cancel": frozenset({"app", "name"}),
    "redeploy": frozenset(),
}
#: Largest body a button sends.
MAX_BODY = 64 * 1024
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Nothing loads from anywhere else; the page's own script and style are inline.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src data:; frame-ancestors 'none'; form-action 'none'"
    ),
}


def page_html() -> bytes:
    """index.html with style.css and app.js put in place (read from the package's data)."""
    folder = resources.files("sunup.dashboard") / "static"
    html = (folder / "index.html").read_text(encoding="utf-8")
    html = html.replace("/*STYLE*/", (folder / "style.css").read_text(encoding="utf-8"))
    html = html.replace("/*SCRIPT*/", (folder / "app.js").read_text(encoding="utf-8"))
    return html.encode()


class DashboardServer:
    def __init__(self, hub: Hub, token: str) -> None:
        self.hub = hub
        self.token = token
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._page: bytes | None = None
        self._streams: set[web.StreamResponse] = set()

    @property
    def hosts(self) -> frozenset[str]:
        """The ``host:port`` names a same-origin request comes from."""
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    async def start(self) -> None:
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY)
        app.router.add_get("/", self._index)
        app.router.add_get("/events", self._events)
        app.router.add_get("/logs", self._logs)
        app.router.add_post("/api/{command}", self._command)
        # handler_cancellation: a page that goes away ends its stream at once (the sampler and the log
        # tails stop with the last page), not at the next write that fails.
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.headers.get(TOKEN_HEADER) or request.query.get("token")
        if not token_matches(self.token, given):
            return _refused(401, "this dashboard needs its token: open the URL `sunup dashboard` prints")
        if request.method != "GET":
            why = same_origin_refusal(request.headers, self.hosts)
            if why is not None or not token_matches(self.token, request.headers.get(TOKEN_HEADER)):
                return _refused(403, f"refused as a cross-site request: {why}")
        response: web.StreamResponse = await handler(request)
        return response

    async def _index(self, request: web.Request) -> web.Response:
        if self._page is None:
            self._page = page_html()
        return web.Response(body=self._page, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={**SECURITY_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        await response.prepare(request)
        return response

    async def _pump(self, response: web.StreamResponse, page: Page) -> None:
        """Send the page's frames as they are queued, until it or the server goes."""
        while True:
            data = await page.queue.get()
            if data is None:
                return
            # Whatever is queued now goes in one write.
            chunks = [data]
            while not page.queue.empty():
                more = page.queue.get_nowait()
                if more is None:
                    await response.write(b"".join(chunks))
                    return
                chunks.append(more)
            await response.write(b"".join(chunks))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = await self._stream(request)
        page = await self.hub.connect()
        try:
            with contextlib.suppress(ConnectionError):
                await self._pump(response, page)
        finally:
            self.hub.disconnect(page)
        return response

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        response = await self._stream(request)
        page = self.hub.follow_logs(request.query.get("instance", "all"))
        try:
            with contextlib.suppress(ConnectionError):
                await self._pump(response, page)
        finally:
            self.hub.stop_logs(page)
        return response

    async def _command(self, request: web.Request) -> web.Response:
        command = request.match_info["command"]
        allowed = COMMANDS.get(command)
        if allowed is None:
            return _refused(404, f"no button runs {command!r}", hint=f"buttons: {', '.join(COMMANDS)}")
        if request.content_type != "application/json":
            return _refused(415, "a button sends JSON (Content-Type: application/json)")
        try:
            body = await request.json()
        except ValueError as exc:
            return _refused(400, f"not JSON: {exc}")
        if not isinstance(body, dict) or set(body) - allowed:
            return _refused(400, f"{command} takes {', '.join(sorted(allowed)) or 'no arguments'}")
        args: dict[str, Any] = dict(body)
        if command in ("start", "stop", "restart", "cron:run"):
            args["wait"] = False  # the page sees the change on its event stream
        try:
            result = await answer(self.hub, command, args)
        except ProtocolError as exc:
            status = 400 if exc.code != FAILED else 409
            return _refused(status, exc.message, hint=exc.hint)
        return web.json_response({"ok": True, "result": result}, dumps=_dumps, headers=SECURITY_HEADERS)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _refused(status: int, message: str, hint: str | None = None) -> web.Response:
    return web.json_response(
        {"ok": False, "error": message, "hint": hint}, status=status, dumps=_dumps, headers=SECURITY_HEADERS
    )
