"""Reading an instance's `app.log`: the last lines, and following it as it grows.

Following waits on inotify (no polling): a change in the log's folder wakes the reader, which
reads what was appended. When `LogFile.trim` replaces the file (a new inode) or it shrinks, the
reader goes on in the new file after the old lines it keeps (their length is in the file's
`user.sunup.kept` attribute; where extended attributes are missing, from its end).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sunup.supervisor.logcapture import KEPT_XATTR

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


class LogFollower:
    """Iterates over what is appended to a log from the moment it is created, forever.

    Each item is a chunk as written (whole lines, since `LogFile` writes whole lines). With a
    `timeout`, an item is b"" when nothing changed for that long.
    """

    def __init__(self, path: Path, *, start_at_end: bool = True, timeout: float | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._timeout = timeout
        self._watch = _Inotify(path.parent)
        self._handle: BinaryIO | None = None
        self._identity: tuple[int, int] | None = None
        self._open(start_at_end)

    def _open(self, at_end: bool) -> None:
        try:
            handle = open(self._path, "rb")  # noqa: SIM115 - kept open while following
        except FileNotFoundError:
            return
        info = os.fstat(handle.fileno())
        self._identity = (info.st_dev, info.st_ino)
        if at_end:
            handle.seek(0, os.SEEK_END)
        self._handle = handle

    def _open_trimmed(self) -> None:
        """Open the file that replaced the one followed, just after the old lines it keeps."""
        self._open(False)
        if self._handle is None:
            return
        try:
            kept = int(os.getxattr(self._handle.fileno(), KEPT_XATTR))
        except (OSError, ValueError):
            self._handle.seek(0, os.SEEK_END)
            return
        self._handle.seek(kept)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while True:
            if self._handle is None:
                self._open(False)
            if self._handle is not None:
                chunk = self._handle.read()
                if chunk:
                    return chunk
                if _replaced(self._path, self._identity, self._handle.tell()):
                    # Trimmed: the new file starts with lines already shown.
                    self._handle.close()
                    self._handle = None
                    self._open_trimmed()
                    continue
            self._watch.wait(self._timeout)
            if self._timeout is not None:
                return b""

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._watch.close()


def follow(path: Path, *, start_at_end: bool = True, timeout: float | None = None) -> LogFollower:
    """Follow `path` from now on (see `LogFollower`)."""
    return LogFollower(path, start_at_end=start_at_end, timeout=timeout)


def _replaced(path: Path, identity: tuple[int, int] | None, position: int) -> bool:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return True
    return (info.st_dev, info.st_ino) != identity or info.st_size < position
