"""Capturing an instance's output: whole lines, timestamped, in order, into `app.log`.

`LineFramer` cuts the pipe's bytes into whole lines (a line is never torn, a last line without
newline is kept at end of file, a line longer than `MAX_LINE` is cut there). `prefix_lines`
puts a prefix before every line of a block of whole lines in one pass (`bytes.replace`), so a
64 KiB read costs a few C calls, not one Python call per line. `LogFile` appends with O_APPEND
and, at its size limit, keeps the newest half (cut at a line start) — 100 MB by default (spec §3).
Writes block: a child that writes faster than the disk is slowed down by its full pipe, and no
line is dropped.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

#: Extended attribute of a trimmed log: how many bytes at its start are old lines.
KEPT_XATTR = "user.sunup.kept"
#: A line longer than this is written in pieces of this size.
MAX_LINE = 1024 * 1024


class LineFramer:
    """Turns chunks of a byte stream into blocks of whole lines."""

    __slots__ = ("_partial",)

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> bytes:
        """The whole lines completed by `chunk` (each ending in a newline), maybe b""."""
        end = chunk.rfind(b"\n")
        if end < 0:
            self._partial += chunk
            if len(self._partial) < MAX_LINE:
                return b""
            block, self._partial = self._partial + b"\n", b""
            return block
        block = self._partial + chunk[: end + 1] if self._partial else chunk[: end + 1]
        self._partial = chunk[end + 1 :]
        return block

    def flush(self) -> bytes:
        """At end of file: the last line without its newline, given one (b"" if none)."""
        block, self._partial = (self._partial + b"\n" if self._partial else b""), b""
        return block


def prefix_lines(block: bytes, prefix: bytes) -> bytes:
    """`prefix` before every line of `block` (whole lines, ending in a newline)."""
    return prefix + block[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


class Timestamps:
    """UTC timestamp prefixes (``2025-01-31T12:00:00.123Z ``), cached per millisecond."""

    __slots__ = ("_last", "_prefix")

    def __init__(self) -> None:
        self._last = -1
        self._prefix = b""

    def prefix(self, now: float | None = None) -> bytes:
        moment = time.time() if now is None else now
        millis = int(moment * 1000)
        if millis != self._last:
            seconds, ms = divmod(millis, 1000)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
            self._prefix = f"{stamp}.{ms:03d}Z ".encode()
            self._last = millis
        return self._prefix


class LogFile:
    """An append-only log file cut to its newest half when it reaches `limit` bytes."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        if self._size >= self.limit:
            self.trim()

    def trim(self) -> None:
        """Keep the newest half of the file, starting at a line start; atomically replaced."""
        keep = self.limit // 2
        with open(self.path, "rb") as source:
            source.seek(max(0, self._size - keep))
            tail = source.read()
        start = tail.find(b"\n") + 1 if self._size > keep else 0
        temporary = self.path.with_name(self.path.name + ".trim")
        temporary.write_bytes(tail[start:])
        with contextlib.suppress(OSError):
            # Tells `sunup logs -f` where the lines it has not shown yet begin.
            os.setxattr(temporary, KEPT_XATTR, str(len(tail) - start).encode())
        os.replace(temporary, self.path)
        os.close(self._fd)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
