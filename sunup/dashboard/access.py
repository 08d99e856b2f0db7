"""Who may read and steer the dashboard: the token made per `up`, and the checks of a request.

The token is random (`secrets`), made when the supervisor starts, and kept with the URL in
`<state>/dashboard.json` (mode 0600: only the owner reads it, as the control socket). Every
request carries it (``?token=`` in the URL the page was opened with; the page's own requests
send it in the ``X-Sunup-Token`` header); without it, 401 and no data.

A request that changes something (a POST) must also be same-origin: it needs the header (a form
on another site cannot set one, and a cross-site `fetch` with it needs a CORS preflight this
server never grants), and its ``Origin`` and ``Sec-Fetch-Site``, when the browser sends them,
must say it comes from the dashboard itself.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

TOKEN_HEADER = "X-Sunup-Token"
FILE_NAME = "dashboard.json"


@dataclass(frozen=True, slots=True)
class Access:
    """The address and token of one supervisor's dashboard."""

    url: str
    token: str

    @property
    def link(self) -> str:
        """The URL to open: with the token."""
        return f"{self.url}/?token={self.token}"


def new_token() -> str:
    return secrets.token_urlsafe(24)


def write_access(state_root: Path, access: Access) -> Path:
    """Write `dashboard.json` (0600, created so: never readable by others, even for a moment)."""
    path = state_root / FILE_NAME
    temporary = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"url": access.url, "token": access.token, "pid": os.getpid()}, handle)
    os.replace(temporary, path)
    return path


def read_access(state_root: Path) -> Access | None:
    """The dashboard of the supervisor running for this state folder (None: no file)."""
    try:
        value = json.loads((state_root / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("url"), str) or not isinstance(value.get("token"), str):
        return None
    return Access(value["url"], value["token"])


def remove_access(state_root: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_root / FILE_NAME).unlink()


def token_matches(expected: str, given: str | None) -> bool:
    """Compared in constant time (the token is a password)."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def same_origin_refusal(headers: Mapping[str, str], hosts: frozenset[str]) -> str | None:
    """Why a POST with these headers is refused as cross-site (None: it is not). `hosts` are
    the ``host:port`` names the dashboard answers to."""
    if TOKEN_HEADER not in headers:
        return f"the {TOKEN_HEADER} header is missing (the dashboard's own page sends it)"
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return f"a {site} request"
    origin = headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or parts.netloc not in hosts:
            return f"from another origin ({origin})"
    return None
