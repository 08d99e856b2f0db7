"""What an instance runs: environment per spec §6, the script, and `exec` of simple commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunup.supervisor.launch import INSTANCE_VARIABLE, SOCKET_VARIABLE, execs, instance_specs, script
from sunup.supervisor.statedir import StateDir
from sunup.supervisor.testing import group_plan, instance_spec, project_plan


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("gunicorn app:app -b 0.0.0.0:$PORT", "exec gunicorn app:app -b 0.0.0.0:$PORT"),
        ("python queue-worker.py", "exec python queue-worker.py"),
        ("exec sleep 5", "exec sleep 5"),
        ("cd web && npm start", "cd web && exec npm start"),
        ("sleep 1; sleep 2", "sleep 1; exec sleep 2"),
        ("test -f x || python app.py;", "test -f x || exec python app.py"),
        ("prepare\nnode server.js", "prepare\nexec node server.js"),
        ("echo 'a;b' \"c && d\" $(e; f) `g; h`", "exec echo 'a;b' \"c && d\" $(e; f) `g; h`"),
        ("node server.js > out.log 2>&1", "exec node server.js > out.log 2>&1"),
        ("sleep 1 # wait; then go", "exec sleep 1 # wait; then go"),
        ("while true; do work; done", "while true; do work; done"),
        ("for i in 1 2; do echo $i; done; sleep 5", "for i in 1 2; do echo $i; done; exec sleep 5"),
        ("{ a; b; }", "{ a; b; }"),
        ("cat <<EOF\nx\nEOF", "cat <<EOF\nx\nEOF"),
        ("echo 'unterminated", "echo 'unterminated"),
        ("a; exit 0", "a; exit 0"),
        ("FOO=1 node server.js", "FOO=1 node server.js"),
        ("if true; then sleep 1; fi", "if true; then sleep 1; fi"),
        ("sleep 100 &", "sleep 100 &"),
        ("cd /tmp", "cd /tmp"),
        ("a | b", "a | b"),
    ],
)
def test_exec_the_last_program_where_it_is_safe(command: str, expected: str) -> None:
    """The last simple command of a plain list is exec'd (the app becomes the supervised pid);
    pipes, background jobs, compound commands and builtins are left as written."""
    assert execs(command) == expected


def test_environment_of_web_and_workers(tmp_path: Path) -> None:
    """Web gets PORT and PLATFORM_DOCUMENT_ROOT, workers do not; everyone gets the app dir and socket."""
    plan = project_plan(group_plan("web", "serve"), group_plan("queue", "work", count=2))
    state = StateDir(tmp_path / ".sunup")
    specs = instance_specs(plan, tmp_path, state, host_environment={"PATH": "/bin", "SECRET": "x"}, port=lambda: 4242)
    assert [s.id.name for s in specs] == ["web.0", "queue.0", "queue.1"]
    web, queue0, _ = specs
    assert web.environment["PORT"] == "4242"
    assert web.environment["TYPE"] == "web"
    assert "PORT" not in queue0.environment
    assert queue0.environment["PLATFORM_APPLICATION_NAME"] == "app--queue"
    assert queue0.environment["PLATFORM_APP_DIR"] == str(tmp_path.resolve())
    assert queue0.environment[SOCKET_VARIABLE] == str(state.socket)
    assert queue0.environment[INSTANCE_VARIABLE] == "app.queue.0"
    assert queue0.environment["PATH"].startswith(f"{state.bin}:")
    assert "SECRET" not in queue0.environment
    assert queue0.log_path == state.root / "logs" / "app" / "queue.0" / "app.log"


def test_extra_environment_seam(tmp_path: Path) -> None:
    """`extra_environment` adds variables per instance (where relationship credentials will come from)."""
    plan = project_plan(group_plan("web", "serve"), group_plan("queue", "work"))
    specs = instance_specs(
        plan,
        tmp_path,
        StateDir(tmp_path / "s"),
        host_environment={},
        extra_environment=lambda group, instance: {"WHO": instance.key},
        port=lambda: 1,
    )
    assert [s.environment["WHO"] for s in specs] == ["app.web.0", "app.queue.0"]


def test_script_runs_prelude_environment_pre_start_then_start(tmp_path: Path) -> None:
    """The script joins isolation first, sources .environment, runs pre_start, then execs start."""
    spec = instance_spec("sleep 5", tmp_path, pre_start="echo before")
    text = script(spec, "PRELUDE\n")
    assert text.index("PRELUDE") < text.index(".environment") < text.index("echo before") < text.index("exec sleep 5")


_PIECES = st.sampled_from(["echo one", "printf 'a;b\\n'", "false", "true", "sh -c 'exit 3'", 'echo "$HOME" # note'])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(_PIECES, st.sampled_from([" && ", " || ", "; ", "\n"])), min_size=1, max_size=4))
def test_exec_changes_no_outcome(parts: list[tuple[str, str]]) -> None:
    """A command list and its exec'd form print the same and exit with the same status."""
    command = "".join(piece + joiner for piece, joiner in parts[:-1]) + parts[-1][0]
    results = [
        subprocess.run(["/bin/sh", "-c", text], capture_output=True, text=True, timeout=10, check=False)
        for text in (command, execs(command))
    ]
    assert (results[0].stdout, results[0].returncode) == (results[1].stdout, results[1].returncode)
