"""Starting the supervisor in the background (`sunup up -d`) and waiting for it to end.

The background supervisor is `python -m sunup.supervisor`, started through `sh -c '"$@" &'` so
that it is nobody's child, in a session of its own, with its output appended to supervisor.log.
It reports on a pipe (see `sunup.supervisor.__main__`): messages while it starts, then ``ok``
or the error that stopped it.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sunup.errors import RuntimeFailure
from sunup.supervisor.statedir import StateDir

#: How long to wait for the background supervisor to start the services and spawn every instance
#: (a database's first start initialises its data folder).
SPAWN_TIMEOUT = 300.0


def start_background(
    root: Path, state: StateDir, grace: float, *, say: Callable[[str], None], timeout: float = SPAWN_TIMEOUT
) -> None:
    """Start the supervisor of the project at `root` in the background; return once it runs.

    `say` gets each message it prints while starting (``warning: ...`` for warnings). Raises
    `RuntimeFailure` with its error (or the end of its log) when it does not get that far.
    """
    state.create()
    read_end, write_end = os.pipe()
    try:
        with open(state.supervisor_log, "ab") as log:
            argv = [sys.executable, "-m", "sunup.supervisor", "--project", str(root), "--grace", str(grace)]
            subprocess.run(
                ["/bin/sh", "-c", '"$@" &', "sh", *argv, "--ready-fd", str(write_end)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(write_end,),
                start_new_session=True,
                check=True,
            )
        os.close(write_end)
        write_end = -1
        message = _read_all(read_end, timeout).strip()
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    lines = message.splitlines()
    for line in lines:
        if line.startswith("say: "):
            say(line.removeprefix("say: "))
    message = "\n".join(line for line in lines if not line.startswith("say: "))
    if message == "ok":
        return
    text, _, hint = message.partition("\nhint: ")
    if not text:
        tail = state.supervisor_log.read_text(errors="replace").splitlines()[-5:]
        text = "the background supervisor ended before it was ready" + "".join(f"\n  {t}" for t in tail)
    raise RuntimeFailure(text.removeprefix("error: "), hint=hint or None)


def _read_all(fd: int, timeout: float) -> str:
    """Everything written on `fd` until its end of file, waiting at most `timeout` seconds."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise RuntimeFailure(f"the background supervisor was not ready after {timeout:g} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            return b"".join(chunks).decode(errors="replace")
        chunks.append(chunk)


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait for process `pid` to end (on a pidfd: no polling); False after `timeout` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)
