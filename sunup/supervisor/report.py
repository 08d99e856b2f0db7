"""Instance snapshots (docs/ps-json.md) as people read them: the `sunup ps` table."""

from __future__ import annotations

import time
from typing import Any


def duration(seconds: float | None) -> str:
    """``4.2s``, ``12s``, ``3m05s``, ``2h10m``; "" for None."""
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds >= 10 else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def size(count: float | None) -> str:
    """``512B``, ``1.5K``, ``224.0M``; "" for None."""
    if count is None:
        return ""
    for unit in ("B", "K", "M"):
        if count < 1024:
            return f"{count:.0f}{unit}" if unit == "B" else f"{count:.1f}{unit}"
        count /= 1024
    return f"{count:.1f}G"


def last_exit(row: dict[str, Any], now: float) -> str:
    """``code 1, 3.0s ago``, ``signal SIGKILL, 1m02s ago``, ``out of memory, 5s ago``."""
    last = row.get("last_exit")
    if not last:
        return ""
    what = f"signal {last['signal']}" if last.get("signal") else f"code {last['code']}"
    if last.get("oom"):
        what = "out of memory"
    return f"{what}, {duration(now - last['at'])} ago"


def ps_table(rows: list[dict[str, Any]], now: float | None = None) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of the `sunup ps` table (an app column with several apps, a port column
    when some instance has a port)."""
    now = time.time() if now is None else now
    with_app = len({r["app"] for r in rows}) > 1
    with_port = any(r.get("port") for r in rows)
    headers = ["app"] if with_app else []
    headers += ["name", "state", "pid", "restarts", "uptime", "last exit", "next retry", "cpu", "memory"]
    if with_port:
        headers.append("port")
    table = []
    for row in rows:
        retry = row.get("next_retry")
        cells = [row["app"]] if with_app else []
        cells += [
            row["name"],
            row["state"],
            row.get("pid") or "",
            row.get("restarts", 0),
            duration(row.get("uptime")),
            last_exit(row, now),
            f"in {duration(retry - now)}" if retry else "",
            f"{row['cpu']:.2f}s" if row.get("cpu") is not None else "",
            size(row.get("memory")),
        ]
        if with_port:
            cells.append(row.get("port") or "")
        table.append(cells)
    return headers, table
