"""Benchmark: validate and resolve a configuration with 1,000 workers (target: under 0.5 s).

    python bench/config_scale.py [--workers N] [--repeat R]

Writes a project into a temporary folder, then times `read_config` (YAML with positions, schema,
meaning checks) and `resolve_project` separately, best and median of R runs, in this process.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sunup.config import read_config
from sunup.plan.resolve import HostFacts, resolve_project

TARGET_SECONDS = 0.5


def write_project(root: Path, workers: int) -> Path:
    lines = [
        "applications:",
        "  app:",
        "    type: 'python:3.12'",
        "    relationships: {db: 'db:mysql', queue: 'mq:rabbitmq'}",
        "    variables: {env: {type: 'none', LEVEL: 3}}",
        "    web:",
        "      commands: {start: 'gunicorn app:app'}",
        "      mounts: {uploads: {source: storage, source_path: uploads}}",
        "    crons:",
        "      report: {spec: 'H 2 * * *', commands: {start: 'python report.py'}}",
        "    workers:",
    ]
    for i in range(workers):
        lines += [
            f"      w{i}:",
            f"        commands: {{start: 'python worker.py --queue {i}'}}",
            "        variables: {env: {type: 'worker'}}",
            f"        mounts: {{scratch: {{source: tmp, source_path: s{i}}}, data: {{source: storage}}}}",
        ]
        if i % 2:
            lines.append("        relationships: {queue: 'mq:rabbitmq'}")
    lines += [
        "services:",
        "  db: {type: 'mariadb:11.4'}",
        "  mq: {type: 'rabbitmq:3.13'}",
    ]
    (root / ".upsun").mkdir(parents=True)
    (root / ".upsun" / "config.yaml").write_text("\n".join(lines) + "\n")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_project(Path(tmp) / "project", args.workers)
        facts = HostFacts.for_project(root)
        read_times, resolve_times, totals = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            loaded = read_config(root)
            t1 = time.perf_counter()
            assert not loaded.diagnostics.has_errors(), list(loaded.diagnostics.errors)[:3]
            plan = resolve_project(loaded, facts)
            t2 = time.perf_counter()
            assert len(plan.apps[0].groups) == args.workers + 1
            read_times.append(t1 - t0)
            resolve_times.append(t2 - t1)
            totals.append(t2 - t0)
    print(f"config with {args.workers} workers, {args.repeat} runs")
    print(f"{'step':<28}{'best':>10}{'median':>10}")
    for name, times in (("read + validate", read_times), ("resolve", resolve_times), ("total", totals)):
        print(f"{name:<28}{min(times):>9.3f}s{statistics.median(times):>9.3f}s")
    median = statistics.median(totals)
    print(
        f"target {TARGET_SECONDS:.2f} s: {'met' if median < TARGET_SECONDS else 'MISSED'} "
        f"(median is {median / TARGET_SECONDS:.0%} of it)"
    )


if __name__ == "__main__":
    main()
