"""What the dashboard's pages hear: the supervisor's own state changes, pushed as they happen.

The hub is an observer of the instances' and the services' supervisors (their events), hears
what the supervisor says (`hearing`: a deploy's messages), and follows the crons' logs; it turns
each change into a Server-Sent Event frame queued for every connected page. The frames of one
burst of events are made once, at the loop's next turn (`_dirty`), from the same snapshots `sunup
ps --json` shows (`InstanceRunner.snapshot`).

With no page connected, an event costs a method call that returns at once: no timer, no log
followed, no snapshot. While one is, CPU and memory are sampled every `SAMPLE_INTERVAL` s (the
only timer) and the last `HISTORY` s of samples are kept, encoded, for the charts of the next
page that connects.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sunup.control.protocol import ProtocolError
from sunup.dashboard.tail import Following, Tails
from sunup.supervisor.events import Event, StateChangedEvent
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.logreader import merged_last_lines

if TYPE_CHECKING:
    from sunup.control.handlers import Handlers
    from sunup.deploy.progress import DeployRun
    from sunup.supervisor.supervisor import Supervisor

#: Seconds between two CPU and memory samples (only while a page is connected).
SAMPLE_INTERVAL = 5.0
#: Seconds of samples kept for the charts.
HISTORY = 600.0
#: Frames queued for one page before it is dropped as too slow (it reconnects and starts afresh).
QUEUE_LIMIT = 2000
#: Lines of a log a page gets when it starts following it.
LOG_LINES = 200
#: Events (problems, exits) kept for the page's event list.
NOTES = 50


def frame(kind: str, data: Any) -> bytes:
    """One Server-Sent Event."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


@dataclass(eq=False)
class Page:
    """One connected page (or one log view of it): the frames waiting to be sent."""

    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    following: list[Following] = field(default_factory=list)

    def send(self, data: bytes) -> bool:
        """Queue `data`; False when the page is too far behind (it is then closed)."""
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.queue.put_nowait(None)
            return False
        self.queue.put_nowait(data)
        return True


class Hub:
    def __init__(self, state_root: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.state_root = state_root
        self.loop = loop
        #: Set by the daemon once the instances are made.
        self.handlers: Handlers | None = None
        self.urls: Callable[[], list[str]] = list
        self.pages: set[Page] = set()
        self.log_pages: set[Page] = set()
        self.tails = Tails(loop)
        self.samples: deque[bytes] = deque(maxlen=int(HISTORY / SAMPLE_INTERVAL))
        self.notes: deque[dict[str, Any]] = deque(maxlen=NOTES)
        self._sampler: asyncio.TimerHandle | None = None
        self._cpu: dict[str, tuple[float, float]] = {}
        self._dirty: set[InstanceId] = set()
        self._flush: asyncio.Handle | None = None
        self._changed: set[str] = set()  # "services", "crons", "deploys", "all"
        self._shown: Supervisor | None = None
        self._followed_runs: dict[int, asyncio.Task[None]] = {}
        self._cron_logs: list[Following] = []
        self._cron_task: asyncio.Task[None] | None = None

    # -- what the supervisor tells -------------------------------------------------------------

    def observe(self, event: Event) -> None:
        """An observer of the instances' supervisor."""
        if not self.pages:
            return
        self._dirty.add(event.instance)
        if not isinstance(event, StateChangedEvent):
            self.notes.append({"at": event.at, "instance": event.instance.key, "text": event.describe()})
            self._changed.add("notes")
        self._schedule()

    def observe_services(self, event: Event) -> None:
        """An observer of the services' supervisor."""
        if self.pages:
            self._changed.add("services")
            self._schedule()

    def hearing(self, say: Callable[[str], None]) -> Callable[[str], None]:
        """`say`, also telling the hub (a deploy begun from the command line shows at once)."""

        def heard(text: str) -> None:
            say(text)
            self.deploys_changed()

        return heard

    def deploys_changed(self) -> None:
        if self.pages:
            self._changed.add("deploys")
            self._schedule()

    def _schedule(self) -> None:
        if self._flush is None:
            self._flush = self.loop.call_soon(self._send_changes)

    def _send_changes(self) -> None:
        self._flush = None
        handlers = self.handlers
        if handlers is None or not self.pages:
            self._dirty.clear()
            self._changed.clear()
            return
        frames: list[bytes] = []
        if handlers.supervisor is not self._shown:
            self._shown = handlers.supervisor
            frames.append(frame("instances", self.instances()))
        else:
            runners = handlers.supervisor.runners
            for instance in sorted(self._dirty):
                runner = runners.get(instance)
                if runner is not None:
                    frames.append(frame("instance", self._snapshot(instance, runner.snapshot())))
        self._dirty.clear()
        changed, self._changed = self._changed, set()
        if "services" in changed:
            frames.append(frame("services", self.services()))
        if "notes" in changed:
            frames.append(frame("notes", list(self.notes)))
        if "deploys" in changed:
            self._follow_runs()
            frames.append(frame("deploys", self.deploys()))
        if "crons" in changed and self._cron_task is None:
            self._cron_task = asyncio.ensure_future(self._send_crons())
        for data in frames:
            self.broadcast(data)

    def broadcast(self, data: bytes) -> None:
        for page in list(self.pages):
            if not page.send(data):
                self.pages.discard(page)

    # -- pages coming and going ----------------------------------------------------------------

    async def connect(self) -> Page:
        """A new page: queued first with everything it shows; the sampler and cron logs start
        with the first page."""
        page = Page()
        first = not self.pages
        self.pages.add(page)
        if self.handlers is not None:
            self._shown = self.handlers.supervisor
        page.send(frame("meta", self.meta()))
        page.send(frame("instances", self.instances()))
        page.send(frame("services", self.services()))
        page.send(frame("deploys", self.deploys()))
        page.send(frame("notes", list(self.notes)))
        for sample in self.samples:
            page.send(sample)
        page.send(frame("crons", await self.crons()))
        if first:
            self._start_watching()
        return page

    def disconnect(self, page: Page) -> None:
        self.pages.discard(page)
        if not self.pages:
            self._stop_watching()

    def _start_watching(self) -> None:
        self._sample()
        self._follow_runs()
        if self.handlers is None:
            return
        for app in self.handlers.plan.apps:
            if app.crons:
                path = self.state_root / "logs" / app.name / "web.0" / "cron.log"
                self._cron_logs.append(self.tails.follow(path, self._cron_log_grew))

    def _stop_watching(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            self._sampler = None
        self._cpu.clear()
        for following in self._cron_logs:
            self.tails.unfollow(following)
        self._cron_logs.clear()
        for task in self._followed_runs.values():
            task.cancel()
        self._followed_runs.clear()
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._dirty.clear()
        self._changed.clear()

    def _cron_log_grew(self, _chunk: bytes) -> None:
        self._changed.add("crons")
        self._schedule()

    def close(self) -> None:
        """Every page ends (its stream is closed), nothing is watched any more."""
        for page in (*self.pages, *self.log_pages):
            page.queue.put_nowait(None)
            for following in page.following:
                self.tails.unfollow(following)
        self.pages.clear()
        self.log_pages.clear()
        self._stop_watching()
        self.tails.close()

    # -- logs ------------------------------------------------------------------------------------

    def follow_logs(self, key: str) -> Page:
        """A log view of instance `key` (``all``: every instance, each line prefixed): the last
        lines, then each chunk appended."""
        page = Page()
        chosen = self._log_instances(key)
        paths = [self.handlers.supervisor.runners[i].spec.log_path for i in chosen] if self.handlers else []
        labels = [i.key for i in chosen]
        lines: dict[str, list[str]] = {}
        for index, line in merged_last_lines(paths, LOG_LINES)[-LOG_LINES:]:
            lines.setdefault(labels[index], []).append(line.decode(errors="replace"))
        page.send(frame("reset", {"instances": labels}))
        for label, text in lines.items():
            page.send(frame("log", {"i": label, "text": "".join(text)}))
        for label, path in zip(labels, paths, strict=True):
            page.following.append(self.tails.follow(path, _log_listener(page, label)))
        self.log_pages.add(page)
        return page

    def _log_instances(self, key: str) -> list[InstanceId]:
        if self.handlers is None:
            return []
        runners = self.handlers.supervisor.runners
        if key == "all":
            return sorted(runners)
        try:
            instance = InstanceId.parse_key(key)
        except ValueError:
            return []
        return [instance] if instance in runners else []

    def stop_logs(self, page: Page) -> None:
        self.log_pages.discard(page)
        for following in page.following:
            self.tails.unfollow(following)
        page.following.clear()

    # -- what a page shows -----------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        plan = self.handlers.plan if self.handlers is not None else None
        groups = []
        for app in plan.apps if plan is not None else ():
            for group in app.groups:
                groups.append(
                    {
                        "app": app.name,
                        "group": group.name,
                        "name": group.instance_name,
                        "relationships": [
                            {"name": r.name, "service": r.service, "endpoint": r.endpoint} for r in group.relationships
                        ],
                    }
                )
        project = str(self.handlers.project_root) if self.handlers is not None else ""
        return {"project": project, "groups": groups, "routes": self.urls()}

    def instances(self) -> list[dict[str, Any]]:
        if self.handlers is None:
            return []
        return [self._snapshot(i, r.snapshot()) for i, r in sorted(self.handlers.supervisor.runners.items())]

    def _snapshot(self, instance: InstanceId, snapshot: dict[str, Any]) -> dict[str, Any]:
        snapshot["key"] = instance.key
        snapshot["limits"] = self._limits(instance)
        return snapshot

    def _limits(self, instance: InstanceId) -> dict[str, float] | None:
        assert self.handlers is not None
        app = self.handlers.plan.app(instance.app)
        group = next((g for g in app.groups if g.name == instance.group), None) if app else None
        if group is None:
            return None
        return {"cpu": group.resources.cpu, "memory_mb": group.resources.memory_mb}

    def services(self) -> list[dict[str, Any]]:
        supervisor = self.handlers.services if self.handlers is not None else None
        if supervisor is None:
            return []
        return [{**r.snapshot(), "service": i.group} for i, r in sorted(supervisor.runners.items())]

    async def crons(self) -> list[dict[str, Any]]:
        if self.handlers is None:
            return []
        try:
            found: list[dict[str, Any]] = await self.handlers.crons({})
        except ProtocolError:  # this supervisor does not deploy: no crons
            return []
        return found

    async def _send_crons(self) -> None:
        try:
            self.broadcast(frame("crons", await self.crons()))
        finally:
            self._cron_task = None

    def _runs(self) -> Iterable[DeployRun]:
        rollout = self.handlers.rollout if self.handlers is not None else None
        return [] if rollout is None else [rollout.runs[n] for n in sorted(rollout.runs)]

    def deploys(self) -> list[dict[str, Any]]:
        return [
            {
                "number": run.number,
                "kind": run.kind,
                "started": run.started,
                "ended": run.ended,
                "outcome": run.outcome.to_json() if run.outcome else None,
                "lines": run.lines,
            }
            for run in self._runs()
        ]

    def _follow_runs(self) -> None:
        """Follow each deploy that runs (its messages and its end), while a page is connected."""
        for run in self._runs():
            if not run.done and run.number not in self._followed_runs:
                self._followed_runs[run.number] = asyncio.ensure_future(self._follow_run(run))

    async def _follow_run(self, run: DeployRun) -> None:
        after = len(run.lines)
        try:
            while not run.done:
                page = await run.page(after, 60.0)
                if page["next"] != after or page["done"]:
                    after = page["next"]
                    self._changed.add("deploys")
                    self._schedule()
        finally:
            self._followed_runs.pop(run.number, None)

    # -- samples -----------------------------------------------------------------------------------

    def _sample(self) -> None:
        """One CPU and memory sample of every instance, then the next one armed."""
        self._sampler = self.loop.call_later(SAMPLE_INTERVAL, self._sample)
        if self.handlers is None:
            return
        now, wall = time.monotonic(), time.time()
        values: dict[str, list[float | None]] = {}
        seen: dict[str, tuple[float, float]] = {}
        for instance, runner in self.handlers.supervisor.runners.items():
            snapshot = runner.snapshot()
            cpu, memory = snapshot["cpu"], snapshot["memory"]
            key = instance.key
            percent: float | None = None
            if cpu is not None:
                seen[key] = (now, cpu)
                previous = self._cpu.get(key)
                if previous is not None and now > previous[0]:
                    percent = round(max(0.0, cpu - previous[1]) / (now - previous[0]) * 100, 1)
            values[key] = [percent, memory]
        self._cpu = seen
        sample = frame("sample", {"t": round(wall, 1), "v": values})
        self.samples.append(sample)
        self.broadcast(sample)


def _log_listener(page: Page, label: str) -> Callable[[bytes], None]:
    def heard(chunk: bytes) -> None:
        page.send(frame("log", {"i": label, "text": chunk.decode(errors="replace")}))

    return heard


async def answer(hub: Hub, command: str, args: dict[str, Any]) -> Any:
    """Run a button's command through the control handlers (`sunup.control.handlers`), the ones
    the command line uses."""
    from sunup.control.protocol import Request

    if hub.handlers is None:
        raise ProtocolError("failed", "the supervisor is still starting")
    result = await hub.handlers(Request(command, args))
    if command == "redeploy":
        hub.deploys_changed()
    return result
