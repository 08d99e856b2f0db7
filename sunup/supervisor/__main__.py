"""`python -m sunup.supervisor`: the background supervisor started by `sunup up -d`.

It loads the plan itself, supervises until `sunup down` (or SIGTERM), and reports on the file
descriptor given by `--ready-fd`: ``say: <message>`` lines (warnings, progress) while starting,
then ``ok`` once every instance is spawned and the control socket listens, or
``error: <message>`` (and ``hint: <hint>``) when it cannot start.
"""

from __future__ import annotations

import argparse
import sys

from sunup.project import load_plan
from sunup.supervisor.background import ReadyChannel, supervise
from sunup.supervisor.settings import SupervisorSettings
from sunup.supervisor.statedir import StateDir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sunup.supervisor")
    parser.add_argument("--project", required=True)
    parser.add_argument("--grace", type=float, default=None)
    parser.add_argument("--ready-fd", type=int, default=None)
    options = parser.parse_args(argv)
    channel = ReadyChannel(options.ready_fd)
    try:
        loaded, plan = load_plan(options.project)
        state = StateDir.for_project(loaded.root)
        settings = SupervisorSettings.from_environment(options.grace)
        supervise(plan, loaded.root, channel, state=state, settings=settings)
    except BaseException as exc:
        return channel.fail(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
