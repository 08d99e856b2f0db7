"""network-storage: a folder that `source: service` mounts share; no process, no port."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sunup.plan.model import ServicePlan
from sunup.plan.relationships import Credentials
from sunup.services.binaries import Binary
from sunup.services.model import Progress, ServiceHome, ServiceProgress, ServiceStart, no_progress
from sunup.services.state import ServiceState, load_state, save_state


class StorageProvider:
    """The folder ``<home>/data``, created on first start and kept."""

    ready_timeout = 0.0

    def __init__(self, service: ServicePlan, services_dir: Path) -> None:
        self.service = service
        self.home = ServiceHome.of(services_dir, service.name)

    def check(self) -> Binary | None:
        return None

    async def prepare(self, progress: Progress = no_progress) -> ServiceStart:
        if not self.home.data.exists():
            progress(ServiceProgress(self.service.name, "initialise", f"creating the shared folder {self.home.data}"))
            self.home.data.mkdir(parents=True, mode=0o755)
        save_state(self.home, ServiceState(kind=self.service.kind, type=self.service.type, ports={}, initialised=True))
        return ServiceStart(None)

    async def probe(self) -> str | None:
        return None if self.home.data.is_dir() else f"the folder {self.home.data} does not exist"

    async def provision(self) -> Mapping[str, Credentials]:
        return {}

    def credentials(self) -> Mapping[str, Credentials]:
        return {}

    def state(self) -> ServiceState | None:
        return load_state(self.home)
