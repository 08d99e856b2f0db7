"""Where the time of `sunup up -d` goes, for N `sleep` instances (a profile, not a benchmark).

    .venv/bin/python bench/profile_up.py --count 1 --count 200 [--top 25] [--keep DIR]

For each N it writes the bench's project (one worker of N `sleep`s, as bench/run.py's start
scenario), builds it untimed (`up -d`, `down`), then runs `sunup up -d` once more under cProfile
in this interpreter: the client until it forks, and the background supervisor (which inherits
the profiler through the fork) until it reports ready, when every instance's pid exists. It
prints the wall time until all pids exist, the supervisor's phase timings, and the functions
with the most cumulative time on each side; `--keep DIR` leaves the `.prof` files there
(`python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sidebyside.drivers.sunup import sunup_argv, write_project
from sidebyside.procfs import MARKER_VARIABLE, Proc, Tracker
from sidebyside.program import is_sleep, sleeper

SECONDS = 36007


def _inner(project: Path, stats_dir: Path) -> None:
    """Run `sunup up -d` in this process under cProfile; the supervisor dumps its own profile
    when it says ready."""
    from sunup.supervisor import background

    profile = cProfile.Profile()
    original_ready = background.ReadyChannel.ready

    def ready(self: background.ReadyChannel) -> None:
        profile.disable()
        profile.dump_stats(stats_dir / "supervisor.prof")
        original_ready(self)

    background.ReadyChannel.ready = ready  # type: ignore[method-assign]
    original_fork = os.fork

    def fork() -> int:
        child = original_fork()
        if child != 0 and os.getpid() == parent:  # the client: its part ends at the fork
            profile.disable()
            profile.dump_stats(stats_dir / "client.prof")
            profile.enable()
        return child

    parent = os.getpid()
    os.fork = fork
    os.chdir(project)
    from sunup.cli import main

    profile.enable()
    with contextlib.suppress(SystemExit):
        main(["up", "-d", "--settle", "0"])


def _is_instance(proc: Proc) -> bool:
    return is_sleep(SECONDS)(proc.cmdline)


def _top(path: Path, count: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("cumulative").print_stats(count)
    text = out.getvalue()
    return text[text.find("   ncalls") :] if "   ncalls" in text else text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", action="append", type=int, help="instances (repeatable; default 1 and 200)")
    parser.add_argument("--top", type=int, default=25, help="functions shown per side")
    parser.add_argument("--keep", type=Path, help="keep the .prof files in this folder")
    parser.add_argument("--inner", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        _inner(Path(args.inner[0]), Path(args.inner[1]))
        return 0
    for count in args.count or [1, 200]:
        with tempfile.TemporaryDirectory(prefix="profile-up-") as work:
            marker = os.urandom(8).hex()
            project = Path(work) / "project"
            write_project(project, [("sleeper", sleeper(SECONDS), count)], marker)
            env = {**os.environ, MARKER_VARIABLE: marker}
            sunup = sunup_argv()
            if count > 1:
                subprocess.run(
                    [*sunup, "resources:set", "--count", f"sleeper:{count}"],
                    cwd=project,
                    check=True,
                    env=env,
                    capture_output=True,
                )
            for argv in (["up", "-d", "--settle", "0"], ["down"]):
                subprocess.run([*sunup, *argv], cwd=project, check=True, env=env, capture_output=True, timeout=300)
            stats_dir = args.keep / f"n{count}" if args.keep else Path(work) / "stats"
            stats_dir.mkdir(parents=True, exist_ok=True)
            tracker = Tracker(marker)
            began = time.monotonic()
            client = subprocess.Popen(
                [sys.executable, __file__, "--inner", str(project), str(stats_dir)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            held, _, when = tracker.wait_for(lambda ps, n=count: sum(map(_is_instance, ps)) >= n, 120, 0.005)
            client.wait(timeout=300)
            log = (project / ".sunup" / "supervisor.log").read_text(errors="replace")
            subprocess.run([*sunup, "down"], cwd=project, env=env, capture_output=True, timeout=120, check=False)
            started = re.findall(r"started: (.*)", log)
            print(f"== N = {count}: all pids exist after {when - began:.3f} s" + ("" if held else " (TIMED OUT)"))
            print(f"supervisor phases (unprofiled figures are lower): {started[-1] if started else '?'}")
            for side in ("client", "supervisor"):
                path = stats_dir / f"{side}.prof"
                print(f"-- {side} (cumulative)")
                print(_top(path, args.top) if path.exists() else "(no profile)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
