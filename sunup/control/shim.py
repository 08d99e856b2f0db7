"""`sv` (runit) and `systemctl` (systemd) inside an instance shell, acting through the socket.

    sv status|start|stop|restart app          (also up / down, as runit spells them)
    systemctl [--user] status|start|stop|restart app[.service]

The one service is named `app` (spec §3); it is the instance named by `$SUNUP_INSTANCE`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from sunup.control.client import ControlClient, NotRunningError
from sunup.control.protocol import ProtocolError
from sunup.errors import SunupError

SERVICE = "app"
SV_VERBS = {"status": "ps", "start": "start", "up": "start", "stop": "stop", "down": "stop", "restart": "restart"}
SYSTEMCTL_VERBS = {"status": "ps", "start": "start", "stop": "stop", "restart": "restart", "reload": "restart"}


def _describe(row: dict[str, Any]) -> str:
    state = row.get("state")
    if state in ("running", "starting"):
        uptime = int(row.get("uptime") or 0)
        return f"run: {SERVICE}: (pid {row.get('pid')}) {uptime}s"
    last = row.get("last_exit") or {}
    since = int(max(0.0, time.time() - last["at"])) if last.get("at") else 0
    return f"down: {SERVICE}: {since}s" + (f", {state}" if state != "stopped" else "")


def run(program: str, argv: list[str]) -> int:
    args = [a for a in argv if a not in ("--user", "--no-pager", "-q", "--quiet")]
    verbs = SV_VERBS if program == "sv" else SYSTEMCTL_VERBS
    if len(args) != 2 or args[0] not in verbs:
        print(f"usage: {program} {'|'.join(verbs)} {SERVICE}", file=sys.stderr)
        return 1 if program == "sv" else 2
    verb, service = args
    if service.removesuffix(".service") != SERVICE:
        if program == "sv":
            print(f"fail: {service}: unable to change to service directory: file does not exist", file=sys.stderr)
        else:
            print(f"Unit {service} could not be found.", file=sys.stderr)
        return 1 if program == "sv" else 4
    key = os.environ.get("SUNUP_INSTANCE")
    socket_path = os.environ.get("SUNUP_CONTROL_SOCKET")
    if not key or not socket_path:
        print(f"{program}: not inside a sunup instance (SUNUP_INSTANCE is not set)", file=sys.stderr)
        return 1
    client = ControlClient(Path(socket_path), timeout=None)
    try:
        rows = client.call(verbs[verb], instances=[key])
    except NotRunningError:
        print(f"{program}: the sunup supervisor is not running", file=sys.stderr)
        return 1
    except (ProtocolError, SunupError) as exc:
        print(f"{program}: {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{program}: cannot talk to the sunup supervisor: {exc.strerror or exc}", file=sys.stderr)
        return 1
    row = rows[0] if rows else {}
    if program == "sv":
        print(("" if verb == "status" else "ok: ") + _describe(row))
    elif verb == "status":
        active = row.get("state") in ("running", "starting")
        print(f"● {SERVICE}.service - {key}\n   Active: {'active (running)' if active else 'inactive (dead)'}")
        return 0 if active else 3
    return 0


def main() -> None:
    if len(sys.argv) < 2:
        print("usage: python -m sunup.control.shim sv|systemctl ARGS", file=sys.stderr)
        sys.exit(2)
    sys.exit(run(sys.argv[1], sys.argv[2:]))


if __name__ == "__main__":
    main()
