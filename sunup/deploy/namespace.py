"""Running a hook or a cron where web instance 0 runs: in its mount namespace, when it has one.

An `Enter` turns an argv into the argv and `preexec_fn` that run it inside the instance's
namespace (`sunup.mounts.layout.entering` bound to the instance's mounts); `no_namespace` runs
it as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Enter = Callable[[Sequence[str]], tuple[list[str], Callable[[], None] | None]]


def no_namespace(argv: Sequence[str]) -> tuple[list[str], Callable[[], None] | None]:
    return list(argv), None
