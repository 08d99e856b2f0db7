"""`python -m sunup.supervisor`: the background supervisor started by `sunup up -d`.

It loads the plan itself, supervises until `sunup down` (or SIGTERM), and reports on the file
descriptor given by `--ready-fd`: ``say: <message>`` lines (warnings, progress) while starting,
then ``ok`` once every instance is spawned and the control socket listens, or
``error: <message>`` (and ``hint: <hint>``) when it cannot start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from sunup.errors import SunupError
from sunup.project import load_plan
from sunup.supervisor.daemon import serve
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.statedir import StateDir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sunup.supervisor")
    parser.add_argument("--project", required=True)
    parser.add_argument("--grace", type=float, default=None)
    parser.add_argument("--ready-fd", type=int, default=None)
    options = parser.parse_args(argv)
    ready_fd: int | None = options.ready_fd

    def tell(text: str) -> None:
        nonlocal ready_fd
        if ready_fd is not None:
            os.write(ready_fd, text.encode() + b"\n")
            os.close(ready_fd)
            ready_fd = None

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)
        if ready_fd is not None:
            # Until ready, messages also go to `sunup up -d`, which shows them.
            os.write(ready_fd, b"say: " + text.replace("\n", " ").encode() + b"\n")

    try:
        loaded, plan = load_plan(options.project)
        state = StateDir.for_project(loaded.root)
        settings = SupervisorSettings.from_environment(options.grace)
        asyncio.run(
            serve(
                plan, loaded.root, state=state, settings=settings, foreground=False, say=say, ready=lambda: tell("ok")
            )
        )
    except SunupError as exc:
        tell(f"error: {exc.message}" + (f"\nhint: {exc.hint}" if exc.hint else ""))
        say(f"error: {exc.message}")
        return exc.exit_code
    except BaseException as exc:
        tell(f"error: the supervisor failed: {type(exc).__name__}: {exc}")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
