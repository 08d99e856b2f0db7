"""Log capture: whole lines, prefixes, timestamps, and trimming on line boundaries."""

from __future__ import annotations

import errno
import os
import re
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sunup.supervisor.logcapture import KEPT_XATTR, MAX_LINE, LineFramer, LogFile, Timestamps, prefix_lines


def framed(framer: LineFramer, chunk: bytes | None, prefix: bytes = b"> ") -> bytes:
    """What the framer hands out for `chunk` (None: end of file), joined."""
    buffers = framer.flush(prefix) if chunk is None else framer.feed(chunk, prefix)
    return b"".join(buffers)


def test_framer_holds_a_partial_line_until_its_newline() -> None:
    """Bytes after the last newline wait for the rest of their line, then get one prefix."""
    framer = LineFramer()
    assert framed(framer, b"one\ntw") == b"> one\n"
    assert framed(framer, b"o") == b""
    assert framed(framer, b"\nthree\n") == b"> two\n> three\n"


def test_framer_keeps_a_last_line_without_newline() -> None:
    """At end of file the unfinished last line is kept, with a newline added."""
    framer = LineFramer()
    framed(framer, b"done\nno newline")
    assert framed(framer, None) == b"> no newline\n"
    assert framed(framer, None) == b""


def test_framer_cuts_an_endless_line() -> None:
    """A line longer than MAX_LINE is written in pieces rather than held forever."""
    framer = LineFramer()
    assert framed(framer, b"x" * (MAX_LINE + 5)) == b"> " + b"x" * (MAX_LINE + 5) + b"\n"


@given(st.lists(st.binary(max_size=40), max_size=30))
def test_framer_loses_and_reorders_nothing(chunks: list[bytes]) -> None:
    """Whatever the chunking, the output is every input line, prefixed, in order."""
    framer = LineFramer()
    out = b"".join(framed(framer, c) for c in chunks) + framed(framer, None)
    data = b"".join(chunks)
    expected = b"".join(b"> " + line + b"\n" for line in data.split(b"\n")[:-1])
    if not data.endswith(b"\n") and data:
        expected += b"> " + data.rsplit(b"\n", 1)[-1] + b"\n"
    assert out == expected


def test_prefix_lines_prefixes_every_line() -> None:
    """Every line of a block gets the prefix, and only lines do."""
    assert prefix_lines(b"a\n\nb\n", b"> ") == b"> a\n> \n> b\n"


def test_timestamps_are_utc_with_milliseconds() -> None:
    """Prefixes read like 2023-11-14T22:13:20.123Z."""
    assert Timestamps().prefix(1_700_000_000.123) == b"2023-11-14T22:13:20.123Z "
    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", Timestamps().prefix())


def test_log_file_is_trimmed_to_whole_lines(tmp_path: Path) -> None:
    """Reaching the limit keeps the newest half of the file, starting at a line start."""
    log = LogFile(tmp_path / "app.log", limit=1000)
    lines = [f"line {n:04d} {'x' * 20}\n".encode() for n in range(100)]
    for line in lines:
        log.write([line])
    log.close()
    kept = (tmp_path / "app.log").read_bytes()
    assert len(kept) < 1000
    assert kept.endswith(lines[-1])
    assert all(line + b"\n" in lines for line in kept.splitlines())


def test_log_file_appends_to_what_is_there(tmp_path: Path) -> None:
    """A new LogFile on an existing log appends after its content."""
    (tmp_path / "app.log").write_bytes(b"old\n")
    log = LogFile(tmp_path / "app.log", limit=10_000)
    log.write([b"new", b"\n"])
    log.close()
    assert (tmp_path / "app.log").read_bytes() == b"old\nnew\n"


def big_log(path: Path, size: int) -> bytes:
    """A log of numbered 100-byte lines, about `size` bytes, written to `path`; its bytes."""
    data = b"".join(b"L%010d %s\n" % (n, b"x" * 88) for n in range(size // 100))
    path.write_bytes(data)
    return data


def kept_part(data: bytes, keep: int) -> bytes:
    """What a cut keeps of `data`: from the first line start after its last `keep` bytes."""
    return data[data.index(b"\n", len(data) - keep) + 1 :]


@pytest.mark.parametrize("kernel_copy", [True, False], ids=["copy_file_range", "reads"])
def test_a_cut_copies_the_kept_half_without_holding_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_copy: bool
) -> None:
    """Cutting a 24 MB log keeps exactly its newest lines from a line start, the last line
    written included, and allocates no memory in proportion to the kept half (it was read whole
    and copied again: 2 x 12 MB here, 2 x 50 MB for app.log), also where copy_file_range(2)
    cannot copy between the files."""
    if not kernel_copy:

        def cannot(*_: object) -> int:
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", cannot)
    limit = 24 << 20
    data = big_log(tmp_path / "app.log", limit - 50)
    log = LogFile(tmp_path / "app.log", limit=limit)
    last = b"the last line\n"
    tracemalloc.start()
    try:
        log.write([last] * 5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        log.close()
    assert peak < 4 << 20, f"the cut allocated {peak >> 20} MB"
    kept = (tmp_path / "app.log").read_bytes()
    assert kept == kept_part(data + last * 5, limit // 2)
    assert int(os.getxattr(tmp_path / "app.log", KEPT_XATTR)) == len(kept)
    assert not (tmp_path / "app.log.trim").exists()


def test_a_cut_without_a_newline_keeps_the_newest_half(tmp_path: Path) -> None:
    """A log with no line start in its newest half is cut at the half (as before): nothing newer
    is lost."""
    (tmp_path / "app.log").write_bytes(b"x" * 3000)
    log = LogFile(tmp_path / "app.log", limit=3000)
    log.write(b"y")
    log.close()
    assert (tmp_path / "app.log").read_bytes() == b"x" * 1499 + b"y"
