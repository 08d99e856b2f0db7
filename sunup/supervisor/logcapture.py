"""Capturing an instance's output: whole lines, timestamped, in order, into `app.log`.

`LineFramer` cuts the pipe's bytes into whole lines (a line is never torn, a last line without
newline is kept at end of file, a line longer than `MAX_LINE` is cut there) and puts a prefix
before every line in one pass (`bytes.replace`): a 64 KiB read costs a few C calls and one
writev(2), not one Python call per line, and no copy of the data. `LogFile` appends with O_APPEND
and, at its size limit, keeps the newest half (cut at a line start) — 100 MB by default (spec §3).
Writes block: a child that writes faster than the disk is slowed down by its full pipe, and no
line is dropped for speed. A log that cannot be written at all (disk full, I/O error) drops
lines instead, as journald does: the instance goes on (a web app whose stdout blocks would stop
answering), the failure is reported once through `problem`, and the first line written again is
a note saying how many lines were dropped, when and why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

#: Extended attribute of a trimmed log: how many bytes at its start are old lines.
KEPT_XATTR = "user.sunup.kept"
#: A line longer than this is written in pieces of this size.
MAX_LINE = 1024 * 1024
#: Seconds between two reports that a log cannot be written (a disk that flaps between full and
#: not quite is reported once, not at every line).
REPORT_INTERVAL = 60.0


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


def _to_stderr(message: str) -> None:
    with contextlib.suppress(OSError):  # a background supervisor's stderr may be on the full disk
        print(f"sunup: {message}", file=sys.stderr, flush=True)


class LogFile:
    """An append-only log file cut to its newest half when it reaches `limit` bytes.

    `write` never raises: what the file cannot take is dropped and counted (see the module's
    docstring); `problem` hears when that starts (at most once per `REPORT_INTERVAL`) and ends.
    """

    def __init__(self, path: Path, limit: int, problem: Callable[[str], None] = _to_stderr) -> None:
        self.path = path
        self.limit = limit
        #: Told, in a sentence naming the file, when lines start being dropped and when they stop.
        self.problem = problem
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size
        self._trim_at = limit
        self._stamps = Timestamps()
        #: While lines are dropped: since when (wall clock), why, how many; None otherwise.
        self._dropping: tuple[float, str] | None = None
        self.dropped_lines = 0
        self.dropped_bytes = 0
        #: The file ends inside a line (a write was cut short).
        self._torn = False
        self._reported = False
        self._last_report = -REPORT_INTERVAL

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    @property
    def dropping(self) -> bool:
        """Lines are being dropped: the latest write failed."""
        return self._dropping is not None

    def write(self, buffers: Buffers | bytes) -> None:
        """Append whole lines: bytes, or buffers in one writev(2) (the rest with write(2) if the
        kernel takes less). What cannot be written is dropped and counted."""
        if isinstance(buffers, bytes):
            buffers = [buffers]
        if not buffers:
            return
        if self._dropping is not None and not self._resume():
            self._count(buffers, 0)
            return
        error, written = self._append(buffers)
        if error is not None:
            self._count(buffers, written)
            self._fail(error)
            return
        if self._size >= self._trim_at:
            self.trim()

    def _append(self, buffers: Buffers) -> tuple[OSError | None, int]:
        """Write `buffers`; the error that stopped it (None) and how many bytes were written."""
        total = sum(len(b) for b in buffers)
        written = 0
        error: OSError | None = None
        try:
            written = os.writev(self._fd, buffers)
            if written < total:
                rest = memoryview(b"".join(buffers))[written:]
                while rest:
                    count = os.write(self._fd, rest)
                    written += count
                    rest = rest[count:]
        except OSError as exc:
            error = exc
        self._size += written
        if written:
            self._torn = written < total
        return error, written

    def _count(self, buffers: Buffers, written: int) -> None:
        data = b"".join(buffers)[written:]
        self.dropped_bytes += len(data)
        self.dropped_lines += data.count(b"\n")

    def _fail(self, error: OSError) -> None:
        reason = error.strerror or str(error)
        self._dropping = (time.time(), reason)
        now = time.monotonic()
        self._reported = now - self._last_report >= REPORT_INTERVAL
        if self._reported:
            self._last_report = now
            self.problem(
                f"cannot write {self.path}: {reason}; its new lines are dropped (the instance goes on) "
                "until the file can be written again"
            )

    def _resume(self) -> bool:
        """Write the note saying what was dropped; True when it could be written."""
        assert self._dropping is not None
        since, reason = self._dropping
        now = time.time()
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
        note = (
            f"sunup: {self.dropped_lines} lines ({self.dropped_bytes} bytes) of output were dropped "
            f"from {started}: {reason}\n"
        ).encode()
        error, _ = self._append([b"\n" if self._torn else b"", self._stamps.prefix(now), note])
        if error is not None:
            return False
        self._torn = False
        if self._reported:
            self.problem(f"writing {self.path} again ({self.dropped_lines} lines were dropped)")
        self._dropping = None
        self.dropped_lines = self.dropped_bytes = 0
        return True

    def trim(self) -> None:
        """Keep the newest half of the file, starting at a line start; atomically replaced.

        The kept part is copied in the kernel (copy_file_range(2); 1 MiB reads where the file
        system cannot), never read into the supervisor's memory. When the half cannot be written
        (a full disk), the file is left whole, and trimming is tried again after another tenth of
        the limit."""
        keep = self.limit // 2
        temporary = self.path.with_name(self.path.name + ".trim")
        try:
            with open(self.path, "rb") as source:
                end = os.fstat(source.fileno()).st_size
                start = _line_start(source.fileno(), end - keep) if end > keep else 0
                target = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
                try:
                    _copy(source.fileno(), target, start, end)
                finally:
                    os.close(target)
            with contextlib.suppress(OSError):
                # Tells `sunup logs -f` where the lines it has not shown yet begin.
                os.setxattr(temporary, KEPT_XATTR, str(end - start).encode())
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            self._trim_at = self._size + max(self.limit // 10, 1)
            self.problem(f"cannot cut {self.path} to its newest half: {exc.strerror or exc}; it is kept whole")
            return
        os.close(self._fd)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size
        self._trim_at = self.limit

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


#: How much `trim` reads at a time: looking for a line start, and copying where the kernel cannot.
CHUNK = 1024 * 1024


def _line_start(fd: int, offset: int) -> int:
    """The start of the first line that begins after `offset` (`offset` itself when no newline
    follows it), found by reading from `offset` on, a chunk at a time."""
    at = offset
    while chunk := os.pread(fd, CHUNK, at):
        newline = chunk.find(b"\n")
        if newline >= 0:
            return at + newline + 1
        at += len(chunk)
    return offset


def _copy(source: int, target: int, start: int, end: int) -> None:
    """Append bytes `start` to `end` of `source` to `target`: in the kernel when it can
    (copy_file_range), else a chunk at a time. Raises OSError (a full disk: ENOSPC)."""
    at = start
    try:
        while at < end:
            copied = os.copy_file_range(source, target, end - at, at)
            if copied == 0:
                return  # the file got shorter: nothing more to keep
            at += copied
        return
    except OSError as exc:
        if exc.errno not in _NO_COPY_RANGE:
            raise
    while at < end and (chunk := os.pread(source, min(CHUNK, end - at), at)):
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view) :]
        at += len(chunk)


#: copy_file_range(2) errors meaning "not between these files": copied by reads instead.
_NO_COPY_RANGE = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})
