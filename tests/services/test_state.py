"""Service state files, ports, the project secret and passwords."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from sunup.errors import RuntimeFailure
from sunup.services.model import ServiceHome
from sunup.services.secret import password_for, project_secret
from sunup.services.state import LOOPBACK, ServiceState, load_state, save_state, settle_ports


def test_state_round_trips_through_its_file(tmp_path: Path) -> None:
    """A saved state loads back equal; before any save there is none."""
    home = ServiceHome.of(tmp_path, "db")
    assert load_state(home) is None
    state = ServiceState("mariadb", "mariadb:10.11", {"main": 40001}, "10.11.19", True, ("mysql",))
    save_state(home, state)
    assert load_state(home) == state
    assert [p.name for p in tmp_path.joinpath("db").iterdir()] == ["service.json"]


def test_damaged_state_file_is_a_clear_error(tmp_path: Path) -> None:
    """A state file that is not JSON names the file and how to recover."""
    home = ServiceHome.of(tmp_path, "db")
    home.root.mkdir()
    home.state_file.write_text("{not json")
    with pytest.raises(RuntimeFailure, match="damaged") as caught:
        load_state(home)
    assert "data folder is kept" in (caught.value.hint or "")


def test_ports_are_kept_while_free_and_replaced_with_a_warning_when_taken() -> None:
    """A free previous port is reused; a taken one is replaced and a warning names both."""
    fresh, warnings = settle_ports("db", None, ["main", "dist"])
    assert warnings == () and len(set(fresh.values())) == 2
    again, warnings = settle_ports("db", fresh, ["main", "dist"])
    assert again == fresh and warnings == ()
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        taken = busy.getsockname()[1]
        moved, warnings = settle_ports("db", {"main": taken}, ["main"])
    assert moved["main"] != taken and str(taken) in warnings[0]


def test_secret_is_made_once_and_private(tmp_path: Path) -> None:
    """The project secret is created with mode 0600 and read back unchanged."""
    first = project_secret(tmp_path)
    assert project_secret(tmp_path) == first and len(first) == 32
    assert (tmp_path / ".secret").stat().st_mode & 0o777 == 0o600


def test_passwords_are_stable_and_distinct() -> None:
    """A password depends on the secret, the service and the endpoint, and only on them."""
    secret = b"s" * 32
    assert password_for(secret, "db", "mysql") == password_for(secret, "db", "mysql")
    others = {
        password_for(secret, "db", "ro"),
        password_for(secret, "pg", "mysql"),
        password_for(b"t" * 32, "db", "mysql"),
    }
    assert password_for(secret, "db", "mysql") not in others and len(others) == 3
