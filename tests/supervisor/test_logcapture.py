"""Log capture: whole lines, prefixes, timestamps, and trimming on line boundaries."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sunup.supervisor.logcapture import MAX_LINE, LineFramer, LogFile, Timestamps, prefix_lines


def test_framer_holds_a_partial_line_until_its_newline() -> None:
    """Bytes after the last newline wait for the rest of their line."""
    framer = LineFramer()
    assert framer.feed(b"one\ntw") == b"one\n"
    assert framer.feed(b"o") == b""
    assert framer.feed(b"\nthree\n") == b"two\nthree\n"


def test_framer_keeps_a_last_line_without_newline() -> None:
    """At end of file the unfinished last line is kept, with a newline added."""
    framer = LineFramer()
    framer.feed(b"done\nno newline")
    assert framer.flush() == b"no newline\n"
    assert framer.flush() == b""


def test_framer_cuts_an_endless_line() -> None:
    """A line longer than MAX_LINE is written in pieces rather than held forever."""
    framer = LineFramer()
    assert framer.feed(b"x" * (MAX_LINE + 5)) == b"x" * (MAX_LINE + 5) + b"\n"


@given(st.lists(st.binary(max_size=40), max_size=30))
def test_framer_loses_and_reorders_nothing(chunks: list[bytes]) -> None:
    """Whatever the chunking, the framed output is the input with at most one newline added."""
    framer = LineFramer()
    out = b"".join(framer.feed(c) for c in chunks) + framer.flush()
    data = b"".join(chunks)
    assert out == (data if not data or data.endswith(b"\n") else data + b"\n")


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
        log.write(line)
    log.close()
    kept = (tmp_path / "app.log").read_bytes()
    assert len(kept) < 1000
    assert kept.endswith(lines[-1])
    assert all(line + b"\n" in lines for line in kept.splitlines())


def test_log_file_appends_to_what_is_there(tmp_path: Path) -> None:
    """A new LogFile on an existing log appends after its content."""
    (tmp_path / "app.log").write_bytes(b"old\n")
    log = LogFile(tmp_path / "app.log", limit=10_000)
    log.write(b"new\n")
    log.close()
    assert (tmp_path / "app.log").read_bytes() == b"old\nnew\n"
