"""Following many logs on one inotify descriptor: what is appended, also across a trim."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sunup.dashboard.tail import Tails
from sunup.supervisor.logcapture import LogFile

WAIT = 5.0


def test_appended_lines_of_each_followed_log_reach_its_listener(tmp_path: Path) -> None:
    """Two logs in two folders, one descriptor: each chunk goes to its own listener, from the end."""
    first, second = tmp_path / "a" / "app.log", tmp_path / "b" / "app.log"
    first.parent.mkdir()
    first.write_bytes(b"old line\n")

    async def scenario() -> dict[str, bytes]:
        heard: dict[str, bytes] = {"a": b"", "b": b""}
        both = asyncio.Event()

        def listener(name: str):  # type: ignore[no-untyped-def]
            def got(chunk: bytes) -> None:
                heard[name] += chunk
                if heard["a"] and heard["b"]:
                    both.set()

            return got

        tails = Tails(asyncio.get_running_loop())
        one, two = tails.follow(first, listener("a")), tails.follow(second, listener("b"))
        with first.open("ab") as handle:
            handle.write(b"new line\n")
        second.write_bytes(b"created later\n")
        await asyncio.wait_for(both.wait(), WAIT)
        tails.unfollow(one)
        assert tails.active
        tails.unfollow(two)
        assert not tails.active, "the last listener gone closes the descriptor"
        return heard

    heard = asyncio.run(scenario())
    assert heard == {"a": b"new line\n", "b": b"created later\n"}


def test_a_trimmed_log_is_followed_in_its_new_file_after_the_lines_it_keeps(tmp_path: Path) -> None:
    """LogFile's trim replaces the file; only the line written after it is heard, once."""
    path = tmp_path / "web.0" / "app.log"
    log = LogFile(path, limit=4096)
    log.write([b"x" * 100 + b"\n"] * 30)

    async def scenario() -> bytes:
        heard = bytearray()
        got = asyncio.Event()

        def listener(chunk: bytes) -> None:
            heard.extend(chunk)
            if b"after the trim" in heard:
                got.set()

        tails = Tails(asyncio.get_running_loop())
        tails.follow(path, listener)
        inode = os.stat(path).st_ino
        log.write([b"y" * 100 + b"\n"] * 20)  # past the limit: trimmed to its newest half
        log.write([b"after the trim\n"])
        assert os.stat(path).st_ino != inode, "the log was not trimmed: the test proves nothing"
        await asyncio.wait_for(got.wait(), WAIT)
        tails.close()
        return bytes(heard)

    heard = asyncio.run(scenario())
    log.close()
    assert heard.endswith(b"after the trim\n")
    assert heard.count(b"after the trim") == 1
