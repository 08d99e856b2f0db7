"""Writing a state file so that a reader sees the old content or the new, never a part of one.

The content goes to a temporary file in the same folder, is flushed to the disk (fsync), then
renamed over the old file (one `rename(2)`, atomic on one file system). When anything fails — a
full disk, an I/O error, a kill — the old file is untouched and the temporary one is removed
(a kill leaves at most a `.<name>.*.tmp` beside it, which nothing reads).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, content: str | bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Replace `path` by `content` (text in UTF-8) at once; raises OSError naming `path` (a full
    disk, an I/O error), leaving `path` as it was.

    `durable=False` skips the fsyncs, for a file made anew at every start (it is still never
    seen half-written): 200 of them cost most of a second on a slow disk.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError) and exc.filename is None:  # a full disk: say which file it refused
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    if durable:
        sync_folder(path.parent)  # the rename itself survives a power loss


def sync_folder(folder: Path) -> None:
    """Flush `folder`'s entries (a file just renamed or linked into it) to the disk, if it can."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
