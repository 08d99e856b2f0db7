"""What the live dashboard costs the supervisor (issue 14), on N instances (default 200).

    .venv/bin/python bench/dashboard.py [--instances 200] [--seconds 60]

1. `sunup up -d` of N `sleep` instances (one web, a worker with N-2, and one that prints a line a
   second while the page is open); then, with no browser connected, the supervisor's CPU and its
   wake-ups (context switches of all its threads) over 10 s, against the same supervisor run with
   SUNUP_DASHBOARD=0 (a timer of the dashboard would add wake-ups).
2. One page open in headless Chromium (Debian's /usr/bin/chromium, through Playwright), following
   the logs of every instance: the supervisor's CPU over `--seconds`, and its memory (PSS, and RSS +
   swap, from smaps_rollup) before the page and at the end.
3. The page closed: CPU and wake-ups over 10 s again (the sampler and the log tails are gone).

Prints one line per figure; the exit status is 1 when a target of the issue is missed (idle CPU
0 %, no more wake-ups than without the dashboard while idle; < 2 % of a core and < 10 MB growth
with the page open).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sunup.dashboard.chromium import ARGS, CHROMIUM

CONFIG = """\
applications:
  app:
    type: python:3.12
    web:
      commands:
        start: "sleep 36001"
    workers:
      sleeper:
        commands:
          start: "sleep 36002"
      talker:
        commands:
          start: "while :; do test -e {flag} && echo talking $(date +%s); sleep 1; done"
"""
TICK = os.sysconf("SC_CLK_TCK")
#: The resolution of /proc's CPU times over a 10 s measure (one clock tick), in % of a core.
ONE_TICK = 100 / TICK / 10


def sunup(project: Path, *args: str, dashboard: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "SUNUP_DASHBOARD": "1" if dashboard else "0"}
    env.pop("SUNUP_STATE_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "sunup", *args], cwd=project, env=env, capture_output=True, text=True, check=False
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wakeups(pid: int) -> int:
    """Context switches of every thread of `pid` (a sleeping process that never wakes has none)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total


def memory_mb(pid: int) -> tuple[float, float]:
    """PSS and RSS + swap of `pid` (PSS alone can fall as pages go to swap)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            fields[name] = int(rest.split()[0])
    return fields["Pss"] / 1024, (fields["Rss"] + fields.get("Swap", 0)) / 1024


def measure(pid: int, seconds: float) -> tuple[float, int]:
    """CPU (% of one core) and wake-ups of `pid` over `seconds`."""
    cpu, woke, began = cpu_seconds(pid), wakeups(pid), time.monotonic()
    time.sleep(seconds)
    took = time.monotonic() - began
    return (cpu_seconds(pid) - cpu) / took * 100, wakeups(pid) - woke


def _supervisor_pid(project: Path) -> int:
    return int((project / ".sunup" / "supervisor.lock").read_text().split()[0])


def _baseline(project: Path) -> tuple[float, int]:
    """CPU and wake-ups of the same supervisor without a dashboard: what it wakes for anyway
    (its check that the project still exists, every 2 s)."""
    started = sunup(project, "up", "-d", "--settle", "0", dashboard=False)
    try:
        if started.returncode != 0:
            raise RuntimeError(started.stderr)
        time.sleep(3)
        return measure(_supervisor_pid(project), 10)
    finally:
        sunup(project, "down")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the page stays open")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sunup-bench-dashboard-") as folder:
        project = Path(folder) / "project"
        (project / ".upsun").mkdir(parents=True)
        flag = Path(folder) / "talk"
        (project / ".upsun" / "config.yaml").write_text(CONFIG.format(flag=flag))
        counted = sunup(project, "resources:set", "--count", f"sleeper:{options.instances - 2}")
        if counted.returncode != 0:
            print(counted.stderr, file=sys.stderr)
            return 1
        baseline = _baseline(project)
        print(
            f"without the dashboard (SUNUP_DASHBOARD=0): supervisor CPU {baseline[0]:.2f} % of a core, "
            f"{baseline[1]} wake-ups in 10 s"
        )
        started = sunup(project, "up", "-d", "--settle", "0")
        try:
            if started.returncode != 0:
                print(started.stderr, file=sys.stderr)
                return 1
            link = sunup(project, "dashboard").stdout.strip()
            pid = _supervisor_pid(project)
            count = len(json.loads(sunup(project, "ps", "--json").stdout))
            print(f"instances: {count}, supervisor pid {pid}")
            time.sleep(3)  # the start's own work settles
            cpu, woke = measure(pid, 10)
            print(f"no page: supervisor CPU {cpu:.2f} % of a core, {woke} wake-ups in 10 s")
            if cpu > baseline[0] + ONE_TICK or woke > baseline[1] + 1:
                missed.append("idle without a page")
            before = memory_mb(pid)
            with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
                context = playwright.chromium.launch_persistent_context(
                    profile, executable_path=CHROMIUM, args=list(ARGS), headless=True
                )
                flag.touch()  # the talker prints a line a second from now on
                page = context.new_page()
                page.goto(link)
                page.wait_for_selector("#link.up", timeout=10_000)
                page.wait_for_selector("#log .who", timeout=10_000)
                cpu, woke = measure(pid, options.seconds)
                after = memory_mb(pid)
                rows = page.locator("#instances tr[data-key]").count()
                context.close()
                flag.unlink()
            print(
                f"one page open ({rows} rows, logs of all followed) for {options.seconds:g} s: supervisor CPU "
                f"{cpu:.2f} % of a core, {woke} wake-ups; PSS {before[0]:.1f} -> {after[0]:.1f} MB, "
                f"RSS+swap {before[1]:.1f} -> {after[1]:.1f} MB ({after[1] - before[1]:+.1f} MB)"
            )
            if cpu >= 2.0:
                missed.append("CPU with a page open")
            if max(after[0] - before[0], after[1] - before[1]) >= 10.0:
                missed.append("memory growth with a page open")
            time.sleep(2)  # the page's connections close
            cpu, woke = measure(pid, 10)
            print(f"page closed: supervisor CPU {cpu:.2f} % of a core, {woke} wake-ups in 10 s")
            if cpu > baseline[0] + ONE_TICK or woke > baseline[1] + 1:
                missed.append("idle after the page closed")
        finally:
            sunup(project, "down")
    if missed:
        print("missed: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
