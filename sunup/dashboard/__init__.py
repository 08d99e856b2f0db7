"""The live dashboard: one page showing and steering every instance, log, cron and deploy.

Served by the running supervisor on 127.0.0.1 (`sunup dashboard` prints its URL), in the
supervisor's own event loop. `hub` turns the supervisor's state changes into Server-Sent Events;
`server` is the HTTP side (aiohttp); `access` the token and the same-origin checks; `tail`
follows logs with one inotify descriptor; `static/` holds the page (HTML, CSS and JS written
here: nothing loads from elsewhere).

    dashboard = Dashboard(state.root)
    relay = Relay(dashboard.hub.hearing(say))       # what deploys say reaches the page
    Supervisor(..., observers=[log, dashboard.hub.observe])
    dashboard.start(handlers, urls)                  # a phase of `serve`; `stop` undoes it

The server starts when it is first asked for: the first `sunup dashboard` (the control command
`dashboard`) imports aiohttp in a thread and listens; until then the supervisor carries neither
(aiohttp and its server cost ~12 MB and CPU at every start, for a page most `up`s never open).
The hub hears from the start, so the page shows what happened before it was opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sunup.control.protocol import FAILED, ProtocolError
from sunup.dashboard.access import Access, new_token, remove_access, write_access
from sunup.dashboard.hub import Hub

if TYPE_CHECKING:
    from sunup.control.handlers import Handlers
    from sunup.dashboard.server import DashboardServer

#: SUNUP_DASHBOARD=0: no dashboard for this supervisor.
VARIABLE = "SUNUP_DASHBOARD"
#: How long `sunup dashboard` waits for a server still starting.
START_WAIT = 30.0


class Dashboard:
    def __init__(self, state_root: Path, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.state_root = state_root
        self.hub = Hub(state_root, loop or asyncio.get_running_loop())
        self.token = new_token()
        self.access: Access | None = None
        self._server: DashboardServer | None = None
        self._starting: asyncio.Task[None] | None = None
        self._enabled = False
        #: Why the server did not start (None: it did, or it is starting).
        self.error: str | None = None

    async def start(self, handlers: Handlers, urls: Callable[[], list[str]]) -> None:
        """Answer the `dashboard` control command, which starts the server the first time."""
        self.hub.handlers, self.hub.urls = handlers, urls
        handlers.register("dashboard", self._answer)
        self._enabled = os.environ.get(VARIABLE) != "0"

    async def _serve(self) -> None:
        """Import aiohttp (in a thread), listen; a failure is kept for `sunup dashboard` to say."""
        module = await asyncio.to_thread(importlib.import_module, "sunup.dashboard.server")
        server: DashboardServer = module.DashboardServer(self.hub, self.token)
        try:
            await server.start()
        except OSError as exc:
            self.error = f"the dashboard could not listen on 127.0.0.1: {exc.strerror or exc}"
            return
        self._server = server
        self.access = Access(f"http://127.0.0.1:{server.port}", self.token)
        write_access(self.state_root, self.access)

    async def _answer(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self._enabled:
            raise ProtocolError(FAILED, "this supervisor runs no dashboard", hint=f"{VARIABLE}=0 was set at its start")
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._serve())
        try:
            await asyncio.wait_for(asyncio.shield(self._starting), START_WAIT)
        except TimeoutError:
            raise ProtocolError(FAILED, f"the dashboard did not start in {START_WAIT:g} s") from None
        if self.access is None:
            raise ProtocolError(FAILED, self.error or "the dashboard did not start")
        return {"url": self.access.url, "link": self.access.link}

    async def stop(self) -> None:
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        self.hub.close()
        if self._server is not None:
            await self._server.close()
            self._server = None
        remove_access(self.state_root)
