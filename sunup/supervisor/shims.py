"""The `sv` and `systemctl` commands of instance shells (spec §3), written into `<state>/bin`.

Each is a two-line shell script running `python -m sunup.control.shim`, which acts on the
instance named by `$SUNUP_INSTANCE` through the socket in `$SUNUP_CONTROL_SOCKET`.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from sunup.atomicfile import write_atomically

NAMES = ("sv", "systemctl")


def write_shims(folder: Path, python: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        text = f'#!/bin/sh\nexec {shlex.quote(python)} -m sunup.control.shim {name} "$@"\n'.encode()
        path = folder / name
        try:
            current = path.read_bytes()
        except OSError:  # missing, or not a file any more
            current = b""
        if current != text:  # a changed python, or a damaged file: written again whole
            write_atomically(path, text, mode=0o755)
