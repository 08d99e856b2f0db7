"""Where a project's router listens: its domain and its HTTP and HTTPS ports, kept per project.

The ports are chosen once, the first time a project needs them, and kept in
``<state>/router.json`` (written whole), so a project's URLs stay the same across `sunup up`s;
`sunup up --http-port N --https-port N --domain D` changes them, and the change is kept (the file
is the local setting). The first choice is a pair of ports derived from the project's folder, so
two projects on one machine seldom ask for the same ones, or any free pair when those are taken.
"""

from __future__ import annotations

import hashlib
import json
import socket
from dataclasses import dataclass, replace
from pathlib import Path

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure
from sunup.supervisor.launch import free_port

FILE_NAME = "router.json"
DEFAULT_DOMAIN = "localhost"
LOOPBACK = "127.0.0.1"
#: The range the first choice is taken from (above the usual development servers' ports).
FIRST_PORT = 20080
RANGE = 9000


@dataclass(frozen=True, slots=True)
class RouterAddress:
    """The router's domain (what ``{default}`` becomes), ports and listening address."""

    http_port: int
    https_port: int
    domain: str = DEFAULT_DOMAIN
    #: 127.0.0.1 unless the user asked for more.
    bind: str = LOOPBACK

    def authority(self, scheme: str, host: str) -> str:
        """``host:port`` for a URL of `scheme` (the port left out when it is the scheme's own)."""
        port = self.https_port if scheme == "https" else self.http_port
        if (scheme, port) in {("https", 443), ("http", 80)}:
            return host
        return f"{host}:{port}"

    def to_json(self) -> dict[str, object]:
        return {"http_port": self.http_port, "https_port": self.https_port, "domain": self.domain, "bind": self.bind}


def read_address(state_root: Path) -> RouterAddress | None:
    """The kept address, or None when none was chosen yet; RuntimeFailure naming the file when it
    is damaged (choosing anew would move the project's URLs without a word)."""
    path = state_root / FILE_NAME
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise _damaged(path, str(exc)) from None
    if not isinstance(data, dict):
        raise _damaged(path, "it is not a JSON object")
    ports = [data.get("http_port"), data.get("https_port")]
    if not all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536 for p in ports):
        raise _damaged(path, f"http_port and https_port must be ports, found {ports}")
    domain, bind = data.get("domain", DEFAULT_DOMAIN), data.get("bind", LOOPBACK)
    if not isinstance(domain, str) or not domain or not isinstance(bind, str) or not bind:
        raise _damaged(path, "domain and bind must be non-empty strings")
    return RouterAddress(int(ports[0]), int(ports[1]), domain, bind)  # type: ignore[arg-type]


def router_address(
    state_root: Path,
    project_root: Path,
    *,
    http_port: int | None = None,
    https_port: int | None = None,
    domain: str | None = None,
    bind: str | None = None,
) -> RouterAddress:
    """The project's address: the kept one with the given values changed (and kept), or a new
    one chosen now and kept."""
    kept = read_address(state_root)
    if kept is None:
        kept = _choose(project_root)
    chosen = replace(
        kept,
        http_port=http_port or kept.http_port,
        https_port=https_port or kept.https_port,
        domain=domain or kept.domain,
        bind=bind or kept.bind,
    )
    if chosen.http_port == chosen.https_port:
        raise RuntimeFailure(
            f"the router's HTTP and HTTPS ports are both {chosen.http_port}",
            hint="give them different ports: sunup up --http-port N --https-port M",
        )
    if chosen != read_address(state_root):
        try:
            write_atomically(state_root / FILE_NAME, json.dumps(chosen.to_json(), indent=2) + "\n")
        except OSError as exc:
            raise RuntimeFailure(f"cannot keep the router's ports in {state_root / FILE_NAME}: {exc}") from None
    return chosen


def _choose(project_root: Path) -> RouterAddress:
    """Ports derived from the project's folder when both are free, else any free pair."""
    digest = int(hashlib.sha256(str(project_root.resolve()).encode()).hexdigest()[:8], 16)
    http = FIRST_PORT + (digest % (RANGE // 2)) * 2
    if is_free(http) and is_free(http + 1):
        return RouterAddress(http, http + 1)
    return RouterAddress(free_port(), free_port())


def is_free(port: int, host: str = LOOPBACK) -> bool:
    """Nobody listens on `port` of `host` now (a bind succeeds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def _damaged(path: Path, why: str) -> RuntimeFailure:
    return RuntimeFailure(
        f"{path} is damaged: {why}",
        hint='remove it to choose the router\'s ports anew, or write them: {"http_port": N, "https_port": M}',
    )
