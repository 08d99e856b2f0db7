"""sunup's state folder and the lock that keeps one supervisor per project.

<project>/.sunup/            (or $SUNUP_STATE_DIR)
 ├── supervisor.lock          flock'ed by the running supervisor; holds its pid
 ├── supervisor.log           what a background supervisor says (events, errors)
 ├── control.sock             the control socket (mode 0600), see docs/control-protocol.md
 ├── bin/                     `sv` and `systemctl` for instance shells
 └── logs/<app>/<instance>/app.log
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure
from sunup.supervisor.instance import InstanceId

STATE_VARIABLE = "SUNUP_STATE_DIR"
DEFAULT_STATE_DIR = ".sunup"
#: How long `holder` waits for a supervisor that has just taken the lock to write its pid.
PID_WAIT = 1.0


@dataclass(frozen=True, slots=True)
class StateDir:
    root: Path

    @classmethod
    def for_project(cls, project_root: Path) -> StateDir:
        override = os.environ.get(STATE_VARIABLE)
        return cls(Path(override).absolute() if override else project_root / DEFAULT_STATE_DIR)

    @property
    def lock(self) -> Path:
        return self.root / "supervisor.lock"

    @property
    def socket(self) -> Path:
        return self.root / "control.sock"

    @property
    def supervisor_log(self) -> Path:
        return self.root / "supervisor.log"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def run(self) -> Path:
        """Unix sockets of web instances with `socket_family: unix`."""
        return self.root / "run"

    def log_dir(self, instance: InstanceId) -> Path:
        return self.root / "logs" / instance.app / instance.name

    def app_log(self, instance: InstanceId) -> Path:
        return self.log_dir(instance) / "app.log"

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            write_atomically(ignore, "*\n")


class SupervisorLock:
    """An exclusive flock on `supervisor.lock`: held for the supervisor's whole life.

    The kernel drops it when the process dies, however it dies, so a stale file never blocks.
    """

    def __init__(self, state: StateDir) -> None:
        self._state = state
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise `RuntimeFailure` naming the running supervisor."""
        try:
            self._state.create()
            fd = os.open(self._state.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise RuntimeFailure(
                f"cannot use the state folder {self._state.root}: {exc.strerror}",
                hint=f"make it writable, or point {STATE_VARIABLE} to a folder that is",
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = holder(self._state)
            raise RuntimeFailure(
                f"sunup is already running for this project{f' (pid {owner})' if owner and owner > 0 else ''}",
                hint="see it with `sunup ps`; stop it with `sunup down`",
            ) from None
        try:  # the lock is held; the pid in it is for `sunup ps` and people (a full disk refuses it)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            os.close(fd)
            raise RuntimeFailure(
                f"cannot write {self._state.lock}: {exc.strerror}",
                hint=f"free some space in {self._state.root} (or point {STATE_VARIABLE} elsewhere)",
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def holder(state: StateDir) -> int | None:
    """The pid of the supervisor holding the lock, None when no supervisor runs.

    Raises `RuntimeFailure` naming the lock file when it exists but cannot be read (another
    user's state folder): whether a supervisor runs cannot be told then.
    """
    try:
        fd = os.open(state.lock, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):  # no state folder or no lock: no supervisor
        return None
    except OSError as exc:
        raise RuntimeFailure(
            f"cannot tell whether sunup runs for this project: cannot read {state.lock}: {exc.strerror}",
            hint=f"run sunup as the user who started it (the owner of {state.root})",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _written_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _written_pid(fd: int) -> int:
    """The pid in the lock file of a running supervisor (-1 if none is written).

    The supervisor writes its pid just after it takes the lock: until then the file is empty, or
    still holds the pid of a supervisor that was killed. Both are waited out for a moment, so that
    a `sunup up` refused at the same instant names the right one.
    """
    deadline = time.monotonic() + PID_WAIT
    while True:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        pid = int(text) if text.isdigit() else -1
        if (pid > 0 and _alive(pid)) or time.monotonic() >= deadline:
            return pid
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
