"""Where a project's services keep their files, until the supervisor owns sunup's state folder.

    SUNUP_STATE_DIR                      when set: that folder
    as root                              /var/lib/sunup/<project folder name>-<hash>
    otherwise                            $XDG_STATE_HOME/sunup/<name>-<hash> (~/.local/state/...)

The state is kept out of the project tree, so that a build never copies database files. As
root, /var/lib keeps it where PostgreSQL's unprivileged user can reach its data folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

STATE_ENV = "SUNUP_STATE_DIR"


def default_state_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(STATE_ENV):
        return Path(env[STATE_ENV])
    resolved = root.resolve()
    folder = f"{resolved.name or 'project'}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:12]}"
    if os.geteuid() == 0:
        return Path("/var/lib/sunup") / folder
    base = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "sunup" / folder


def services_dir(state_dir: Path) -> Path:
    """``<state>/services``: one folder per service, and the project secret."""
    return state_dir / "services"
