"""Can this machine give an instance its namespace? Found by trying, once per `sunup up` (~5 ms).

`probe(mode)` runs `sh` in a fresh namespace of `mode` over a scratch folder, the way an instance
is started (with the `sunup-enter` helper when one is given, else through a `preexec_fn`), and
checks that the folder is read-only and that a bind mount in it is writable (with `points`: on a
mount point that only an overlay of mount points has, `NamespaceSetup.points`). Namespaces being
allowed (unshare) is not enough: AppArmor, seccomp or a container runtime may refuse the mounts.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from sunup.mounts.helper import helper_argv
from sunup.mounts.namespace import FAILURE_PREFIX, SETUP_FAILED, Bind, Mode, NamespaceSetup, child_setup, kept_flags

#: Exits 3 when the app folder can be written, 4 when the bind mount cannot.
_CHECK = 'if true 2>/dev/null >"$1/ro"; then exit 3; fi; true >"$1/mount/rw" || exit 4'


def probe(mode: Mode, helper: Path | None = None, *, points: bool = False) -> str | None:
    """None when a child can enter a `mode` namespace here; else why not, as the kernel said."""
    if mode is Mode.NONE:
        return None
    with tempfile.TemporaryDirectory(prefix="sunup-probe-") as folder:
        app, volume, skeleton = Path(folder, "app"), Path(folder, "volume"), Path(folder, "points")
        ((skeleton if points else app) / "mount").mkdir(parents=True)
        app.mkdir(exist_ok=True)
        volume.mkdir()
        bind = Bind(str(volume), str(app / "mount"))
        setup = NamespaceSetup(
            mode, str(app), (bind,), kept_flags(app), os.geteuid(), os.getegid(), str(skeleton) if points else ""
        )
        argv = ["/bin/sh", "-c", _CHECK, "sh", str(app)]
        try:
            result = subprocess.run(
                helper_argv(helper, setup, argv) if helper is not None else argv,
                preexec_fn=None if helper is not None else child_setup(setup, pdeathsig=False),
                cwd=app,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        message = result.stderr.decode(errors="replace").strip().removeprefix(FAILURE_PREFIX)
        if result.returncode == SETUP_FAILED:
            return message or f"the setup failed (status {SETUP_FAILED})"
        if result.returncode == 3:
            return "the read-only remount did not make the folder read-only"
        if result.returncode != 0 or not (volume / "rw").exists():
            return f"a bind mount did not work (status {result.returncode}{': ' + message if message else ''})"
        return None
