"""A start command of plain words is exec'd by `sunup-enter` with no shell in between, and is
still in its cgroup and its read-only namespace; a missing program says so as a shell would."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sunup.supervisor.events import ExitedEvent
from sunup.supervisor.launch import direct_argv
from sunup.supervisor.shellcommand import plain_words
from sunup.supervisor.testing import instance_spec
from tests.cli.test_runtime_commands import ps, sunup
from tests.supervisor.harness import run, supervising, until

CONFIG = """\
applications:
  app:
    type: python:3.12
    web:
      commands:
        start: "sleep 36031"
"""
MISSING = CONFIG.replace("sleep 36031", "no-such-program-36031 --flag")


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("sleep 60", ["sleep", "60"]),
        ("  php worker.php --queue=mail  ", ["php", "worker.php", "--queue=mail"]),
        ("./bin/run -v 1,2", ["./bin/run", "-v", "1,2"]),
        ("sleep $SECONDS", None),
        ("FOO=1 sleep 60", None),
        ("cd web", None),
        ("sleep 1; sleep 2", None),
        ("sleep 60 &", None),
        ("ls *.py", None),
        ("echo ~", None),
        ("echo 'quoted'", None),
        ("a | b", None),
        ("", None),
    ],
)
def test_plain_words_only_where_a_shell_would_just_run_the_program(command: str, words: list[str] | None) -> None:
    assert plain_words(command) == words


def test_direct_argv_needs_no_pre_start_and_no_environment_file(tmp_path: Path) -> None:
    spec = instance_spec("sleep 60", tmp_path)
    assert direct_argv(spec) == ["sleep", "60"]
    assert direct_argv(instance_spec("sleep 60", tmp_path, pre_start="true")) is None
    (spec.cwd / ".environment").write_text("export A=1\n")
    assert direct_argv(spec) is None


@pytest.fixture
def running(make_project: Callable[..., Path]) -> Iterator[Path]:
    project = make_project({".upsun/config.yaml": CONFIG})
    started = sunup(project, "up", "-d", "--settle", "0")
    try:
        assert started.returncode == 0, started.stderr
        yield project
    finally:
        sunup(project, "down")


@pytest.mark.slow
def test_plain_start_command_runs_without_a_shell_in_its_cgroup_and_namespace(running: Path) -> None:
    pid = ps(running)["web.0"]["pid"]
    assert isinstance(pid, int)
    assert Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\x0036031\x00"
    supervisor = int(Path(f"/proc/{pid}/status").read_text().split("PPid:")[1].split()[0])
    assert b"sunup" in Path(f"/proc/{supervisor}/cmdline").read_bytes(), "no shell between supervisor and app"
    cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    if "sunup-" in Path(f"/proc/{supervisor}/cgroup").read_text() or "sunup-" in cgroups:
        assert "web.0" in cgroups, cgroups
    app_dir = next(
        line for line in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if line.startswith(b"PLATFORM_APP_DIR=")
    )
    folder = app_dir.split(b"=", 1)[1].decode()
    mounts = [line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()]
    assert any(fields[4] == folder and "ro" in fields[5].split(",") for fields in mounts), "app folder read-only"


@pytest.mark.slow
def test_a_missing_program_is_reported_like_a_shell_does(make_project: Callable[..., Path]) -> None:
    project = make_project({".upsun/config.yaml": MISSING})
    try:
        started = sunup(project, "up", "-d")
        assert started.returncode == 1, started.stderr
        assert "web.0 did not stay up: exit status 127" in started.stderr, started.stderr
        assert "sunup: no-such-program-36031: command not found" in started.stderr, started.stderr
        assert "Traceback" not in started.stderr
    finally:
        sunup(project, "down")


def test_an_instance_inherits_no_descriptor_of_the_supervisor(tmp_path: Path) -> None:
    """A descriptor the supervisor's own parent leaked to it (inheritable) does not reach an
    instance: instances are started without a close-all sweep, so this is what proves it."""
    leaked_read, leaked_write = os.pipe()
    os.set_inheritable(leaked_read, True)
    os.set_inheritable(leaked_write, True)
    spec = instance_spec("ls /proc/self/fd; exit 0", tmp_path)
    try:

        async def scenario() -> None:
            async with supervising(tmp_path, [spec]) as (supervisor, events):
                await until(supervisor, lambda: any(isinstance(e, ExitedEvent) for e in events), "the first exit")

        run(scenario())
    finally:
        os.close(leaked_read)
        os.close(leaked_write)
    listed = {line.split()[-1] for line in spec.log_path.read_text().splitlines() if line.split()}
    assert str(leaked_read) not in listed and str(leaked_write) not in listed, listed
