"""The `sunup ps` table: durations, sizes, last exits, optional app and port columns."""

from __future__ import annotations

from typing import Any

import pytest

from sunup.supervisor.report import duration, last_exit, ps_table, size


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, ""), (0.04, "0.0s"), (4.25, "4.2s"), (12, "12s"), (185, "3m05s"), (7800, "2h10m")]
)
def test_duration(seconds: float | None, text: str) -> None:
    """Durations read as seconds, minutes or hours."""
    assert duration(seconds) == text


@pytest.mark.parametrize(("count", "text"), [(None, ""), (512, "512B"), (1536, "1.5K"), (224 * 1024 * 1024, "224.0M")])
def test_size(count: int | None, text: str) -> None:
    """Sizes read in B, K, M or G."""
    assert size(count) == text


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"app": "app", "name": "queue.0", "state": "running", "pid": 7, "restarts": 0}
    return {**base, **changes}


def test_last_exit_says_what_and_when() -> None:
    """A last exit reads as its code, signal or out-of-memory kill, and how long ago."""
    assert last_exit(row(), 100.0) == ""
    assert last_exit(row(last_exit={"code": 1, "signal": None, "at": 97.0}), 100.0) == "code 1, 3.0s ago"
    killed = {"code": None, "signal": "SIGKILL", "at": 99.0, "oom": True}
    assert last_exit(row(last_exit=killed), 100.0) == "out of memory, 1.0s ago"


def test_columns_follow_the_rows() -> None:
    """An app column appears with several apps, a port column when an instance has a port."""
    headers, _ = ps_table([row()], now=0.0)
    assert headers[0] == "name" and "port" not in headers
    headers, cells = ps_table([row(port=8000), row(app="api", name="web.0")], now=0.0)
    assert headers[0] == "app" and headers[-1] == "port"
    assert cells[0][-1] == 8000
    backoff = ps_table([row(state="backoff", pid=None, next_retry=12.0)], now=10.0)[1][0]
    assert "in 2.0s" in backoff
