"""Reading sunup's logs: the last lines, and following them as they grow, one file or many.

`KINDS` names each log `sunup logs TYPE` shows and where it is (`LogKind`, `LogScope`): one per
instance (`app`), one on each app's web.0 (`cron`, `deploy`, `post-deploy`), one per app
(`build`), or one per project (a file in the state folder).

Following waits on inotify (no polling): a change in the log's folder wakes the reader, which
reads what was appended. When `LogFile.trim` replaces the file (a new inode) or it shrinks, the
reader goes on in the new file after the old lines it keeps (their length is in the file's
`user.sunup.kept` attribute; where extended attributes are missing, from its end).
`merged_last_lines` and `follow_many` do the same for several logs at once (`sunup logs` of a
whole project): the last lines of each, merged in time order by their timestamps, then each
new chunk as it is written, with the index of its log.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import heapq
import os
import re
import select
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sunup.supervisor.logcapture import KEPT_XATTR

_IN_MODIFY = 0x002
_IN_CLOSE_WRITE = 0x008
_IN_MOVED_TO = 0x080
_IN_CREATE = 0x100
#: inotify_init1's flags, and the events of a log's folder that mean "look at the log again"
#: (written, closed, renamed over by a trim, created): also the dashboard's (`sunup.dashboard.tail`).
INOTIFY_FLAGS = 0o4000 | 0o2000000  # IN_NONBLOCK | IN_CLOEXEC
INOTIFY_MASK = _IN_MODIFY | _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
_BLOCK = 64 * 1024
#: The UTC timestamp `Timestamps` puts before every line (``2025-01-31T12:00:00.123Z ``).
_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z ")


class LogScope(enum.Enum):
    """Whose log a kind is: where its file is found."""

    #: One per instance: ``<state>/logs/<app>/<group>.<N>/<file>``.
    INSTANCE = "instance"
    #: One per app, on web instance 0 (crons and hooks run there).
    WEB_ZERO = "web-zero"
    #: One per app: ``<state>/logs/<app>/<file>``.
    APP = "app"
    #: One per project: ``<state>/<file>``.
    PROJECT = "project"


@dataclass(frozen=True, slots=True)
class LogKind:
    """A log `sunup logs` shows: its name (the TYPE argument), its file, whose it is."""

    name: str
    file: str
    scope: LogScope


#: Every kind, by name (the first is the default of `sunup logs`).
KINDS: dict[str, LogKind] = {
    kind.name: kind
    for kind in (
        LogKind("app", "app.log", LogScope.INSTANCE),
        LogKind("cron", "cron.log", LogScope.WEB_ZERO),
        LogKind("deploy", "deploy.log", LogScope.WEB_ZERO),
        LogKind("post-deploy", "post-deploy.log", LogScope.WEB_ZERO),
        LogKind("build", "build.log", LogScope.APP),
        # The router's (spec §10): every request, and nginx's errors (the platform's access.log
        # and error.log).
        LogKind("access", "logs/router/access.log", LogScope.PROJECT),
        LogKind("error", "logs/router/error.log", LogScope.PROJECT),
    )
}


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
        self.fd = libc.inotify_init1(INOTIFY_FLAGS)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(self.fd, os.fsencode(folder), INOTIFY_MASK) < 0:
            errno = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(errno, f"inotify_add_watch {folder}")

    def wait(self, timeout: float | None) -> None:
        select.select([self.fd], [], [], timeout)
        self.drain()

    def drain(self) -> None:
        """Consume the events that came (without waiting)."""
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

    def _open(self, at_end: bool, kept: bool = False) -> None:
        opened = open_log(self._path, at_end=at_end, kept=kept)
        if opened is not None:
            self._handle, self._identity = opened

    def _open_trimmed(self) -> None:
        """Open the file that replaced the one followed, just after the old lines it keeps."""
        self._open(False, kept=True)

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
                if replaced(self._path, self._identity, self._handle.tell()):
                    # Trimmed: the new file starts with lines already shown.
                    self._handle.close()
                    self._handle = None
                    self._open_trimmed()
                    continue
            self._watch.wait(self._timeout)
            if self._timeout is not None:
                return b""

    def fileno(self) -> int:
        """Readable when the log's folder changed (for `select`)."""
        return int(self._watch.fd)

    def poll(self) -> bytes:
        """What was appended since the last read, without waiting (b"" when nothing). The
        events are consumed first: what is written after that wakes `fileno()` again."""
        self._watch.drain()
        chunks = []
        while True:
            if self._handle is None:
                self._open(False)
                if self._handle is None:
                    break
            chunk = self._handle.read()
            if chunk:
                chunks.append(chunk)
                continue
            if not replaced(self._path, self._identity, self._handle.tell()):
                break
            self._handle.close()
            self._handle = None
            self._open_trimmed()
            if self._handle is None:
                break
        return b"".join(chunks)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._watch.close()


def follow(path: Path, *, start_at_end: bool = True, timeout: float | None = None) -> LogFollower:
    """Follow `path` from now on (see `LogFollower`)."""
    return LogFollower(path, start_at_end=start_at_end, timeout=timeout)


def follow_many(paths: Sequence[Path]) -> Generator[tuple[int, bytes], None, None]:
    """Follow every log of `paths` from now on: each chunk appended to one, with its index in
    `paths`, as it comes (one `select` on all their inotify descriptors). "Now" is this call,
    not the first `next`: the logs are watched from here on."""
    followers = [LogFollower(path) for path in paths]

    def chunks() -> Generator[tuple[int, bytes], None, None]:
        try:
            while True:
                ready = select.select(followers, [], [])[0]
                for follower in ready:
                    chunk = follower.poll()
                    if chunk:
                        yield followers.index(follower), chunk
        finally:
            for follower in followers:
                follower.close()

    return chunks()


def merged_last_lines(paths: Sequence[Path], count: int) -> list[tuple[int, bytes]]:
    """The last `count` lines of each log of `paths`, merged in time order: (index in `paths`,
    line). A line without a timestamp goes with the line before it; equal times keep the
    order of `paths`."""

    def keyed(index: int) -> Iterator[tuple[bytes, int, bytes]]:
        stamp = b""
        for line in last_lines(paths[index], count).splitlines(keepends=True):
            found = _STAMP.match(line)
            if found:
                stamp = found.group(0)
            yield stamp, index, line

    merged = heapq.merge(*(keyed(i) for i in range(len(paths))), key=lambda item: item[0])
    return [(index, line) for _, index, line in merged]


def open_log(path: Path, *, at_end: bool, kept: bool = False) -> tuple[BinaryIO, tuple[int, int]] | None:
    """`path` opened to follow it, and its identity (device, inode); None when it does not exist.
    Read from its end (`at_end`), just after the old lines a trim kept in it (`kept`: the
    `KEPT_XATTR` it carries, else its end), or from its start."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - kept open while followed
    except FileNotFoundError:
        return None
    info = os.fstat(handle.fileno())
    if at_end:
        handle.seek(0, os.SEEK_END)
    elif kept:
        try:
            handle.seek(int(os.getxattr(handle.fileno(), KEPT_XATTR)))
        except (OSError, ValueError):
            handle.seek(0, os.SEEK_END)
    return handle, (info.st_dev, info.st_ino)


def replaced(path: Path, identity: tuple[int, int] | None, position: int) -> bool:
    """Whether the log followed at `position` of the file `identity` was replaced (trimmed,
    removed) or cut shorter than that: then it is opened again."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return True
    return (info.st_dev, info.st_ino) != identity or info.st_size < position
