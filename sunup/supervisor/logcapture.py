"""Capturing an instance's output: whole lines, timestamped, in order, into `app.log`.

`LineFramer` cuts the pipe's bytes into whole lines (a line is never torn, a last line without
newline is kept at end of file, a line longer than `MAX_LINE` is cut there) and puts a prefix
before every line in one pass (`bytes.replace`): a 64 KiB read costs a few C calls and one
writev(2), not one Python call per line, and no copy of the data. `LogFile` appends with O_APPEND
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


#: What a framer hands out: buffers for one writev(2), which together are whole prefixed lines.
Buffers = list[bytes | memoryview]


class LineFramer:
    """Turns chunks of a byte stream into whole lines, each with a prefix, without copying them.

    One `bytes.replace` per chunk puts the prefix after every newline; the output is handed out
    up to its last newline as a memoryview, with the line left unfinished by the previous chunk
    in front of it.
    """

    __slots__ = ("_partial",)

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes, prefix: bytes) -> Buffers:
        """The whole lines completed by `chunk`, prefixed (maybe none)."""
        end = chunk.rfind(b"\n")
        if end < 0:
            self._partial += chunk
            if len(self._partial) < MAX_LINE:
                return []
            return self.flush(prefix)
        out = chunk.replace(b"\n", b"\n" + prefix)
        lines = memoryview(out)[: out.rfind(b"\n") + 1]
        buffers: Buffers = [prefix, self._partial, lines] if self._partial else [prefix, lines]
        self._partial = chunk[end + 1 :]
        return buffers

    def flush(self, prefix: bytes) -> Buffers:
        """At end of file: the last line without its newline, given one (none if there is none)."""
        if not self._partial:
            return []
        line, self._partial = self._partial, b""
        return [prefix, line, b"\n"]


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


class LogWriteError(Exception):
    """The log could not take everything (disk full, I/O error); `rest` was not written."""

    def __init__(self, error: OSError, rest: bytes) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error
        self.rest = rest


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

    def write(self, buffers: Buffers | bytes) -> None:
        """Append whole lines: bytes, or buffers in one writev(2) (the rest with write(2) if the
        kernel takes less). Raises `LogWriteError` with what was not written."""
        if isinstance(buffers, bytes):
            buffers = [buffers]
        if not buffers:
            return
        total = sum(len(b) for b in buffers)
        try:
            written = os.writev(self._fd, buffers)
        except OSError as exc:
            raise LogWriteError(exc, b"".join(buffers)) from exc
        if written < total:
            rest = memoryview(b"".join(buffers))[written:]
            while rest:
                try:
                    rest = rest[os.write(self._fd, rest) :]
                except OSError as exc:
                    self._size += total - len(rest)
                    raise LogWriteError(exc, bytes(rest)) from exc
        self._size += total
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
