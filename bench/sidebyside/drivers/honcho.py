"""honcho 2.0: a Procfile, `-c name=N` for a count; its console output is its log."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path

from sidebyside.drivers.base import Launched, spawn
from sidebyside.environment import peer_bin
from sidebyside.program import Program


class HonchoDriver:
    name = "honcho"

    def unavailable(self) -> str | None:
        return None if peer_bin("honcho").exists() else "bench/.venv has no honcho"

    def warm_up(self, programs: Sequence[Program], workdir: Path, marker: str) -> None:
        return None

    def launch(self, programs: Sequence[Program], workdir: Path, marker: str) -> Launched:
        procfile = workdir / "Procfile"
        procfile.write_text("".join(f"{p.name}: {p.command}\n" for p in programs))
        argv = [str(peer_bin("honcho")), "start", "--no-colour", "-f", str(procfile)]
        counts = ",".join(f"{p.name}={p.count}" for p in programs if p.count > 1)
        if counts:
            argv += ["-c", counts]
        return spawn(argv, workdir, marker, programs)

    def manager_pid(self, launched: Launched) -> int | None:
        return launched.process.pid if launched.process.poll() is None else None

    def stop(self, launched: Launched) -> None:
        # What Ctrl-C in its terminal does (honcho treats SIGTERM the same way).
        if launched.process.poll() is None:
            os.kill(launched.process.pid, signal.SIGINT)

    def log_files(self, launched: Launched) -> list[Path]:
        return [launched.workdir / "manager.out"]

    def cleanup(self, workdir: Path) -> None:
        return None
