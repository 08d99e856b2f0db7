"""Run sunup and its peers (supervisord, circus, honcho) through the scenarios of
shared/spec/benchmarks.md, side by side in one run, and print a table with sunup's ratios.

    python bench/run.py [--scenario NAME ...] [--manager NAME ...] [--quick] [--size N ...] [--repeats R]

See bench/README.md. Benchmarks measure; they are not tests and assert nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback

from sidebyside import environment
from sidebyside.drivers import all_drivers
from sidebyside.report import table
from sidebyside.scenarios import SCENARIOS
from sidebyside.session import Measurement, Options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="run only these (repeatable)")
    parser.add_argument("--manager", action="append", help="run only these managers (repeatable)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer repetitions")
    parser.add_argument(
        "--size", action="append", type=int, help="start scenario: these instance counts (repeatable; 1 5 50 200)"
    )
    parser.add_argument("--repeats", type=int, default=0, help="start scenario: starts per size (median; 5, quick 3)")
    args = parser.parse_args(argv)

    drivers = [d for d in all_drivers() if not args.manager or d.name in args.manager]
    if any(d.name != "sunup" for d in drivers):
        versions = environment.ensure()
        print("peers: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())), file=sys.stderr)
    unavailable = {d.name: reason for d in drivers if (reason := d.unavailable())}
    for name, reason in unavailable.items():
        print(f"{name}: skipped, {reason}", file=sys.stderr)
    runnable = [d for d in drivers if d.name not in unavailable]

    options = Options(quick=args.quick, sizes=tuple(args.size or ()), repeats=args.repeats)
    measurements: list[Measurement] = []
    errors: list[str] = []
    for scenario in args.scenario or list(SCENARIOS):
        for driver in runnable:
            began = time.monotonic()
            print(f"{scenario}: {driver.name} ...", end="", file=sys.stderr, flush=True)
            try:
                measurements += SCENARIOS[scenario](driver, options)
            except Exception as exc:  # one manager failing must not stop the others
                errors.append(f"{scenario} / {driver.name}: {exc}")
                print(f" failed: {exc}", file=sys.stderr)
                if os.environ.get("BENCH_TRACEBACK"):
                    traceback.print_exc()
                continue
            print(f" {time.monotonic() - began:.1f} s", file=sys.stderr)

    print(
        f"\n{platform.node()}: Linux {platform.release()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}{', quick' if args.quick else ''}"
    )
    for name, reason in unavailable.items():
        print(f"{name}: not run ({reason})")
    print()
    print(table(measurements, [d.name for d in drivers]))
    for error in errors:
        print(f"error: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
