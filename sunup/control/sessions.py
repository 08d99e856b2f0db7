"""`enter`: what `sunup ssh` needs to land in an instance the way the instance's own processes do.

    → {"command": "enter", "args": {"worker": "queue", "index": 1}}
    ← {"app": "app", "name": "queue.1", "key": "app.queue.1", "environment": {...}, "cwd": "...",
       "namespace": NamespaceSetup JSON or null, "prelude": "sh lines joining the session's cgroup"}

`sunup ssh` makes the instance's mount namespace again from ``namespace`` (same binds, same
read-only app folder; this works while the instance is stopped or backing off), then runs its
shell behind ``prelude``. The shell's cgroup is a session group of its own with the instance's
CPU and memory limits (``app.queue.1.ssh-2``): restarting the instance (`sv restart app` from the
shell itself) does not end the shell, and `sunup down` does. Session groups left empty are removed
at the next `enter`; all of them when the supervisor stops.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from sunup.control.protocol import FAILED, SELECTION, ProtocolError
from sunup.isolation import InstanceCgroup, IsolationError

if TYPE_CHECKING:
    from sunup.control.handlers import Handlers


class ShellSessions:
    """The `enter` command and the cgroups of the shells it let in."""

    def __init__(self, handlers: Handlers) -> None:
        self._handlers = handlers
        self._groups: list[InstanceCgroup] = []
        self._numbers = itertools.count(1)

    async def enter(self, args: dict[str, Any]) -> dict[str, Any]:
        chosen = self._handlers.select(args, default_web=True)
        if not chosen:
            raise ProtocolError(SELECTION, "no instance matches")
        instance = chosen[0]
        supervisor = self._handlers.supervisor
        spec = supervisor.runners[instance].spec
        self._prune()
        try:
            group = supervisor.isolation.prepare(f"{instance.key}.ssh-{next(self._numbers)}", spec.limits)
        except (IsolationError, OSError) as exc:
            raise ProtocolError(FAILED, f"cannot prepare a cgroup for the shell: {exc}") from None
        self._groups.append(group)
        namespace = spec.mounts.namespace if spec.mounts is not None else None
        return {
            "app": instance.app,
            "name": instance.name,
            "key": instance.key,
            "environment": {**spec.environment, **group.environment},
            "cwd": str(spec.cwd),
            "namespace": namespace.to_json() if namespace is not None else None,
            "prelude": group.shell_prelude(),
        }

    def _prune(self) -> None:
        """Remove the groups of shells that have ended."""
        kept = []
        for group in self._groups:
            try:
                if group.empty():
                    group.remove()
                    continue
            except (IsolationError, OSError):
                pass
            kept.append(group)
        self._groups = kept

    def close(self) -> None:
        """Kill every shell still open and remove the groups (the supervisor stops)."""
        for group in self._groups:
            try:
                group.remove()
            except (IsolationError, OSError):
                continue
        self._groups.clear()
