"""Failures are clear and leave nothing running: missing programs, unknown types, servers that die."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sunup.errors import RuntimeFailure
from sunup.plan.model import EndpointPlan, ServicePlan, frozen_map
from sunup.services.location import services_dir
from sunup.services.manager import ServiceManager
from tests.services.conftest import make_state_dir, require_binaries


@pytest.fixture
def state_dir() -> Iterator[Path]:
    folder = make_state_dir("sunup-failures-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_missing_binary_is_a_clear_error(state_dir: Path) -> None:
    """A type whose program is missing fails before anything starts, naming the package to install."""
    from sunup.services.binaries import find_program

    with pytest.raises(RuntimeFailure) as caught:
        find_program("sunup-no-such-server", service="db", package="mariadb-server")
    assert "'sunup-no-such-server'" in caught.value.message and "is not installed" in caught.value.message
    assert caught.value.hint == "install it with: sudo apt-get install mariadb-server"


def test_unknown_service_type_is_a_clear_error(state_dir: Path) -> None:
    """A service type sunup cannot run yet is refused by name, listing the types it runs."""
    service = ServicePlan("search", "solr:9.4", "solr", "9.4", "solr", (EndpointPlan("solr", None),))
    with pytest.raises(RuntimeFailure) as caught:
        ServiceManager((service,), services_dir(state_dir))
    assert "'solr:9.4'" in caught.value.message and "mariadb" in (caught.value.hint or "")


def test_server_that_dies_before_ready_fails_fast_with_its_log(state_dir: Path) -> None:
    """A server that exits during start fails at once with its exit status and the end of its log; nothing is left."""
    bad = ServicePlan(
        "cache", "redis:7.0", "redis", "7.0", "redis", (EndpointPlan("redis", None),),
        configuration=frozen_map({"maxmemory_policy": "noeviction"}),
    )  # fmt: skip
    require_binaries((bad,), services_dir(state_dir))
    manager = ServiceManager((bad,), services_dir(state_dir))
    provider = manager.providers["cache"]
    asyncio.run(provider.prepare())
    # A file where the data folder should be: redis-server cannot enter its --dir and exits.
    provider.home.data.rmdir()
    provider.home.data.write_text("not a folder")
    with pytest.raises(RuntimeFailure) as caught:
        asyncio.run(asyncio.wait_for(manager.start(), 30))
    assert "exited with status" in caught.value.message
    assert "server.log" in (caught.value.hint or "")
    assert manager.children == {}


def test_second_copy_of_a_running_service_is_refused(state_dir: Path) -> None:
    """Preparing a service whose server still answers on its port fails instead of starting a second copy."""
    service = ServicePlan("cache", "redis:7.0", "redis", "7.0", "redis", (EndpointPlan("redis", None),))
    require_binaries((service,), services_dir(state_dir))
    manager = ServiceManager((service,), services_dir(state_dir))
    try:
        asyncio.run(asyncio.wait_for(manager.start(), 30))
        with pytest.raises(RuntimeFailure, match="already runs on port"):
            asyncio.run(manager.providers["cache"].prepare())
    finally:
        asyncio.run(manager.stop())
