"""Stable generated passwords: one per (service, endpoint), derived from a project secret.

The secret is 32 random bytes in ``<state>/services/.secret`` (mode 0600), made on first use
(written whole: a temporary file, fsync, then a hard link to its name). It is deliberately *not*
PLATFORM_PROJECT_ENTROPY: every instance sees that variable, and an instance must not be able to
compute the password of an endpoint it has no relationship to.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from sunup.atomicfile import sync_folder
from sunup.errors import RuntimeFailure

SECRET_FILE = ".secret"
#: The administrative account sunup itself uses to provision SQL servers (never given to apps).
ADMIN_ENDPOINT = "sunup_admin"


def project_secret(services_dir: Path) -> bytes:
    """The project's secret, created (on the disk, once) when missing; RuntimeFailure naming the
    file when it is damaged (it cannot be made again: the servers keep the passwords it gave)."""
    path = services_dir / SECRET_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    services_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    fd, temporary = tempfile.mkstemp(prefix=f".{SECRET_FILE}.", suffix=".tmp", dir=services_dir)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(value.hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)  # whole or not at all, and never over one another sunup just made
    except FileExistsError:
        return _read(path)
    except OSError as exc:  # a full disk: say which file
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    sync_folder(services_dir)  # the link survives a power loss (a new secret would not match the servers)
    return value


def _read(path: Path) -> bytes:
    try:
        value = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except ValueError:
        value = b""
    if len(value) != 32:
        raise RuntimeFailure(
            f"the project's password secret {path} is damaged (not 64 hexadecimal digits)",
            hint="put the file back from a copy: every password of the services comes from it. To start "
            "afresh instead, remove it and the data folders of the services with users (MariaDB, PostgreSQL)",
        )
    return value


def password_for(secret: bytes, service: str, endpoint: str) -> str:
    """The password of `endpoint` of `service`: 32 hex digits, the same every time for one secret."""
    digest = hmac.new(secret, f"sunup-service-password\0{service}\0{endpoint}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
