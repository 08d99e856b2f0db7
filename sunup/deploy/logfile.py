"""A timestamped line log (cron.log, deploy.log, post-deploy.log), trimmed like app.log."""

from __future__ import annotations

from pathlib import Path

from sunup.supervisor.logcapture import LogFile, Timestamps
from sunup.supervisor.settings import SupervisorSettings


class TimestampedLog:
    """Appends whole lines, each prefixed with its UTC time."""

    def __init__(self, path: Path, limit: int | None = None) -> None:
        self.path = path
        self._file = LogFile(path, limit or SupervisorSettings().log_limit)
        self._stamps = Timestamps()

    def write(self, line: str) -> None:
        self._file.write(self._stamps.prefix() + line.encode("utf-8", "replace") + b"\n")
