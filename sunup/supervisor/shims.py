"""The `sv` and `systemctl` commands of instance shells (spec §3), written into `<state>/bin`.

Each is a two-line shell script running `python -m sunup.control.shim`, which acts on the
instance named by `$SUNUP_INSTANCE` through the socket in `$SUNUP_CONTROL_SOCKET`.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

NAMES = ("sv", "systemctl")


def write_shims(folder: Path, python: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        text = f'#!/bin/sh\nexec {shlex.quote(python)} -m sunup.control.shim {name} "$@"\n'
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            temporary = folder / f".{name}.tmp"
            temporary.write_text(text, encoding="utf-8")
            temporary.chmod(0o755)
            os.replace(temporary, path)
