"""Reading logs: the last lines, and following appends and trims without polling."""

from __future__ import annotations

from pathlib import Path

from sunup.supervisor.logcapture import LogFile
from sunup.supervisor.logreader import follow, last_lines


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
