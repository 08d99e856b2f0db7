"""Naming instances: `web.0`, `queue.1`, within an app."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class InstanceId:
    app: str
    #: ``web`` or the worker's name.
    group: str
    index: int

    @property
    def name(self) -> str:
        """``web.0``, ``queue.1``: what `sunup ps` shows."""
        return f"{self.group}.{self.index}"

    @property
    def key(self) -> str:
        """Unique in the project and safe in file names: ``app.web.0``."""
        return f"{self.app}.{self.group}.{self.index}"

    def label(self, *, with_app: bool) -> str:
        """The name, prefixed with the app in projects with several apps (``api/web.0``)."""
        return f"{self.app}/{self.name}" if with_app else self.name

    @classmethod
    def parse_key(cls, key: str) -> InstanceId:
        app, group, index = key.rsplit(".", 2)
        return cls(app, group, int(index))
