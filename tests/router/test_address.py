"""The router's address: ports chosen once and kept per project, changed by options (and kept),
a damaged file refused by name, a port another program holds named with the option to change."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from sunup.errors import RuntimeFailure
from sunup.isolation import open_isolation
from sunup.router.address import FILE_NAME, RouterAddress, read_address, router_address
from sunup.router.runner import Router, find_nginx
from sunup.router.site import RouterSite
from sunup.supervisor.settings import SupervisorSettings


def test_ports_are_chosen_once_and_kept(tmp_path: Path) -> None:
    """The first call chooses two different free ports and keeps them; the next gives the same."""
    first = router_address(tmp_path / "state", tmp_path)
    assert first.http_port != first.https_port
    assert router_address(tmp_path / "state", tmp_path) == first
    assert read_address(tmp_path / "state") == first


def test_options_change_the_kept_ports_and_domain(tmp_path: Path) -> None:
    """Ports and domain given once are kept for the next calls without options."""
    state = tmp_path / "state"
    router_address(state, tmp_path, http_port=18080, https_port=18443, domain="dev.test")
    assert router_address(state, tmp_path) == RouterAddress(18080, 18443, "dev.test")


def test_the_same_port_for_both_is_refused(tmp_path: Path) -> None:
    """HTTP and HTTPS on one port is an error with the options to fix it."""
    with pytest.raises(RuntimeFailure, match="both 18080") as caught:
        router_address(tmp_path / "state", tmp_path, http_port=18080, https_port=18080)
    assert "--https-port" in (caught.value.hint or "")


@pytest.mark.parametrize("content", [b"", b"{", b'{"http_port": "x", "https_port": 2}', b"[1, 2]"])
def test_a_damaged_file_is_refused_by_name(tmp_path: Path, content: bytes) -> None:
    """A damaged router.json is never replaced by new ports (the URLs would move): refused, named."""
    state = tmp_path / "state"
    state.mkdir()
    (state / FILE_NAME).write_bytes(content)
    with pytest.raises(RuntimeFailure, match=FILE_NAME) as caught:
        router_address(state, tmp_path)
    assert "remove it" in (caught.value.hint or "")
    assert (state / FILE_NAME).read_bytes() == content


@pytest.mark.skipif(find_nginx() is None, reason="nginx is not installed")
def test_a_taken_port_is_named_with_its_option(tmp_path: Path) -> None:
    """nginx is not started when another program holds the HTTP port: the error names the port
    and `--http-port`."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        site = RouterSite(
            address=RouterAddress(port, port + 1),
            folder=tmp_path / "router",
            logs=tmp_path / "logs",
            hold_socket=tmp_path / "router" / "hold.sock",
            apps=(),
            routes=(),
        )
        isolation = open_isolation(tmp_path / "state")
        try:
            router = Router(find_nginx() or "nginx", isolation=isolation, settings=SupervisorSettings())
            with pytest.raises(RuntimeFailure, match=f"HTTP port {port}") as caught:
                asyncio.run(router.start(site))
        finally:
            isolation.close()
        assert "--http-port" in (caught.value.hint or "")
        assert router.pid is None
        assert not (tmp_path / "router" / "nginx.pid").exists()
    assert json.dumps(site.address.to_json())
