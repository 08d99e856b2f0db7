"""Cron expressions as Upsun reads them: 5 fields, with `H` for a stable hashed value.

`H` is hashed from the cron's name, so each cron keeps its own minute from run to run. This is
the pure part: checking an expression and iterating its fire times from a given moment; the
scheduler that acts on them lives with the supervisor.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

# croniter is imported by the functions that use it: most projects have no crons, and every
# `sunup` command reads the configuration.

#: Upsun runs no cron more often than this; sunup warns and runs it anyway.
MIN_INTERVAL_MINUTES = 5
_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_EPOCH = datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC)  # a Monday


def check_spec(expression: str, name: str) -> str | None:
    """Why `expression` is not a valid Upsun cron spec, or None when it is."""
    from croniter import croniter
    from croniter.croniter import CroniterError

    fields = expression.split()
    if len(fields) != len(_FIELDS):
        return f"'{expression}' has {len(fields)} field{'s' if len(fields) != 1 else ''}, a cron spec has 5"
    try:
        croniter(expression, _EPOCH, hash_id=name.encode())
    except (CroniterError, ValueError, KeyError) as exc:
        for field, value in zip(_FIELDS, fields, strict=True):
            try:
                croniter(" ".join(value if f == field else "*" for f in _FIELDS), _EPOCH, hash_id=name.encode())
            except (CroniterError, ValueError, KeyError):
                return f"'{value}' is not a valid {field} field"
        return f"'{expression}' is not a valid cron spec ({exc})"
    try:
        next(fire_times(expression, name, _EPOCH))
    except CroniterError:  # every field is valid, but no date has them all (`* * 31 2 *`)
        return f"'{expression}' never fires: no date matches all its fields"
    return None


def fire_times(expression: str, name: str, start: datetime.datetime) -> Iterator[datetime.datetime]:
    """The moments after `start` (timezone-aware) at which the cron fires, in order."""
    from croniter import croniter

    iterator = croniter(expression, start, hash_id=name.encode())
    while True:
        yield iterator.get_next(datetime.datetime)


def min_interval_minutes(expression: str, name: str) -> int | None:
    """The shortest gap between two runs over a sample week, in minutes."""
    from croniter.croniter import CroniterError

    times = fire_times(expression, name, _EPOCH)
    shortest: float | None = None
    try:
        previous = next(times)
    except CroniterError:
        return None
    for _ in range(200):
        try:
            current = next(times)
        except CroniterError:
            break
        gap = (current - previous).total_seconds() / 60
        shortest = gap if shortest is None else min(shortest, gap)
        previous = current
        if current - _EPOCH > datetime.timedelta(days=8):
            break
    return None if shortest is None else int(shortest)


def expand_hashes(expression: str, name: str) -> str:
    """`expression` with every `H` field replaced by the values it stands for (the same as the
    scheduler fires): ``H H/6 * * *`` for cron ``x`` → ``3 1,7,13,19 * * *``. Other fields stay."""
    from croniter import croniter

    fields = expression.split()
    expanded, _ = croniter.expand(expression, hash_id=name.encode())
    return " ".join(
        ",".join(str(v) for v in values) if "h" in field.lower() else field
        for field, values in zip(fields, expanded, strict=True)
    )
