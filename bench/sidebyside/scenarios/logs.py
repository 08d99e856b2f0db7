"""Log capture: 4 instances each print L lines of 99 bytes as fast as they can.

Measured from the first byte in the logs to the last: throughput (MB/s of the programs' output),
the manager's CPU seconds (helper processes included) per 100 MB, and, per stream, lines lost,
torn (a line cut or merged with another) and reordered. Managers may prefix lines (timestamps,
names): a line counts if it ends with an intact payload.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sidebyside import procfs
from sidebyside.drivers.base import Driver
from sidebyside.program import LINE_BYTES, Program, is_sleep, writer
from sidebyside.session import Measurement, Metric, Options, Session, opened

STREAMS = 4
#: The writers' CPU size where a manager limits it: the whole machine's worth, so none is throttled.
WRITER_CPU = 2.0
SLEEP = 36004
#: The output is complete when the log files have not grown for this long and every writer is done.
QUIET = 1.0
TIMEOUT = 600.0
PAD = LINE_BYTES - 1 - len("W0 00000000 ")
INTACT = re.compile(rb"W(\d) (\d{8}) (x{%d})$" % PAD)
PARTIAL = re.compile(rb"W\d \d|x{8}")


@dataclass
class Tally:
    """What one stream's lines look like in the logs."""

    seen: set[int] = field(default_factory=set)
    last: int = -1
    reordered: int = 0
    duplicated: int = 0


def run(driver: Driver, options: Options) -> list[Measurement]:
    lines = options.pick(250_000, 50_000)
    payload = STREAMS * lines * LINE_BYTES
    title = f"logs {STREAMS}x{lines:,} lines"
    # sunup limits each instance to 0.5 CPU by default (as Upsun does); the peers limit nothing.
    programs = [Program(f"w{i}", writer(i, lines, SLEEP), cpu=WRITER_CPU) for i in range(STREAMS)]
    done = is_sleep(SLEEP)
    with opened(driver) as session:
        launched = session.launch(programs)
        manager = session.wait_manager()
        first, cpu_first = _first_byte(session, manager)
        last, cpu_last = _last_byte(session, manager, lambda: sum(done(p.cmdline) for p in session.tracker.scan()))
        files = session.driver.log_files(session.current)
        tallies, torn = _tally(files)
    lost = sum(lines - len(tallies.get(s, Tally()).seen) for s in range(STREAMS))
    reordered = sum(t.reordered for t in tallies.values())
    elapsed = max(last - first, 1e-6)
    return [
        Measurement(
            Metric(f"{title}: throughput", "MB/s", lower_is_better=False),
            driver.name,
            payload / 1e6 / elapsed,
            str(launched.extra.get("note", "")),
        ),
        Measurement(
            Metric(f"{title}: manager CPU per 100 MB", "CPU-s"),
            driver.name,
            (cpu_last - cpu_first) * 100e6 / payload,
        ),
        Measurement(Metric(f"{title}: lines lost", "lines"), driver.name, lost),
        Measurement(Metric(f"{title}: lines torn", "lines"), driver.name, torn),
        Measurement(Metric(f"{title}: lines reordered", "lines"), driver.name, reordered),
    ]


def _manager_cpu(session: Session, manager: int) -> float:
    helpers = [p.pid for p in session.helpers(lambda c: c[:1] == ("sleep",) or "writer.py" in " ".join(c))]
    return procfs.cpu_seconds([manager, *helpers])


def _size(files: Sequence[Path]) -> int:
    total = 0
    for path in files:
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            continue
    return total


def _first_byte(session: Session, manager: int) -> tuple[float, float]:
    """When the first output byte reached a log file, and the manager's CPU time then."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if _size(session.driver.log_files(session.current)) > 0:
            return time.monotonic(), _manager_cpu(session, manager)
        time.sleep(0.002)
    raise RuntimeError(f"{session.driver.name}: no log output after 60 s")


def _last_byte(session: Session, manager: int, writers_done: Callable[[], int]) -> tuple[float, float]:
    """When the logs last grew, once every writer is done and the logs are quiet."""
    deadline = time.monotonic() + TIMEOUT
    size, grew_at, cpu = -1, time.monotonic(), 0.0
    while time.monotonic() < deadline:
        current = _size(session.driver.log_files(session.current))
        now = time.monotonic()
        if current != size:
            size, grew_at = current, now
            cpu = _manager_cpu(session, manager)
        elif now - grew_at >= QUIET and writers_done() >= STREAMS:
            return grew_at, cpu
        time.sleep(0.01)
    raise RuntimeError(f"{session.driver.name}: logs still growing after {TIMEOUT:g} s")


def _tally(files: Sequence[Path]) -> tuple[dict[int, Tally], int]:
    tallies: dict[int, Tally] = {}
    torn = 0
    for path in files:
        with open(path, "rb") as log:
            for raw in log:
                line = raw.rstrip(b"\n")
                found = INTACT.search(line)
                if found is None or PARTIAL.search(line[: found.start()]):
                    if PARTIAL.search(line):
                        torn += 1
                    continue
                tally = tallies.setdefault(int(found.group(1)), Tally())
                seq = int(found.group(2))
                if seq in tally.seen:
                    tally.duplicated += 1
                elif seq < tally.last:
                    tally.reordered += 1
                tally.seen.add(seq)
                tally.last = max(tally.last, seq)
    return tallies, torn
