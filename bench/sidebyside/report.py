"""The side-by-side table: one row per metric, one column per manager, then sunup's ratio to
each peer (>1 means sunup is better: peer/sunup for times, sizes and counts, sunup/peer for
throughput)."""

from __future__ import annotations

from collections.abc import Sequence

from sidebyside.session import Measurement, Metric

SUNUP = "sunup"


def _value(m: Measurement | None) -> str:
    if m is None:
        return "-"
    if m.value is None:
        return m.note or "n/a"
    text = f"{m.value:.0f}" if m.metric.unit in ("count", "lines") else _number(m.value)
    return f"{text} ({m.note})" if m.note else text


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _ratio(sunup: Measurement | None, peer: Measurement | None) -> str:
    if sunup is None or peer is None or sunup.value is None or peer.value is None:
        return "-"
    if sunup.metric.lower_is_better:
        if sunup.value == 0:
            return "=" if peer.value == 0 else "∞"
        return f"{peer.value / sunup.value:.2f}x"
    if peer.value == 0:
        return "∞"
    return f"{sunup.value / peer.value:.2f}x"


def table(measurements: Sequence[Measurement], managers: Sequence[str]) -> str:
    metrics: list[Metric] = list(dict.fromkeys(m.metric for m in measurements))
    cell = {(m.metric, m.manager): m for m in measurements}
    peers = [name for name in managers if name != SUNUP]
    header = ["metric", "unit", *managers]
    if SUNUP in managers:
        header += [f"{SUNUP} vs {p}" for p in peers]
    rows = [header]
    for metric in metrics:
        row = [metric.label, metric.unit, *(_value(cell.get((metric, name))) for name in managers)]
        if SUNUP in managers:
            row += [_ratio(cell.get((metric, SUNUP)), cell.get((metric, p))) for p in peers]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
