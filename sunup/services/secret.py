"""Stable generated passwords: one per (service, endpoint), derived from a project secret.

The secret is 32 random bytes in ``<state>/services/.secret`` (mode 0600), made on first use.
It is deliberately *not* PLATFORM_PROJECT_ENTROPY: every instance sees that variable, and an
instance must not be able to compute the password of an endpoint it has no relationship to.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SECRET_FILE = ".secret"
#: The administrative account sunup itself uses to provision SQL servers (never given to apps).
ADMIN_ENDPOINT = "sunup_admin"


def project_secret(services_dir: Path) -> bytes:
    """The project's secret, created (atomically, once) when missing."""
    path = services_dir / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    services_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    value = secrets.token_bytes(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value.hex() + "\n")
    return value


def password_for(secret: bytes, service: str, endpoint: str) -> str:
    """The password of `endpoint` of `service`: 32 hex digits, the same every time for one secret."""
    digest = hmac.new(secret, f"sunup-service-password\0{service}\0{endpoint}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]
