"""Reading logs: the last lines, and following appends and trims without polling."""

from __future__ import annotations

from pathlib import Path

from sunup.supervisor.logcapture import LogFile
from sunup.supervisor.logreader import follow, follow_many, last_lines, merged_last_lines


def test_last_lines(tmp_path: Path) -> None:
    """The last N lines come back whole, also across read blocks; a missing file gives nothing."""
    path = tmp_path / "app.log"
    path.write_bytes(b"".join(f"{n} {'y' * 1000}\n".encode() for n in range(500)))
    tail = last_lines(path, 3).splitlines()
    assert [line.split()[0] for line in tail] == [b"497", b"498", b"499"]
    assert last_lines(tmp_path / "none.log", 5) == b""
    assert last_lines(path, 0) == b""


def test_follow_yields_appended_data_and_survives_a_trim(tmp_path: Path) -> None:
    """Following shows what is appended, and goes on after the file is trimmed (replaced)."""
    log = LogFile(tmp_path / "app.log", limit=200)
    log.write([b"before\n"])
    reader = follow(log.path, timeout=2.0)
    log.write([b"first\n"])
    assert next(reader) == b"first\n"
    log.write([b"x" * 150 + b"\n" + b"y" * 100 + b"\n"])
    chunks = [next(reader)]
    log.write([b"after trim\n"])
    while b"after trim" not in chunks[-1]:
        chunk = next(reader)
        assert chunk != b"" or len(chunks) < 10, "timed out following"
        chunks.append(chunk)
    reader.close()
    log.close()


def test_merged_last_lines_orders_logs_by_time(tmp_path: Path) -> None:
    """The last N lines of each log, merged by timestamp; an undated line stays after its line."""
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_bytes(b"2026-01-01T00:00:01.000Z a1\n2026-01-01T00:00:03.000Z a3\ncontinued\n")
    second.write_bytes(b"2026-01-01T00:00:00.000Z b0\n2026-01-01T00:00:02.000Z b2\n2026-01-01T00:00:04.000Z b4\n")
    merged = merged_last_lines([first, second], 2)
    assert [(i, line.split()[-1]) for i, line in merged] == [(1, b"b2"), (0, b"a3"), (0, b"continued"), (1, b"b4")]
    assert merged_last_lines([first, tmp_path / "none.log"], 5)[0] == (0, b"2026-01-01T00:00:01.000Z a1\n")


def test_follow_many_yields_each_log_with_its_index(tmp_path: Path) -> None:
    """Following several logs gives each appended chunk with the index of its log, a log made
    later included."""
    logs = [LogFile(tmp_path / "web.0" / "app.log", limit=10_000), LogFile(tmp_path / "queue.0" / "app.log", 10_000)]
    logs[0].write([b"old\n"])
    chunks = follow_many([log.path for log in logs])
    logs[1].write([b"queue says\n"])
    assert next(chunks) == (1, b"queue says\n")
    logs[0].write([b"web says\n"])
    assert next(chunks) == (0, b"web says\n")
    chunks.close()
    for log in logs:
        log.close()
