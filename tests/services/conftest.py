"""Real servers for the services tests: every engine of `data/project` started once per test run.

The state folder is made under /tmp with mode 0755 (pytest's own temporary folders are 0700,
which PostgreSQL's unprivileged user could not enter when the tests run as root). Every server
is stopped, and the folder removed, at the end of the session, even when a test failed.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sunup.errors import RuntimeFailure
from sunup.plan.model import ProjectPlan, ServicePlan
from sunup.plan.relationships import AccessMap, Credentials
from sunup.project import load_plan
from sunup.services import provider_for
from sunup.services.location import services_dir
from sunup.services.manager import ServiceManager

PROJECT = Path(__file__).parent / "data" / "project"
#: The most a whole start of every engine may take before the session gives up.
START_TIMEOUT = 240.0


def make_state_dir(prefix: str = "sunup-services-") -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    return folder


def require_binaries(services: tuple[ServicePlan, ...], folder: Path) -> None:
    """Skip (with the reason) when this machine lacks a server program."""
    for service in services:
        try:
            provider_for(service, folder).check()
        except RuntimeFailure as exc:
            pytest.skip(f"{exc.message} ({exc.hint})")


async def start_bounded(manager: ServiceManager, timeout: float = START_TIMEOUT) -> AccessMap:
    return await asyncio.wait_for(manager.start(), timeout)


@dataclass
class RunningProject:
    root: Path
    state_dir: Path
    plan: ProjectPlan
    manager: ServiceManager
    access: AccessMap

    def credentials(self, service: str, endpoint: str) -> Credentials:
        return self.access[(service, endpoint)]


@pytest.fixture(scope="session")
def running_project() -> Iterator[RunningProject]:
    """Every service of `data/project`, started, ready and provisioned."""
    _, plan = load_plan(PROJECT)
    state_dir = make_state_dir()
    folder = services_dir(state_dir)
    manager = ServiceManager(plan.services, folder)
    try:
        require_binaries(plan.services, folder)
        access = asyncio.run(start_bounded(manager))
        yield RunningProject(PROJECT, state_dir, plan, manager, access)
    finally:
        asyncio.run(manager.stop())
        shutil.rmtree(state_dir, ignore_errors=True)
