"""Following many logs in the event loop with one inotify descriptor (no polling, no thread).

`sunup.supervisor.logreader.LogFollower` takes an inotify instance per log; a page following
every log of 200 instances would take 200 of them (the kernel's default allows 128 per user).
`Tails` watches each log's folder once on a single descriptor that the loop reads when it is
readable; a change to a followed file reads what was appended and hands it to the file's
listeners. A file replaced by `LogFile`'s trim (a new inode, or shorter) is read again from just
after the old lines it keeps (`user.sunup.kept`), as `logreader` does.

    tails = Tails(loop)
    handle = tails.follow(path, lambda chunk: ...)   # from the end of the file
    tails.unfollow(handle)                             # the last one closes the descriptor
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sunup.supervisor.logreader import INOTIFY_FLAGS, INOTIFY_MASK, open_log, replaced

_EVENT = struct.Struct("iIII")
#: Most bytes handed to listeners per change of one file (a burst of output is cut, not queued).
MAX_CHUNK = 256 * 1024

Listener = Callable[[bytes], None]


@dataclass(eq=False)
class _Tail:
    path: Path
    handle: BinaryIO | None = None
    identity: tuple[int, int] | None = None
    listeners: list[Listener] = field(default_factory=list)

    def open(self, *, at_end: bool, kept: bool = False) -> None:
        opened = open_log(self.path, at_end=at_end, kept=kept)
        if opened is not None:
            self.handle, self.identity = opened

    def read(self) -> bytes:
        """What was appended since the last read (b"" when nothing): the rest of the file
        followed, then, when it was replaced, the new file's lines after those it kept."""
        if self.handle is None:
            self.open(at_end=False)
            if self.handle is None:
                return b""
        chunk = self._read_some()
        if not self._replaced():
            return chunk
        self.close()
        self.open(at_end=False, kept=True)
        return chunk + (self._read_some() if self.handle is not None else b"")

    def _read_some(self) -> bytes:
        assert self.handle is not None
        chunk = self.handle.read(MAX_CHUNK)
        if len(chunk) == MAX_CHUNK:
            self.handle.seek(0, os.SEEK_END)  # too much at once: skip to the newest
        return chunk

    def _replaced(self) -> bool:
        assert self.handle is not None
        return replaced(self.path, self.identity, self.handle.tell())

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


@dataclass(frozen=True, slots=True, eq=False)
class Following:
    """One listener following one file (what `Tails.unfollow` takes back)."""

    path: Path
    listener: Listener


class Tails:
    """Every followed log, on one inotify descriptor read by the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd: int | None = None
        self._folders: dict[Path, int] = {}  # folder -> watch descriptor
        self._by_watch: dict[int, Path] = {}
        self._tails: dict[Path, _Tail] = {}

    @property
    def active(self) -> bool:
        return self._fd is not None

    def follow(self, path: Path, listener: Listener) -> Following:
        """Call `listener` with each chunk appended to `path` from now on."""
        tail = self._tails.get(path)
        if tail is None:
            self._watch(path.parent)
            tail = self._tails[path] = _Tail(path)
            tail.open(at_end=True)
        tail.listeners.append(listener)
        return Following(path, listener)

    def unfollow(self, following: Following) -> None:
        tail = self._tails.get(following.path)
        if tail is None:
            return
        with contextlib.suppress(ValueError):
            tail.listeners.remove(following.listener)
        if not tail.listeners:
            tail.close()
            del self._tails[following.path]
            if not any(p.parent == following.path.parent for p in self._tails):
                self._unwatch(following.path.parent)
        if not self._tails:
            self.close()

    def _watch(self, folder: Path) -> None:
        if folder in self._folders:
            return
        if self._fd is None:
            fd = self._libc.inotify_init1(INOTIFY_FLAGS)
            if fd < 0:
                raise OSError(ctypes.get_errno(), "inotify_init1")
            self._fd = fd
            self._loop.add_reader(fd, self._changed)
        folder.mkdir(parents=True, exist_ok=True)
        watch = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), INOTIFY_MASK)
        if watch < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
        self._folders[folder] = watch
        self._by_watch[watch] = folder

    def _unwatch(self, folder: Path) -> None:
        watch = self._folders.pop(folder, None)
        if watch is None or self._fd is None:
            return
        self._by_watch.pop(watch, None)
        self._libc.inotify_rm_watch(self._fd, watch)

    def _changed(self) -> None:
        """The descriptor is readable: find which followed files changed, read them."""
        if self._fd is None:
            return
        changed: set[Path] = set()
        with contextlib.suppress(BlockingIOError):
            while True:
                data = os.read(self._fd, 64 * 1024)
                if not data:
                    break
                offset = 0
                while offset + _EVENT.size <= len(data):
                    watch, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
                    raw = data[offset + _EVENT.size : offset + _EVENT.size + length]
                    offset += _EVENT.size + length
                    folder = self._by_watch.get(watch)
                    if folder is not None and raw:
                        changed.add(folder / os.fsdecode(raw.rstrip(b"\0")))
        for path in changed:
            tail = self._tails.get(path)
            if tail is None:
                continue
            chunk = tail.read()
            if chunk:
                for listener in list(tail.listeners):
                    listener(chunk)

    def close(self) -> None:
        for tail in self._tails.values():
            tail.close()
        self._tails.clear()
        self._folders.clear()
        self._by_watch.clear()
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
