"""circus 0.19: one `[watcher:x]` per program, `numprocesses` for a count, endpoints on Unix
sockets in the work folder (no TCP, no multicast), statistics off, the environment copied to the
children; other settings at their defaults (check_delay, graceful_timeout 30 s)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from sidebyside.drivers.base import Launched, run_quietly, spawn
from sidebyside.environment import peer_bin
from sidebyside.program import Program


class CircusDriver:
    name = "circus"

    def unavailable(self) -> str | None:
        return None if peer_bin("circusd").exists() else "bench/.venv has no circusd"

    def warm_up(self, programs: Sequence[Program], workdir: Path, marker: str) -> None:
        return None

    def launch(self, programs: Sequence[Program], workdir: Path, marker: str) -> Launched:
        config = workdir / "circus.ini"
        (workdir / "logs").mkdir(exist_ok=True)
        config.write_text(render(programs, workdir))
        return spawn([str(peer_bin("circusd")), str(config)], workdir, marker, programs)

    def manager_pid(self, launched: Launched) -> int | None:
        return launched.process.pid if launched.process.poll() is None else None

    def stop(self, launched: Launched) -> None:
        endpoint = f"ipc://{launched.workdir / 'endpoint.sock'}"
        run_quietly(
            [str(peer_bin("circusctl")), "--endpoint", endpoint, "--timeout", "60", "quit"],
            launched.workdir,
            timeout=90,
        )

    def log_files(self, launched: Launched) -> list[Path]:
        return sorted((launched.workdir / "logs").glob("*.log"))

    def cleanup(self, workdir: Path) -> None:
        return None


def render(programs: Sequence[Program], workdir: Path) -> str:
    lines = [
        "[circus]",
        f"endpoint = ipc://{workdir / 'endpoint.sock'}",
        f"pubsub_endpoint = ipc://{workdir / 'pubsub.sock'}",
        # No UDP multicast discovery socket (traffic stays on this machine's Unix sockets).
        "multicast_endpoint = ",
        # No statsd (circusd-stats); a stats_endpoint line would turn it on.
        "statsd = False",
        "",
    ]
    for program in programs:
        argv = program.argv()
        lines += [
            f"[watcher:{program.name}]",
            f"cmd = {shlex.quote(argv[0])}".replace("%", "%%"),
            f"args = {' '.join(shlex.quote(a) for a in argv[1:])}".rstrip().replace("%", "%%"),
            f"numprocesses = {program.count}",
            "copy_env = True",
            "copy_path = True",
            "stdout_stream.class = FileStream",
            f"stdout_stream.filename = {workdir / 'logs' / (program.name + '.log')}",
            "stderr_stream.class = FileStream",
            f"stderr_stream.filename = {workdir / 'logs' / (program.name + '.err')}",
            "",
        ]
    return "\n".join(lines)
