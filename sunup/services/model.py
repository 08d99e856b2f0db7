"""The values a service provider hands out: where a service lives, how to run it, what happened.

ServiceHome      <state>/services/<name>/: data/, run/, service.json, server.log
ServiceProcess   the foreground server: argv, env, cwd, how to stop it
ServiceStart     what `prepare()` returns: the process (None for a folder) and warnings
ServiceProgress  one step of preparing a service, handed to a progress observer
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ServiceHome:
    """The folder of one service in sunup's state: ``<state>/services/<name>/``."""

    root: Path

    @classmethod
    def of(cls, services_dir: Path, name: str) -> ServiceHome:
        return cls(services_dir / name)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def data(self) -> Path:
        """The server's data folder (kept across stop/start)."""
        return self.root / "data"

    @property
    def run(self) -> Path:
        """Sockets, pid files and generated configuration (rewritten at every start)."""
        return self.root / "run"

    @property
    def state_file(self) -> Path:
        return self.root / "service.json"

    @property
    def log_file(self) -> Path:
        """Where the standalone manager writes the server's output (the supervisor has its own logs)."""
        return self.root / "server.log"


@dataclass(frozen=True, slots=True)
class ServiceProcess:
    """A service's server, run in the foreground: what a supervisor starts and watches.

    `env` is the whole environment of the server (do not merge it with sunup's own). Stop it by
    sending `stop_signal`, then SIGKILL after `stop_timeout` seconds.
    """

    service: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class ServiceStart:
    """The result of preparing a service: its server (None when it runs nothing) and warnings."""

    process: ServiceProcess | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceProgress:
    """One step of preparing a service, e.g. ``initialising the data folder``."""

    service: str
    step: str
    message: str


#: An observer of preparation steps.
Progress = Callable[[ServiceProgress], None]


def no_progress(_: ServiceProgress) -> None:
    """The observer that ignores everything."""


#: The environment every server starts from: nothing of the caller's leaks in.
BASE_ENV: Mapping[str, str] = MappingProxyType(
    {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
    }
)


def server_env(home: Path, **extra: str) -> Mapping[str, str]:
    """`BASE_ENV` with HOME set to the service's folder, plus `extra`."""
    return MappingProxyType({**BASE_ENV, "HOME": str(home), **extra})
