"""The process table, read from /proc: who is whose child, in which group and session, using
how much CPU and memory, and carrying which environment tag.

The fallback backend finds an instance's processes here; the cgroup backends use it for the CPU
time of a v1 hierarchy without `cpuacct`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    pid: int
    ppid: int
    pgid: int
    sid: int
    #: R, S, D, Z, T, ... as in ps.
    state: str
    #: Start time in clock ticks after boot: a pid with another start time is another process.
    start_ticks: int
    #: user + system CPU time in clock ticks.
    cpu_ticks: int
    rss_pages: int
    #: The command name (changes at exec(2)).
    comm: str = ""

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def parse_stat(pid: int, text: str) -> ProcessInfo | None:
    """One /proc/<pid>/stat line; the command name may hold spaces and parentheses."""
    head, paren, rest = text.rpartition(")")
    fields = rest.split()
    if not paren or len(fields) < 22:
        return None
    comm = head.partition("(")[2]
    return ProcessInfo(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        state=fields[0],
        start_ticks=int(fields[19]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        rss_pages=int(fields[21]),
        comm=comm,
    )


def read_process(pid: int) -> ProcessInfo | None:
    """The process `pid`, None when there is none."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        data = os.read(fd, 4096)
    except ProcessLookupError:
        return None
    finally:
        os.close(fd)
    return parse_stat(pid, data.decode(errors="replace")) if data else None


def scan() -> dict[int, ProcessInfo]:
    """Every process visible in /proc, by pid (os.open/os.read: a scan is a hot path)."""
    table: dict[int, ProcessInfo] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            info = read_process(int(name))
            if info is not None:
                table[info.pid] = info
    return table


def environ_value(pid: int, key: str) -> str | None:
    """The value of `key` in the environment `pid` was started with; None if unset or unreadable."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            data = b"\0" + environ.read()
    except OSError:
        return None
    marker = b"\0" + key.encode() + b"="
    start = data.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = data.find(b"\0", start)
    return data[start : end if end >= 0 else len(data)].decode(errors="replace")


def descendants(table: Mapping[int, ProcessInfo], roots: Iterable[int]) -> set[int]:
    """`roots` and every process below them in the parent chain (roots absent from `table` dropped)."""
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: set[int] = set()
    pending = [pid for pid in roots if pid in table]
    while pending:
        pid = pending.pop()
        if pid not in found:
            found.add(pid)
            pending.extend(children.get(pid, ()))
    return found


def cpu_seconds(infos: Iterable[ProcessInfo]) -> float:
    return sum(i.cpu_ticks for i in infos) / CLOCK_TICKS


def rss_bytes(infos: Iterable[ProcessInfo]) -> int:
    return sum(i.rss_pages for i in infos) * PAGE_SIZE
