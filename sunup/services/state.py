"""What a service remembers between starts: its ports, version and provisioned endpoints.

A small JSON file, ``<state>/services/<name>/service.json``, always written whole
(`sunup.atomicfile`), so a crash or a full disk never leaves half a file; a damaged one stops the
service's start with a message naming the file. Ports are picked once, free on the loopback
interface, and kept: the same port every start unless another program took it meanwhile.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure
from sunup.services.model import ServiceHome

LOOPBACK = "127.0.0.1"
#: Version of the state file's layout.
STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class ServiceState:
    kind: str
    type: str
    #: ``main`` is the port clients use; other names are the engine's own (RabbitMQ's ``dist``).
    ports: Mapping[str, int]
    #: The local binary's version at the last start.
    version: str = ""
    #: True once the data folder is fully initialised.
    initialised: bool = False
    #: The endpoints whose users exist in the server (to remove users of dropped endpoints).
    endpoints: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def port(self) -> int:
        return self.ports.get("main", 0)

    def evolve(self, **changes: Any) -> ServiceState:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "state_version": STATE_VERSION,
            "kind": self.kind,
            "type": self.type,
            "ports": dict(self.ports),
            "version": self.version,
            "initialised": self.initialised,
            "endpoints": list(self.endpoints),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceState:
        return cls(
            kind=str(data["kind"]),
            type=str(data.get("type", "")),
            ports=MappingProxyType({str(k): int(v) for k, v in dict(data["ports"]).items()}),
            version=str(data.get("version", "")),
            initialised=bool(data.get("initialised", False)),
            endpoints=tuple(str(e) for e in data.get("endpoints", ())),
            extra=MappingProxyType(dict(data.get("extra") or {})),
        )


def load_state(home: ServiceHome) -> ServiceState | None:
    """The saved state, or None before the first start."""
    try:
        raw = home.state_file.read_bytes()
    except FileNotFoundError:
        return None
    try:  # garbage bytes, a cut file, an empty one or wrong types: the same message
        return ServiceState.from_json(json.loads(raw.decode("utf-8")))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RuntimeFailure(
            f"the state file of service '{home.name}' is damaged: {home.state_file} ({exc})",
            hint="remove the file to pick new ports (the data folder is kept)",
        ) from exc


def save_state(home: ServiceHome, state: ServiceState) -> None:
    write_atomically(home.state_file, json.dumps(state.to_json(), indent=2) + "\n")


def free_port() -> int:
    """A port that nothing listens on now, chosen by the kernel (never a standard service port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def settle_ports(
    service: str, previous: Mapping[str, int] | None, names: Iterable[str]
) -> tuple[Mapping[str, int], tuple[str, ...]]:
    """The ports `names` of `service`: the previous ones when still free, new ones otherwise (with a warning)."""
    ports: dict[str, int] = {}
    warnings: list[str] = []
    for name in names:
        old = (previous or {}).get(name)
        if old is not None and port_is_free(old):
            ports[name] = old
            continue
        port = free_port()
        while port in ports.values():
            port = free_port()
        if old is not None:
            warnings.append(
                f"service '{service}': port {old} ({name}) is taken by another program; using {port} instead"
            )
        ports[name] = port
    return MappingProxyType(ports), tuple(warnings)
