"""Readiness probes and bounded waits, against servers that are not there or not ready."""

from __future__ import annotations

import asyncio
import time

import pytest

from sunup.errors import RuntimeFailure
from sunup.services.binaries import Binary, version_matches, version_warning
from sunup.services.probes import (
    _amqp_judge,
    _mysql_judge,
    _postgres_judge,
    _redis_judge,
    ended,
    redis_ping,
    wait_ready,
)
from sunup.services.state import free_port


@pytest.mark.parametrize(
    ("judge", "answer", "ready"),
    [
        (_mysql_judge, b"\x4a\x00\x00\x00\x0a10.11.19-MariaDB", True),
        (_mysql_judge, b"\x17\x00\x00\x00\xff\x10\x04Too many connections", False),
        (_postgres_judge, b"R\x00\x00\x00\x0c\x00\x00\x00\x0a", True),
        (_postgres_judge, b"E\x00\x00\x00\x40SFATAL\x00C57P03\x00Mthe database system is starting up\x00\x00", False),
        (_postgres_judge, b"E\x00\x00\x00\x40SFATAL\x00C28000\x00Mno pg_hba.conf entry\x00\x00", True),
        (_redis_judge, b"+PONG\r\n", True),
        (_redis_judge, b"-LOADING Redis is loading the dataset in memory\r\n", False),
        (_amqp_judge, b"\x01\x00\x00\x00\x00\x01\x00\x00\x0a\x00\x0a\x00\x09", True),
        (_amqp_judge, b"AMQP\x00\x00\x09\x01", False),
    ],
)
def test_protocol_answers(judge: object, answer: bytes, ready: bool) -> None:
    """Each probe tells a serving server from one that is starting, loading or refusing."""
    assert callable(judge)
    assert (judge(answer) is None) is ready


def test_closed_port_is_not_ready() -> None:
    """A port nobody listens on gives a reason, not an exception."""
    reason = asyncio.run(redis_ping("127.0.0.1", free_port()))
    assert reason is not None and "127.0.0.1" in reason


def test_wait_ready_gives_up_at_its_deadline() -> None:
    """A server that never answers fails after the timeout with the last reason."""

    async def never() -> str | None:
        return "still starting"

    started = time.monotonic()
    with pytest.raises(RuntimeFailure, match="was not ready after 0 s: still starting"):
        asyncio.run(wait_ready("db", never, timeout=0.3))
    assert time.monotonic() - started < 2


def test_wait_ready_stops_as_soon_as_the_server_exits() -> None:
    """An exit status arriving during the wait fails at once, naming it."""

    async def run() -> None:
        exited: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.05, exited.set_result, 3)

        async def never() -> str | None:
            return "no"

        await wait_ready("db", never, timeout=30, exited=exited)

    started = time.monotonic()
    with pytest.raises(RuntimeFailure, match="exited with status 3"):
        asyncio.run(run())
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("status", "said"),
    [(3, "exited with status 3"), (0, "exited with status 0"), (-9, "was killed by SIGKILL"), (None, "exited")],
)
def test_a_server_that_ended_is_said_how(status: int | None, said: str) -> None:
    """An exit status as `Popen.returncode` gives it: a negative one is the signal that killed it."""
    assert ended(status) == said


@pytest.mark.parametrize(
    ("wanted", "local", "matches"),
    [("10.11", "10.11.19", True), ("11.4", "10.11.19", False), ("15", "15.20", True), ("7.0", "7.0.15", True),
     ("3.13", "3.10.8", False), ("", "1.2", True)],
)  # fmt: skip
def test_version_matches(wanted: str, local: str, matches: bool) -> None:
    """The local version matches when it is a release of the version in `type:`."""
    assert version_matches(wanted, local) is matches


def test_version_warning_names_both_versions_and_the_binary() -> None:
    """A different version, or another engine (mysql run by MariaDB), is a warning naming what runs."""
    binary = Binary(__import__("pathlib").Path("/usr/sbin/mariadbd"), "10.11.19")
    assert version_warning("db", "mariadb:10.11", "mariadb", binary, {"mariadb"}) is None
    warning = version_warning("db", "mysql:8.0", "mariadb", binary, {"mariadb"})
    assert (
        warning is not None
        and "mysql 8.0" in warning
        and "mariadb 10.11.19" in warning
        and "/usr/sbin/mariadbd" in warning
    )
