"""Log capture: whole lines, prefixes, timestamps, and trimming on line boundaries."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sunup.supervisor.logcapture import MAX_LINE, LineFramer, LogFile, Timestamps, prefix_lines


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
