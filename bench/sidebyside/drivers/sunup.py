"""sunup: a generated Upsun project with one worker per program, started with `sunup up -d` and
stopped with `sunup down`.

A program with a count of N becomes one worker with N instances when `sunup resources:set
--count` exists, else N workers. The run's marker reaches the instances as an `env:` variable,
because sunup gives instances the environment of the plan, not its own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from sidebyside.drivers.base import Launched, run_quietly, spawn
from sidebyside.procfs import Tracker, read_proc
from sidebyside.program import Program


def sunup_argv() -> list[str]:
    """How to run the sunup of the bench's interpreter."""
    script = Path(sys.executable).with_name("sunup")
    if script.exists():
        return [str(script)]
    found = shutil.which("sunup")
    return [found] if found else [sys.executable, "-m", "sunup"]


def _supports(*args: str) -> bool:
    done = subprocess.run([*sunup_argv(), *args, "--help"], capture_output=True, text=True, timeout=60, check=False)
    return done.returncode == 0


class SunupDriver:
    name = "sunup"

    def __init__(self, isolation: str | None = None) -> None:
        """`isolation` forces a backend (SUNUP_ISOLATION) for the supervisor."""
        self._counts: bool | None = None
        self._env = {"SUNUP_ISOLATION": isolation} if isolation else {}

    def unavailable(self) -> str | None:
        missing = [c for c in ("up", "down", "ps") if not _supports(c)]
        if missing:
            return f"`sunup {'`, `sunup '.join(missing)}` not implemented yet"
        return None

    def counts_supported(self) -> bool:
        if self._counts is None:
            self._counts = _supports("resources:set")
        return self._counts

    def warm_up(self, programs: Sequence[Program], workdir: Path, marker: str) -> None:
        """Build the app once (`up -d`, then `down`): the build is reused by the timed start, as
        on a developer's second `sunup up`; the peers have nothing to build."""
        project = self._write(programs, workdir, marker)
        for argv, timeout in (([*sunup_argv(), "up", "-d", "--settle", "0"], 300.0), ([*sunup_argv(), "down"], 90.0)):
            done = run_quietly(argv, project, timeout, marker)
            if done.returncode != 0:
                raise RuntimeError(f"warm-up `{' '.join(argv[-3:])}` failed: {done.stderr.strip()[-500:]}")

    def launch(self, programs: Sequence[Program], workdir: Path, marker: str) -> Launched:
        project = self._write(programs, workdir, marker)
        # Output outside the project: a file in it would change the app's tree and its build.
        launched = spawn([*sunup_argv(), "up", "-d"], workdir, marker, programs, extra_env=self._env, cwd=project)
        launched.extra["project"] = project
        workers = self._workers(programs)
        if len(workers) > len(programs):
            launched.extra["note"] = f"as {len(workers)} workers"
        cpus = {p.cpu for p in programs if p.cpu is not None}
        if cpus and self.counts_supported():
            launched.extra["note"] = f"instances at {', '.join(f'{c:g}' for c in sorted(cpus))} CPU"
        return launched

    def _write(self, programs: Sequence[Program], workdir: Path, marker: str) -> Path:
        """The project folder with its config and its resources set (counts, CPU sizes)."""
        project = workdir / "project"
        workers = self._workers(programs)
        write_project(project, workers, marker)
        settings: list[str] = []
        if self.counts_supported():
            counts = ",".join(f"{name}:{count}" for name, _, count in workers if count > 1)
            sizes = ",".join(f"{p.name}:{p.cpu:g}" for p in programs if p.cpu is not None)
            settings = [*(["--count", counts] if counts else []), *(["--size", sizes] if sizes else [])]
        if settings:
            done = run_quietly([*sunup_argv(), "resources:set", *settings], project, timeout=60)
            if done.returncode != 0:
                raise RuntimeError(f"sunup resources:set {' '.join(settings)} failed: {done.stderr.strip()}")
        return project

    def _workers(self, programs: Sequence[Program]) -> list[tuple[str, str, int]]:
        """(worker name, start command, count) for each worker of the project."""
        workers: list[tuple[str, str, int]] = []
        for program in programs:
            if program.count == 1 or self.counts_supported():
                workers.append((program.name, program.command, program.count))
            else:
                workers += [(f"{program.name}_{i}", program.command, 1) for i in range(program.count)]
        return workers

    def manager_pid(self, launched: Launched) -> int | None:
        """The supervisor: the pid written in its lock file, once it holds it and runs. (The
        oldest process of the run running sunup is not it: `up -d` forks twice, and the first
        child, gone a moment later, read as a supervisor using no CPU at all.)"""
        try:
            pid = int((_project(launched) / ".sunup" / "supervisor.lock").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        proc = read_proc(pid)
        marked = any(p.pid == pid for p in Tracker(launched.marker).scan())
        return pid if proc is not None and proc.alive and marked else None

    def stop(self, launched: Launched) -> None:
        run_quietly([*sunup_argv(), "down"], _project(launched), timeout=90)

    def log_files(self, launched: Launched) -> list[Path]:
        return sorted(_project(launched).rglob("app.log"))

    def instances(self, launched: Launched) -> list[dict[str, object]]:
        """`sunup ps --json`."""
        done = run_quietly([*sunup_argv(), "ps", "--json"], _project(launched), timeout=30)
        return list(json.loads(done.stdout)) if done.returncode == 0 else []

    def cleanup(self, workdir: Path) -> None:
        """Remove the cgroups a killed supervisor may have left (the run's processes are gone)."""
        from sunup.isolation import open_isolation

        for ledger in workdir.rglob("isolation.json"):
            isolation = open_isolation(ledger.parent)
            isolation.clear_stale()
            isolation.close()


def _project(launched: Launched) -> Path:
    project = launched.extra["project"]
    assert isinstance(project, Path)
    return project


def write_project(project: Path, workers: Sequence[tuple[str, str, int]], marker: str) -> None:
    """An Upsun project: one app, a static web instance, the workers; nothing to build."""
    lines = [
        "applications:",
        "  app:",
        "    type: 'python:3.12'",
        "    variables:",
        "      env:",
        f"        BENCH_RUN: {json.dumps(marker)}",
        "    workers:",
    ]
    for name, command, _ in workers:
        lines += [f"      {name}:", "        commands:", f"          start: {json.dumps(command)}"]
    (project / ".upsun").mkdir(parents=True, exist_ok=True)
    (project / ".upsun" / "config.yaml").write_text("\n".join(lines) + "\n")
