"""Supervisor 4.3 (supervisord): one `[program:x]` per program, `numprocs` for a count.

Defaults kept, as users get them (startsecs=1, stopwaitsecs=10, stopasgroup=false), except
autorestart=true (always restart, the Upsun rule) and no log rotation.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from sidebyside.drivers.base import Launched, run_quietly, spawn
from sidebyside.environment import peer_bin
from sidebyside.program import Program


class SupervisordDriver:
    name = "supervisord"

    def unavailable(self) -> str | None:
        return None if peer_bin("supervisord").exists() else "bench/.venv has no supervisord"

    def warm_up(self, programs: Sequence[Program], workdir: Path, marker: str) -> None:
        return None

    def launch(self, programs: Sequence[Program], workdir: Path, marker: str) -> Launched:
        config = workdir / "supervisord.conf"
        (workdir / "logs").mkdir(exist_ok=True)
        config.write_text(render(programs, workdir))
        return spawn([str(peer_bin("supervisord")), "-n", "-c", str(config)], workdir, marker, programs)

    def manager_pid(self, launched: Launched) -> int | None:
        return launched.process.pid if launched.process.poll() is None else None

    def stop(self, launched: Launched) -> None:
        ctl = [str(peer_bin("supervisorctl")), "-c", str(launched.workdir / "supervisord.conf")]
        run_quietly([*ctl, "shutdown"], launched.workdir, timeout=60)

    def log_files(self, launched: Launched) -> list[Path]:
        return sorted((launched.workdir / "logs").glob("*.log"))

    def cleanup(self, workdir: Path) -> None:
        return None


def render(programs: Sequence[Program], workdir: Path) -> str:
    lines = [
        "[supervisord]",
        f"logfile={workdir / 'supervisord.log'}",
        f"pidfile={workdir / 'supervisord.pid'}",
        f"childlogdir={workdir / 'logs'}",
        "",
        "[unix_http_server]",
        f"file={workdir / 'supervisor.sock'}",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{workdir / 'supervisor.sock'}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
    ]
    for program in programs:
        command = " ".join(shlex.quote(a) for a in program.argv()).replace("%", "%%")
        lines += [
            f"[program:{program.name}]",
            f"command={command}",
            "autorestart=true",
            "redirect_stderr=true",
            f"stdout_logfile={workdir / 'logs'}/%(program_name)s_%(process_num)d.log",
            "stdout_logfile_maxbytes=0",
        ]
        if program.count > 1:
            lines += [f"numprocs={program.count}", "process_name=%(program_name)s_%(process_num)d"]
        lines.append("")
    return "\n".join(lines)
