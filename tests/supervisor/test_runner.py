"""The supervisor with real processes: start, crash, backoff, stop, escalation, process trees."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sunup.supervisor import lifecycle as lc
from sunup.supervisor.events import EscalatedEvent, ExitedEvent, LeftoversEvent, ProblemEvent
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.lifecycle import InstanceState
from sunup.supervisor.testing import ManualClock, instance_spec
from tests.supervisor.harness import alive, read_pids, run, supervising, until

S = InstanceState
QUEUE0 = InstanceId("app", "queue", 0)


def when_ready(folder: Path, start: str, name: str = "ready") -> dict[str, str]:
    """`start` touching a marker once its traps are set, and a post_start that waits for it: the
    instance counts as RUNNING only once it can handle signals."""
    marker = folder / name
    return {
        "start": start.replace("READY", f"touch {marker}"),
        "post_start": f"while [ ! -e {marker} ]; do sleep 0.01; done",
    }


def test_instance_runs_with_its_environment_in_its_folder(tmp_path: Path) -> None:
    """The start command sees the spec's environment and runs in the app folder; its output reaches app.log."""
    spec = instance_spec('echo "$TYPE in $(pwd)"; exit 0', tmp_path, environment={"TYPE": "worker"})

    async def scenario() -> None:
        async with supervising(tmp_path, [spec]) as (supervisor, events):
            await until(supervisor, lambda: any(isinstance(e, ExitedEvent) for e in events), "the first exit")
            assert f"worker in {tmp_path}" in spec.log_path.read_text()

    run(scenario())


def test_crash_restarts_at_once_then_backs_off(tmp_path: Path) -> None:
    """A start command that keeps dying is restarted at once, then after 0.5 s, 1 s... shown in the snapshot."""
    clock = ManualClock()
    spec = instance_spec("exit 3", tmp_path)

    async def scenario() -> None:
        async with supervising(tmp_path, [spec], clock=clock) as (supervisor, _):
            runner = supervisor.runners[QUEUE0]
            await until(supervisor, lambda: runner.status.state is S.BACKOFF, "backoff after two quick deaths")
            assert runner.status.restarts == 1
            assert clock.pending() == [clock.now + 0.5]
            row = supervisor.snapshot()[0]
            assert row["state"] == "backoff"
            assert row["last_exit"]["code"] == 3
            assert row["next_retry"] == pytest.approx(clock.wall() + 0.5)
            clock.advance(0.5)
            await until(supervisor, lambda: runner.status.restarts == 2 and runner.status.state is S.BACKOFF, "3rd run")
            assert clock.pending() == [clock.now + 1.0]

    run(scenario())


def test_killed_instance_is_restarted_quickly(tmp_path: Path) -> None:
    """SIGKILL of a running instance gets a new process well within 100 ms."""
    spec = instance_spec("sleep 1000", tmp_path)

    async def scenario() -> None:
        async with supervising(tmp_path, [spec]) as (supervisor, _):
            runner = supervisor.runners[QUEUE0]
            await until(supervisor, lambda: runner.status.state is S.RUNNING, "running")
            first = runner.status.pid
            assert first is not None
            began = time.monotonic()
            os.kill(first, signal.SIGKILL)
            await until(supervisor, lambda: runner.status.pid not in (None, first), "a new pid")
            assert time.monotonic() - began < 0.1
            assert runner.status.last_exit is not None and runner.status.last_exit.signal == signal.SIGKILL

    run(scenario())


def test_stop_sends_sigterm_to_the_instance(tmp_path: Path) -> None:
    """A stop delivers SIGTERM; a process that handles it ends on its own, with no SIGKILL."""
    spec = instance_spec(
        **when_ready(tmp_path, "trap 'echo got TERM; exit 0' TERM; READY; while :; do sleep 0.05; done"),
        folder=tmp_path,
    )

    async def scenario() -> None:
        async with supervising(tmp_path, [spec], grace=5) as (supervisor, events):
            await until(supervisor, lambda: supervisor.state(QUEUE0) is S.RUNNING, "running")
            began = time.monotonic()
            await supervisor.stop_all()
            assert time.monotonic() - began < 2
            exits = [e for e in events if isinstance(e, ExitedEvent)]
            assert exits and exits[-1].exit.code == 0 and exits[-1].expected
            assert not any(isinstance(e, EscalatedEvent) for e in events)
        assert "got TERM" in spec.log_path.read_text()

    run(scenario())


def test_sigterm_ignored_means_sigkill_after_the_grace(tmp_path: Path) -> None:
    """An instance ignoring SIGTERM is SIGKILLed when the grace ends, not before."""
    spec = instance_spec(**when_ready(tmp_path, "trap '' TERM; READY; exec sleep 1000"), folder=tmp_path)

    async def scenario() -> None:
        async with supervising(tmp_path, [spec], grace=0.5) as (supervisor, events):
            await until(supervisor, lambda: supervisor.state(QUEUE0) is S.RUNNING, "running")
            began = time.monotonic()
            await supervisor.stop_all()
            took = time.monotonic() - began
            assert 0.45 <= took < 1.5, took
            assert any(isinstance(e, EscalatedEvent) for e in events)
            last = supervisor.runners[QUEUE0].status.last_exit
            assert last is not None and last.signal == signal.SIGKILL

    run(scenario())


@pytest.mark.parametrize("backend", [None, "none"], ids=["cgroups", "process-tree"])
def test_stop_leaves_no_grandchild_nor_setsid_escapee(tmp_path: Path, backend: str | None) -> None:
    """After a stop, background children and `setsid` escapees of the instance are gone too."""
    pids = tmp_path / "pids"
    spec = instance_spec(
        f"sleep 1000 & echo $! > {pids}; setsid sleep 1001 & echo $! >> {pids}; exec sleep 1002",
        tmp_path,
        post_start=f"while [ $(cat {pids} 2>/dev/null | wc -l) -lt 2 ]; do sleep 0.01; done",
    )

    async def scenario() -> None:
        async with supervising(tmp_path, [spec], backend=backend) as (supervisor, _):
            runner = supervisor.runners[QUEUE0]
            await until(supervisor, lambda: runner.status.state is S.RUNNING, "running after post_start")
            tree = [*read_pids(pids), runner.status.pid or 0]
            assert all(alive(p) for p in tree)
            await supervisor.stop_all()
            survivors = [p for p in tree if alive(p)]
            assert survivors == []

    run(scenario())


def test_backgrounding_start_command_is_reported_and_cleaned(tmp_path: Path) -> None:
    """`cmd &` as start command is reported, and what it left running is killed before the restart."""
    spec = instance_spec("sleep 1000 &", tmp_path)

    async def scenario() -> None:
        async with supervising(tmp_path, [spec]) as (supervisor, events):
            await until(supervisor, lambda: any(isinstance(e, LeftoversEvent) for e in events), "leftovers report")
            report = next(e for e in events if isinstance(e, LeftoversEvent))
            assert report.backgrounded
            assert "background" in report.describe()
            assert not any(alive(p) for p in report.leftovers)

    run(scenario())


def test_output_is_whole_ordered_and_keeps_a_last_line_without_newline(tmp_path: Path) -> None:
    """50,000 fast lines from stdout and stderr arrive whole and in order; the unfinished last line is kept."""
    writer = (
        "import sys\n"
        "for i in range(50000):\n"
        "    (sys.stdout if i % 2 else sys.stderr).write(f'{i:06d} ' + 'x' * 92 + '\\n')\n"
        "    (sys.stdout if i % 2 else sys.stderr).flush()\n"
        "sys.stdout.write('no newline at the end')\n"
    )
    script = tmp_path / "writer.py"
    script.write_text(writer)
    spec = instance_spec(**when_ready(tmp_path, f"{sys.executable} {script}; READY; exec sleep 1000"), folder=tmp_path)

    async def scenario() -> None:
        async with supervising(tmp_path, [spec]) as (supervisor, _):
            await until(supervisor, lambda: supervisor.state(QUEUE0) is S.RUNNING, "the writer to finish", timeout=30)
        lines = spec.log_path.read_text().splitlines()
        assert len(lines) == 50001
        for i, line in enumerate(lines[:-1]):
            _stamp, _, text = line.partition(" ")
            assert text == f"{i:06d} " + "x" * 92, line
        assert lines[-1].endswith(" no newline at the end")

    run(scenario())


def test_restarting_one_instance_leaves_the_others_alone(tmp_path: Path) -> None:
    """A restart of queue.0 gives it a new pid and leaves queue.1 and web.0 untouched."""
    specs = [
        instance_spec("sleep 1000", tmp_path, group="web"),
        instance_spec("sleep 1000", tmp_path, index=0),
        instance_spec("sleep 1000", tmp_path, index=1),
    ]

    async def scenario() -> None:
        async with supervising(tmp_path, specs) as (supervisor, _):
            runners = supervisor.runners
            await until(supervisor, lambda: all(r.status.state is S.RUNNING for r in runners.values()), "running")
            before = {i: r.status.pid for i, r in runners.items()}
            supervisor.restart([QUEUE0])
            target = runners[QUEUE0]
            await until(
                supervisor, lambda: target.status.state is S.RUNNING and target.status.pid != before[QUEUE0], "restart"
            )
            for instance, runner in runners.items():
                if instance != QUEUE0:
                    assert runner.status.pid == before[instance]
                    assert runner.status.restarts == 0

    run(scenario())


def test_instances_stop_in_parallel(tmp_path: Path) -> None:
    """Six instances that each need 0.5 s after SIGTERM are all stopped in about 0.5 s."""
    slow = "trap 'sleep 0.5; exit 0' TERM; READY; while :; do sleep 0.05; done"
    specs = [instance_spec(**when_ready(tmp_path, slow, f"ready{i}"), folder=tmp_path, index=i) for i in range(6)]

    async def scenario() -> None:
        async with supervising(tmp_path, specs, grace=5) as (supervisor, _):
            await until(supervisor, lambda: all(r.status.state is S.RUNNING for r in supervisor.runners.values()), "up")
            began = time.monotonic()
            await supervisor.stop_all()
            assert time.monotonic() - began < 1.5

    run(scenario())


def test_pre_start_runs_first_and_post_start_gates_running(tmp_path: Path) -> None:
    """pre_start runs before start; the instance is STARTING until post_start ends, then RUNNING."""
    marks = tmp_path / "marks"
    spec = instance_spec(
        f"echo start >> {marks}; exec sleep 1000",
        tmp_path,
        pre_start=f"echo pre >> {marks}",
        post_start="sleep 0.3",
    )

    async def scenario() -> None:
        async with supervising(tmp_path, [spec]) as (supervisor, _):
            runner = supervisor.runners[QUEUE0]
            assert runner.status.state is S.STARTING
            began = time.monotonic()
            await until(supervisor, lambda: runner.status.state is S.RUNNING, "post_start to end")
            assert time.monotonic() - began >= 0.25
            assert marks.read_text().split() == ["pre", "start"]

    run(scenario())


def test_spawn_failure_is_reported_and_retried(tmp_path: Path) -> None:
    """A start that cannot spawn (missing folder) is reported and retried with backoff."""
    spec = replace(instance_spec("sleep 1", tmp_path), cwd=tmp_path / "missing")

    async def scenario() -> None:
        async with supervising(tmp_path, [spec]) as (supervisor, events):
            runner = supervisor.runners[QUEUE0]
            await until(supervisor, lambda: runner.status.state is S.BACKOFF, "backoff")
            assert any(isinstance(e, ProblemEvent) and "could not start" in e.message for e in events)

    run(scenario())


def test_out_of_memory_kill_is_reported_as_such(tmp_path: Path) -> None:
    """A process over its memory limit is reported as killed by the kernel for memory (with cgroups)."""
    from sunup.isolation import Limits, open_isolation

    probe = open_isolation(tmp_path / "probe")
    probe.close()
    if "memory" not in probe.enforced:
        pytest.skip("memory limits need cgroups here")
    hog = f"{sys.executable} -c 'x = bytearray(256 * 1024 * 1024); x[::4096] = b\"x\" * len(x[::4096])'"
    spec = replace(instance_spec(hog, tmp_path), limits=Limits(memory_mb=64))

    async def scenario() -> None:
        async with supervising(tmp_path, [spec]) as (supervisor, events):
            await until(supervisor, lambda: any(isinstance(e, ExitedEvent) for e in events), "the kill", timeout=20)
            ended = next(e for e in events if isinstance(e, ExitedEvent))
            assert ended.exit.oom, ended
            assert ended.exit.describe() == "killed by the kernel: out of memory (limit 64 MB)"

    run(scenario())


def test_program_with_its_own_stop_signal(tmp_path: Path) -> None:
    """A spec with an argv runs it as is; a stop sends its stop signal to the main process, within its own grace."""
    ready = tmp_path / "ready"
    program = ("/bin/sh", "-c", f"trap 'echo got INT; exit 0' INT; touch {ready}; while :; do sleep 0.05; done")
    spec = replace(
        instance_spec("(unused)", tmp_path, post_start=f"while [ ! -e {ready} ]; do sleep 0.01; done"),
        argv=program,
        stop_signal=signal.SIGINT,
        grace=0.5,
    )

    async def scenario() -> None:
        async with supervising(tmp_path, [spec], grace=30) as (supervisor, _):
            await until(supervisor, lambda: supervisor.state(QUEUE0) is S.RUNNING, "running")
            await supervisor.stop_all()
            last = supervisor.runners[QUEUE0].status.last_exit
            assert last is not None and last.code == 0
        assert "got INT" in spec.log_path.read_text()

    run(scenario())


def test_a_stop_cut_short_says_how_long_the_instance_really_had(tmp_path: Path) -> None:
    """A second stop (the grace skipped) escalates at once, and the log says so, not the grace."""
    spec = instance_spec(**when_ready(tmp_path, "trap '' TERM; READY; while :; do sleep 0.05; done"), folder=tmp_path)

    async def scenario() -> None:
        async with supervising(tmp_path, [spec], grace=30.0) as (supervisor, events):
            await until(supervisor, lambda: supervisor.state(QUEUE0) is S.RUNNING, "running")
            supervisor.stop([QUEUE0])
            await until(supervisor, lambda: supervisor.state(QUEUE0) is S.STOPPING, "stopping")
            supervisor.runners[QUEUE0].feed(lc.GraceExpired())
            await until(supervisor, lambda: supervisor.state(QUEUE0) is S.STOPPED, "stopped at once", timeout=10)
            escalated = [e for e in events if isinstance(e, EscalatedEvent)]
            assert len(escalated) == 1 and escalated[0].grace < 5, escalated
            assert "for 30 s" not in escalated[0].describe()

    run(scenario())


def test_a_server_that_lost_its_stop_signal_gets_it_again(tmp_path: Path) -> None:
    """A server (argv) that drops its first SIGTERM, as mariadbd does while it starts, stops at the
    next one, seconds later, not after the whole grace."""
    marker = tmp_path / "ready"
    server = f"trap 'trap - TERM' TERM; touch {marker}; while :; do sleep 0.05; done"
    ready = f"while [ ! -e {marker} ]; do sleep 0.01; done"
    spec = replace(instance_spec("unused", tmp_path, post_start=ready), argv=("/bin/sh", "-c", server))

    async def scenario() -> None:
        async with supervising(tmp_path, [spec], grace=60.0) as (supervisor, events):
            await until(supervisor, lambda: supervisor.state(QUEUE0) is S.RUNNING, "the server's trap is set")
            started = time.monotonic()
            supervisor.stop([QUEUE0])
            await until(supervisor, lambda: supervisor.state(QUEUE0) is S.STOPPED, "stopped", timeout=20)
            assert time.monotonic() - started < 15
            assert not any(isinstance(e, EscalatedEvent) for e in events)

    run(scenario())
