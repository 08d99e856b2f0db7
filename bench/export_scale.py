"""Benchmark: export a configuration with 1,000 workers to Kubernetes objects (target: under 2 s).

Times the exporter (`export_project`, plan in, objects out) and the YAML serialisation of its
~4,000 objects (`sunup.cli.yamlemit`, as `sunup export kubernetes` writes them); the target is
for both together.

    python bench/export_scale.py [--workers N] [--repeat R]

Builds the project of `bench/config_scale.py`, resolves its plan once, then times
`export_project` (the pure exporter) and the YAML serialisation `sunup export kubernetes` writes,
best and median of R runs, in this process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from config_scale import write_project

from sunup.cli.export_commands import to_yaml
from sunup.config import read_config
from sunup.export.kubernetes import ExportOptions, export_project
from sunup.plan.resolve import HostFacts, resolve_project

TARGET_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_project(Path(tmp) / "project", args.workers)
        loaded = read_config(root)
        assert not loaded.diagnostics.has_errors(), list(loaded.diagnostics.errors)[:3]
        plan = resolve_project(loaded, HostFacts.for_project(root))
    options = ExportOptions(namespace="bench", secret=bytes(32))
    export_times, yaml_times, totals = [], [], []
    objects = 0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = export_project(plan, options)
        t1 = time.perf_counter()
        text = to_yaml(result.objects, result.warnings)
        t2 = time.perf_counter()
        objects = len(result.objects)
        assert text
        export_times.append(t1 - t0)
        yaml_times.append(t2 - t1)
        totals.append(t2 - t0)
    print(f"export of {args.workers} workers ({objects} objects), {args.repeat} runs")
    print(f"{'step':<28}{'best':>10}{'median':>10}")
    for name, times in (("export_project", export_times), ("YAML", yaml_times), ("total", totals)):
        print(f"{name:<28}{min(times):>9.3f}s{statistics.median(times):>9.3f}s")
    median = statistics.median(totals)
    verdict = "ok" if median < TARGET_SECONDS else "SLOW"
    print(f"target: total under {TARGET_SECONDS:.1f} s: {verdict} ({median:.3f} s)")
    if median >= TARGET_SECONDS:
        sys.exit(1)


if __name__ == "__main__":
    main()
