"""Reading an instance's `app.log`: the last lines, and following it as it grows.

Following waits on inotify (no polling): a change in the log's folder wakes the reader, which
reads what was appended. When `LogFile.trim` replaces the file (a new inode) or it shrinks, the
reader goes on from the end of the new file (which starts with lines already shown).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
from collections.abc import Iterator
from pathlib import Path

_IN_MODIFY = 0x002
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_BLOCK = 64 * 1024


def last_lines(path: Path, count: int) -> bytes:
    """The last `count` lines of the file (b"" when it does not exist)."""
    if count <= 0:
        return b""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below, read backwards in blocks
    except FileNotFoundError:
        return b""
    with handle:
        end = handle.seek(0, os.SEEK_END)
        position, data = end, b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            data = handle.read(step) + data
    lines = data.splitlines(keepends=True)
    return b"".join(lines[-count:])


class _Inotify:
    def __init__(self, folder: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        mask = _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
        if libc.inotify_add_watch(self.fd, os.fsencode(folder), mask) < 0:
            errno = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(errno, f"inotify_add_watch {folder}")

    def wait(self, timeout: float | None) -> None:
        select.select([self.fd], [], [], timeout)
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 64 * 1024):
                pass

    def close(self) -> None:
        os.close(self.fd)


def follow(path: Path, *, start_at_end: bool = True, timeout: float | None = None) -> Iterator[bytes]:
    """Yield what is appended to `path` from now on (whole chunks, as written), forever.

    Waits at most `timeout` seconds for a change before yielding b"" (None: no limit).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    watch = _Inotify(path.parent)
    handle = None
    identity: tuple[int, int] | None = None
    try:
        while True:
            if handle is None:
                try:
                    handle = open(path, "rb")  # noqa: SIM115 - kept open while following
                except FileNotFoundError:
                    handle = None
                else:
                    info = os.fstat(handle.fileno())
                    identity = (info.st_dev, info.st_ino)
                    if start_at_end:
                        handle.seek(0, os.SEEK_END)
                start_at_end = False
            if handle is not None:
                chunk = handle.read()
                if chunk:
                    yield chunk
                    continue
                if _replaced(path, identity, handle.tell()):
                    # Trimmed: the new file starts with lines already shown.
                    handle.close()
                    handle, start_at_end = None, True
                    continue
            watch.wait(timeout)
            if timeout is not None:
                yield b""
    finally:
        if handle is not None:
            handle.close()
        watch.close()


def _replaced(path: Path, identity: tuple[int, int] | None, position: int) -> bool:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return True
    return (info.st_dev, info.st_ino) != identity or info.st_size < position
