"""Is the project still there? A running supervisor stops when its project was deleted.

`rm -rf` of the project folder (or of its state folder) under a running supervisor takes the
control socket and the lock file with it: `sunup down` could never reach what runs. `watch` looks every `PERIOD`
seconds and calls `gone` with the reason once one of these happened:

- the project folder or the state folder was deleted (each is held open by a descriptor since
  the start: a deleted folder has no link left, ``st_nlink == 0``; a folder *moved* elsewhere is
  still the same folder and is not "gone");
- the lock file (`supervisor.lock`, where `sunup down` finds the supervisor's pid) was removed
  from the state folder or replaced: `rm -rf` that could not delete the state folder itself
  (the supervisor wrote a log file into it meanwhile) still took it. A removed control socket
  alone is not "gone": `sunup down` then finds the pid in the lock and sends SIGTERM.

Why a periodic check and not inotify: it is two `stat` calls every 2 s (nothing to measure next
to the instances), it works on every file system (inotify says nothing on NFS and FUSE), and
it costs no inotify instance, of which a user has 128 by default, shared with editors and
`sunup logs -f`. Within seconds is all that is asked.

`guard` runs the watch in a supervisor and stops it as SIGTERM does. `announce` says it where
someone may see it: the system's log (syslog, `sunup[pid]`) and the
terminal `sunup up -d` was started from, when it had one (`origin_terminal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import syslog
from collections.abc import Callable
from pathlib import Path

#: Seconds between two checks.
PERIOD = 2.0


class Presence:
    """The project folder, the state folder and its lock file, as they were at the start."""

    def __init__(self, project_root: Path, state_root: Path, lock: Path) -> None:
        self._folders: list[tuple[Path, int]] = []
        for folder in (project_root, state_root):
            self._folders.append((folder.resolve(), os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)))
        self._state_fd = self._folders[-1][1]
        self._lock = lock
        self._lock_id = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self._lock.name, dir_fd=self._state_fd, follow_symlinks=False)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def missing(self) -> str | None:
        """Why the project is gone (None while it is there)."""
        for path, fd in self._folders:
            if os.fstat(fd).st_nlink == 0:
                kind = "project" if path == self._folders[0][0] else "state"
                return f"the {kind} folder {path} was deleted"
        if self._lock_id is not None and self._identity() != self._lock_id:
            return f"the lock file {self._lock} was removed"
        return None

    def close(self) -> None:
        for _, fd in self._folders:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._folders = []


async def watch(presence: Presence, gone: Callable[[str], None], period: float = PERIOD) -> None:
    """Check `presence` every `period` seconds; call `gone(reason)` once, when it is missing."""
    while True:
        await asyncio.sleep(period)
        reason = presence.missing()
        if reason is not None:
            gone(reason)
            return


def origin_terminal() -> str | None:
    """The terminal on this process's stderr (where `sunup up -d` runs), if it is one."""
    for fd in (2, 1, 0):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                return os.ttyname(fd)
    return None


def announce(text: str, terminal: str | None) -> None:
    """`text` to the system's log and, when known, to `terminal` (errors ignored: best effort)."""
    syslog.openlog("sunup", syslog.LOG_PID, syslog.LOG_USER)
    syslog.syslog(syslog.LOG_WARNING, text)
    syslog.closelog()
    if terminal is None:
        return
    with contextlib.suppress(OSError):
        fd = os.open(terminal, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            os.write(fd, f"\r\nsunup: {text}\r\n".encode())
        finally:
            os.close(fd)


def guard(
    project_root: Path,
    state_root: Path,
    lock: Path,
    *,
    stop: Callable[[], None],
    say: Callable[[str], None],
    log: Callable[[str], None],
    terminal: str | None = None,
) -> Callable[[], None]:
    """Watch the project (in a task of the running loop) and, once it is gone, say so everywhere
    (`say`, `log`, `announce`) and call `stop`; returns what ends the watch."""
    presence = Presence(project_root, state_root, lock)

    def gone(reason: str) -> None:
        text = f"{reason}: stopping everything it started (supervisor pid {os.getpid()})"
        log(text)
        say(f"warning: {text}")
        announce(text, terminal)
        stop()

    task = asyncio.ensure_future(watch(presence, gone))

    def end() -> None:
        task.cancel()
        presence.close()

    return end
