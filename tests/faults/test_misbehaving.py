"""Instances that misbehave, run by the real `sunup up -d`: sunup survives each and leaves nothing.

Each project has `web.0` and a `bystander.0` that only sleep, and a `victim.0` running one of
the scripts below: a tree that ignores SIGTERM, a double-forked `setsid` daemon, a (bounded) fork
bomb, a writer that fills its `tmp` mount, a 1 GB burst of output, a process that closes its
stdout and stderr, one stopped by SIGSTOP, a TERM-ignoring child flooding the output while the
instance stops. Throughout, a thread asks the supervisor for `ps` on its control socket (what
`sunup ps` does) and every answer must come within 1 s; at the end, `sunup down` must leave no
process: the instance cgroups are gone and no process runs in the project's folder.
"""

from __future__ import annotations

import os
import re
import resource
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from sunup.control.client import ControlClient
from sunup.errors import SelectionError
from sunup.isolation import CGROUP_V1, CGROUP_V2, cgroupfs
from sunup.isolation.ledger import Ledger
from sunup.supervisor.events import LeftoversEvent
from sunup.supervisor.instance import InstanceId
from sunup.supervisor.settings import DEFAULT_PIDS_LIMIT, PIDS_VARIABLE, pids_limit
from tests.faults.conftest import GRACE, WAIT, Project, processes_under, wait_for
from tests.supervisor.harness import alive

#: The longest a `ps` round trip may take while an instance misbehaves.
PS_LIMIT = 1.0

CONFIG = """\
applications:
  app:
    type: "composable:25.05"
    web:
      commands:
        start: "exec sleep 36051"
    workers:
      bystander:
        commands:
          start: "exec sleep 36052"
      victim:
        commands:
          start: "{start}"
        mounts:
          scratch: {{source: tmp}}
"""

#: Ignores SIGTERM, and so do the three children it forks (the ignored disposition is inherited).
STUBBORN = """\
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        while True:
            time.sleep(60)
    children.append(pid)
print("CHILDREN", *children, flush=True)
while True:
    time.sleep(60)
"""

#: A classic daemon: fork, setsid, fork again, leave the folder; it ignores SIGTERM as well.
DAEMON = """\
import os, signal, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.chdir("/")
        print("DAEMON", os.getpid(), os.getsid(0), flush=True)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        while True:
            time.sleep(60)
    os._exit(0)
os.wait()
print("LAUNCHED", flush=True)
os.execvp("sleep", ["sleep", "36053"])
"""

#: A fork bomb with bounds of its own, in case the process limit fails: every process forks
#: (so the tree doubles), but the whole tree makes at most BOMB_MAX processes and stops trying
#: after BOMB_SECONDS; forks refused (EAGAIN) are counted and retried.
BOMB_MAX = 400
BOMB_SECONDS = 4.0
BOMB = f"""\
import mmap, os, struct, time
made = mmap.mmap(-1, 8)   # shared by the whole tree: [processes made, forks refused]
def bump(index):
    # A fork bomb does not need exact counts: racing increments only loosen the bound a little.
    value = struct.unpack_from("i", made, index * 4)[0] + 1
    struct.pack_into("i", made, index * 4, value)
    return value
end = time.monotonic() + {BOMB_SECONDS}
while time.monotonic() < end and struct.unpack_from("i", made, 0)[0] < {BOMB_MAX}:
    try:
        pid = os.fork()
    except BlockingIOError:
        bump(1)
        time.sleep(0.001)
        continue
    if pid != 0:
        bump(0)
print("BOMB", os.getpid(), "made", struct.unpack_from("i", made, 0)[0],
      "refused", struct.unpack_from("i", made, 4)[0], flush=True)
while True:
    time.sleep(60)
"""

#: Writes FILL_MB into its tmp mount, 1 MB at a time, and says how it went.
FILL_MB = 256
FILL = f"""\
import os, time
block = b"x" * (1 << 20)
written = 0
try:
    with open("scratch/fill", "wb") as out:
        for _ in range({FILL_MB}):
            out.write(block)
            written += 1
    print("FILLED", written, flush=True)
except OSError as exc:
    print("FULL", written, exc.errno, flush=True)
while True:
    time.sleep(60)
"""

#: 1 GB of 100-byte numbered lines.
BURST_LINES = 10 * 1024 * 1024
#: Once `scratch/go` exists, writes numbered 100-byte lines as fast as it can (`{lines}` of
#: them), then DONE.
BURST = """\
import os, time
while not os.path.exists("scratch/go"):
    time.sleep(0.02)
lines_per_block = 10240
number = 0
while number < {lines}:
    block = b"".join(b"L%010d " % n + b"x" * 88 + b"\\n" for n in range(number, number + lines_per_block))
    view = memoryview(block)
    while view:
        view = view[os.write(1, view):]
    number += lines_per_block
print("DONE", number, flush=True)
os.execvp("sleep", ["sleep", "36054"])
"""

#: Closes its stdout and stderr, then keeps running.
SILENT = """\
import os, time
print("CLOSING", flush=True)
os.close(1)
os.close(2)
while True:
    time.sleep(60)
"""


#: Stops itself (SIGSTOP, as a debugger or a ^Z would), with a SIGTERM handler that ends cleanly.
STOPPED = """\
import os, signal, sys, time
def bye(*_):
    print("GOT TERM", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("STOPPING", os.getpid(), flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
while True:
    time.sleep(60)
"""

#: Its main process is `sleep`; a child that ignores SIGTERM floods the output pipe meanwhile.
SPRAYER = """\
import os, signal, sys, time
if os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    line = b"y" * 99 + b"\\n"
    block = line * 10000
    while True:
        os.write(1, block)
print("SPRAYING", flush=True)
os.execvp("sleep", ["sleep", "36055"])
"""


#: Its main process ends at SIGTERM; the CROWD `sleep`s it started ignore it.
CROWD = 400
CROWDED = f"""\
import signal, subprocess, time
crowd = [subprocess.Popen(["sleep", "36057"], preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
         for _ in range({CROWD})]
print("CROWD", len(crowd), flush=True)
while True:
    time.sleep(60)
"""


class PsProbe:
    """Asks `ps` on the control socket over and over, in a thread, timing each round trip and
    sampling the supervisor's memory (VmRSS) after each."""

    def __init__(self, project: Project, pause: float = 0.05) -> None:
        self._client = ControlClient(project.state.socket, timeout=WAIT)
        self._supervisor = project.supervisor()
        self._pause = pause
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.times: list[float] = []
        self.errors: list[str] = []
        self.rss: list[int] = []
        self.last: list[dict[str, Any]] = []

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                self.last = self._client.call("ps")
            except Exception as exc:  # reported by `check`
                self.errors.append(repr(exc))
            self.times.append(time.monotonic() - began)
            if self._supervisor is not None:
                self.rss.append(rss_bytes(self._supervisor))
            self._stop.wait(self._pause)

    def __enter__(self) -> PsProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(WAIT)

    def check(self) -> None:
        assert not self.errors, f"ps failed: {self.errors[:3]}"
        assert self.times, "ps was never asked"
        slowest = max(self.times)
        assert slowest < PS_LIMIT, f"ps took {slowest:.2f} s (of {len(self.times)} round trips)"


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """The process's resident memory now (VmRSS), or its peak (VmHWM)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def go(project: Project) -> None:
    """Let the victim's burst begin."""
    (project.state.root / "volumes" / "app" / "app" / "victim" / "tmp" / "0" / "scratch" / "go").touch()


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh from the current VmRSS (proc(5): clear_refs 5)."""
    with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear:
        clear.write("5")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def instance_cgroups(project: Project) -> dict[str, list[Path]]:
    """{instance key: its cgroup folders} of every group the project's ledger knows of."""
    found: dict[str, list[Path]] = {}
    ledger = Ledger.of(project.state.root)
    for backend in (CGROUP_V1, CGROUP_V2):
        for tops in ledger.places(backend):
            for top in dict.fromkeys(tops.values()):
                for key, folder in cgroupfs.instance_dirs(top).items():
                    found.setdefault(key, []).append(folder)
    return found


def members(folders: list[Path]) -> set[int]:
    return set().union(*(cgroupfs.read_pids(folder / "cgroup.procs") for folder in folders))


def pids_folder(folders: list[Path]) -> Path:
    """The folder with the pids controller's files (v1: the pids hierarchy's; v2: the group's)."""
    for folder in folders:
        if (folder / "pids.max").exists():
            return folder
    pytest.skip("this machine's cgroups have no pids controller")


def log_lines(project: Project, name: str, marker: str) -> list[str]:
    """The lines of `name`'s app.log that contain `marker`, timestamp removed."""
    log = project.state.root / "logs" / "app" / name / "app.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line.split(" ", 1)[1] for line in text.splitlines() if marker in line]


def wait_line(project: Project, name: str, marker: str, timeout: float = WAIT) -> list[str]:
    """The words of the first line of `name`'s log containing `marker`, once there is one."""
    wait_for(lambda: log_lines(project, name, marker), f"{name} to print {marker}", timeout)
    return log_lines(project, name, marker)[0].split()


@pytest.fixture
def running(
    faulty: Callable[[dict[str, str]], Project], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[Project, dict[str, dict[str, Any]], dict[str, list[Path]]]]:
    """Starts a project whose victim runs `script`; gives the project, `ps` by name and the
    instance cgroups. Everything is stopped at the end of the test (`faulty`)."""

    def start(
        script: str, pids_limit: int | None = None, grace: float = GRACE
    ) -> tuple[Project, dict[str, dict[str, Any]], dict[str, list[Path]]]:
        if pids_limit is not None:
            monkeypatch.setenv(PIDS_VARIABLE, str(pids_limit))
        else:
            monkeypatch.delenv(PIDS_VARIABLE, raising=False)
        project = faulty({".upsun/config.yaml": CONFIG.format(start="exec python3 victim.py"), "victim.py": script})
        started = project("up", "-d", "--settle", "0.3", "--stop-grace", f"{grace:g}")
        assert started.returncode == 0, started.stdout + started.stderr
        rows = {row["name"]: row for row in ControlClient(project.state.socket).call("ps")}
        assert all(row["state"] == "running" for row in rows.values()), rows
        groups = instance_cgroups(project)
        assert set(groups) >= {"app.web.0", "app.bystander.0", "app.victim.0"}, groups
        return project, rows, groups

    return start


def bystanders_untouched(project: Project, before: dict[str, dict[str, Any]]) -> None:
    now = {row["name"]: row for row in ControlClient(project.state.socket).call("ps")}
    for name in ("web.0", "bystander.0"):
        assert now[name]["state"] == "running" and now[name]["pid"] == before[name]["pid"], (before[name], now[name])
        assert now[name]["restarts"] == 0
        assert alive(before[name]["pid"])


def down_leaves_nothing(project: Project, groups: dict[str, list[Path]], pids: Iterable[int] = ()) -> None:
    """`sunup down` succeeds and no process of the project is left: no instance cgroup, nothing
    in the project's folder, none of `pids`."""
    down = project("down")
    assert down.returncode == 0, down.stdout + down.stderr
    left = {key: [f for f in folders if f.exists()] for key, folders in groups.items()}
    assert not any(left.values()), f"cgroups left after down: {left}"
    assert processes_under(project.root) == []
    assert not [pid for pid in pids if alive(pid)], f"still alive after down: {[p for p in pids if alive(p)]}"


@pytest.mark.slow
def test_a_tree_that_ignores_sigterm_is_killed_after_the_grace(running: Callable[..., Any]) -> None:
    """stop sends SIGTERM, waits the grace, then SIGKILLs the whole tree; the default process
    limit is on every instance."""
    project, rows, groups = running(STUBBORN)
    children = {int(pid) for pid in wait_line(project, "victim.0", "CHILDREN")[1:]}
    tree = members(groups["app.victim.0"])
    assert children | {rows["victim.0"]["pid"]} <= tree
    assert (pids_folder(groups["app.victim.0"]) / "pids.max").read_text().strip() == str(DEFAULT_PIDS_LIMIT)
    with PsProbe(project) as probe:
        began = time.monotonic()
        stopped = project("stop", "--worker", "victim")
        took = time.monotonic() - began
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert took >= GRACE, f"stop took {took:.2f} s, less than the {GRACE:g} s grace: SIGTERM was not ignored?"
    assert not [pid for pid in tree if alive(pid)], f"left after stop: {[p for p in tree if alive(p)]}"
    assert not members(groups["app.victim.0"])
    log = project.state.supervisor_log.read_text()
    assert "victim.0: pid" in log and f"ignored SIGTERM for {GRACE:g} s; sent SIGKILL" in log
    probe.check()
    bystanders_untouched(project, rows)
    down_leaves_nothing(project, groups, tree)


@pytest.mark.slow
def test_a_setsid_daemon_is_killed_with_its_instance(running: Callable[..., Any]) -> None:
    """A double-forked daemon in a session of its own, outside the project folder, still dies."""
    project, _, groups = running(DAEMON)
    _, daemon, session = wait_line(project, "victim.0", "DAEMON")
    daemon_pid = int(daemon)
    wait_line(project, "victim.0", "LAUNCHED")
    state, main = _state(project, "victim.0")
    assert state == "running" and main not in (daemon_pid, None)
    assert int(session) not in (main, os.getsid(0)), "the daemon is not in a session of its own"
    assert daemon_pid in members(groups["app.victim.0"])
    with PsProbe(project) as probe:
        stopped = project("stop", "--worker", "victim")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not alive(daemon_pid), "the setsid daemon outlived the stop"
    assert not members(groups["app.victim.0"])
    probe.check()
    down_leaves_nothing(project, groups, {daemon_pid})


def _state(project: Project, name: str) -> tuple[str, int | None]:
    row = next(r for r in ControlClient(project.state.socket).call("ps") if r["name"] == name)
    return row["state"], row["pid"]


@pytest.mark.slow
def test_a_fork_bomb_is_contained_by_the_process_limit(running: Callable[..., Any]) -> None:
    """The bomb's forks fail past the limit; the others keep running, ps answers and says so,
    supervisor.log tells, and stop leaves nothing."""
    limit = 50
    project, rows, groups = running(BOMB, pids_limit=limit)
    victim = groups["app.victim.0"]
    assert (pids_folder(victim) / "pids.max").read_text().strip() == str(limit)
    with PsProbe(project) as probe:
        words = wait_line(project, "victim.0", "BOMB", timeout=WAIT)
        made, refused = int(words[3]), int(words[5])
        assert refused > 0, f"no fork was refused: {words}"
        assert made < limit, f"the bomb made {made} processes under a limit of {limit}"
        assert int((pids_folder(victim) / "pids.current").read_text()) <= limit
        row = next(r for r in ControlClient(project.state.socket).call("ps") if r["name"] == "victim.0")
        assert row["state"] == "running" and row["forks_refused"] > 0, row
        tree = members(victim)
        assert len(tree) >= limit - 5, f"only {len(tree)} processes: the limit was not reached"
        bystanders_untouched(project, rows)
        stopped = project("stop", "--worker", "victim")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not members(victim)
    assert not [pid for pid in tree if alive(pid)]
    log = project.state.supervisor_log.read_text()
    assert f"victim.0: hit its process limit of {limit}:" in log, log
    probe.check()
    down_leaves_nothing(project, groups, tree)


@pytest.mark.slow
def test_filling_the_tmp_mount_hurts_nobody_and_down_wipes_it(running: Callable[..., Any]) -> None:
    """A writer fills its tmp mount (FILL_MB: tmp mounts have no size cap, docs/mounts.md);
    sunup keeps supervising, the others run on, and `down` deletes what it wrote."""
    project, rows, groups = running(FILL)
    scratch = project.state.root / "volumes" / "app" / "app" / "victim" / "tmp" / "0" / "scratch"
    with PsProbe(project) as probe:
        words = wait_line(project, "victim.0", "FILLED", timeout=WAIT)
    assert words[1] == str(FILL_MB)
    assert (scratch / "fill").stat().st_size == FILL_MB << 20
    assert _state(project, "victim.0") == ("running", rows["victim.0"]["pid"])
    probe.check()
    bystanders_untouched(project, rows)
    down_leaves_nothing(project, groups)
    assert not scratch.exists(), "down left the tmp mount's files"


@pytest.mark.slow
def test_a_burst_of_one_gigabyte_of_output(running: Callable[..., Any]) -> None:
    """1 GB in a burst: ps answers within 1 s throughout, and the log holds whole, consecutive
    lines up to the last, within 100 MB (cut at line starts)."""
    project, rows, groups = running(BURST.format(lines=BURST_LINES))
    with PsProbe(project) as probe:
        go(project)
        wait_line(project, "victim.0", "DONE", timeout=120)
    probe.check()
    log = project.state.root / "logs" / "app" / "victim.0" / "app.log"
    assert log.stat().st_size <= 100 << 20
    numbers = [int(m.group(1)) for m in re.finditer(rb"^\S+ L(\d{10}) x{88}$", log.read_bytes(), re.MULTILINE)]
    assert numbers, "no output line in the log"
    assert numbers[-1] == BURST_LINES - 1
    assert numbers == list(range(numbers[0], BURST_LINES)), "lines are missing, torn or out of order"
    bystanders_untouched(project, rows)
    down_leaves_nothing(project, groups)


@pytest.mark.slow
def test_the_supervisor_memory_stays_flat_while_a_log_is_cut(running: Callable[..., Any]) -> None:
    """A burst that crosses app.log's 100 MB limit: the writer waits on its pipe and the cut
    costs the supervisor no memory in proportion to the log (peak RSS growth under 32 MB)."""
    lines = 1_600_000  # 160 MB: one cut
    project, _, groups = running(BURST.format(lines=lines))
    supervisor = project.supervisor()
    assert supervisor is not None
    reset_peak(supervisor)
    before = rss_bytes(supervisor)
    go(project)
    wait_line(project, "victim.0", "DONE", timeout=120)
    growth = rss_bytes(supervisor, "VmHWM") - before
    down_leaves_nothing(project, groups)
    assert growth < 32 << 20, f"the supervisor's peak memory grew by {growth >> 20} MB during the burst"


@pytest.mark.slow
def test_an_instance_that_closes_its_output_is_still_supervised(running: Callable[..., Any]) -> None:
    """No output pipe left: the instance still runs, the supervisor stays idle, and stop works."""
    project, rows, groups = running(SILENT)
    wait_line(project, "victim.0", "CLOSING")
    supervisor = project.supervisor()
    assert supervisor is not None
    with PsProbe(project, pause=0.5) as probe:
        wait_for(lambda: not _pipe_writers(rows["victim.0"]["pid"]), "victim.0 to close its output")
        used = cpu_seconds(supervisor)
        time.sleep(2.0)  # a measuring window, not a wait for an event
        used = cpu_seconds(supervisor) - used
    assert used < 0.2, f"the supervisor used {used:.2f} CPU-s in 2 s beside an instance without output"
    assert _state(project, "victim.0") == ("running", rows["victim.0"]["pid"])
    began = time.monotonic()
    stopped = project("stop", "--worker", "victim")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert time.monotonic() - began < GRACE + 5
    assert not alive(rows["victim.0"]["pid"])
    probe.check()
    down_leaves_nothing(project, groups, {rows["victim.0"]["pid"]})


def _pipe_writers(pid: int) -> list[int]:
    """The fds 1 and 2 that `pid` still has open."""
    return [fd for fd in (1, 2) if os.path.lexists(f"/proc/{pid}/fd/{fd}")]


def test_the_process_limit_setting() -> None:
    """`SUNUP_PIDS_LIMIT`: 4096 by default, a positive count, or `max` for none; else a user error."""
    assert pids_limit({}) == DEFAULT_PIDS_LIMIT == 4096
    assert pids_limit({PIDS_VARIABLE: "64"}) == 64
    assert pids_limit({PIDS_VARIABLE: "max"}) is None
    for bad in ("0", "-5", "lots"):
        with pytest.raises(SelectionError, match=f"{PIDS_VARIABLE}='{bad}' is not a positive number"):
            pids_limit({PIDS_VARIABLE: bad})


@pytest.mark.slow
def test_a_stopped_instance_gets_its_sigterm(running: Callable[..., Any]) -> None:
    """An instance stopped by SIGSTOP (a debugger, a ^Z in its shell) still shuts down on the
    stop's SIGTERM, which is followed by SIGCONT (as systemd does), not killed after the grace."""
    project, _, groups = running(STOPPED)
    pid = int(wait_line(project, "victim.0", "STOPPING")[1])
    wait_for(lambda: _proc_state(pid) == "T", "victim.0 to be stopped")
    stopped = project("stop", "--worker", "victim")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    row = next(r for r in ControlClient(project.state.socket).call("ps") if r["name"] == "victim.0")
    assert row["last_exit"]["code"] == 0, row["last_exit"]
    assert log_lines(project, "victim.0", "GOT TERM")
    down_leaves_nothing(project, groups, {pid})


def _proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0]
    except OSError:
        return "gone"


@pytest.mark.slow
def test_stop_while_a_descendant_floods_the_output(running: Callable[..., Any]) -> None:
    """The main process ends at SIGTERM, a child that ignores it keeps writing as fast as it can:
    reading its output never holds up the grace timer nor `ps`; SIGKILL comes after the grace."""
    project, _, groups = running(SPRAYER)
    log = project.state.root / "logs" / "app" / "victim.0" / "app.log"
    wait_for(lambda: log.exists() and log.stat().st_size > 10 << 20, "victim.0 to write 10 MB")
    tree = members(groups["app.victim.0"])
    with PsProbe(project) as probe:
        began = time.monotonic()
        stopped = project("stop", "--worker", "victim")
        took = time.monotonic() - began
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert took < GRACE + 5, f"stop took {took:.1f} s with a {GRACE:g} s grace"
    assert not members(groups["app.victim.0"])
    probe.check()
    down_leaves_nothing(project, groups, tree)


def test_thousands_of_leftovers_make_one_short_line() -> None:
    """A bomb's main process dies and leaves 4000 processes: supervisor.log names a few and
    counts them, instead of a line of 30 KB."""
    event = LeftoversEvent(InstanceId("app", "victim", 0), 0.0, 7, tuple(range(1000, 5000)), backgrounded=False)
    line = event.describe()
    assert line.startswith("pid 7 ended and left 4000 processes (1000, 1001,") and len(line) < 200, line
    few = LeftoversEvent(InstanceId("app", "victim", 0), 0.0, 7, (11, 12), backgrounded=False)
    assert few.describe() == "pid 7 ended and left 11, 12 running; they were killed"


@pytest.mark.slow
def test_a_crowd_that_outlives_its_main_process_at_stop(running: Callable[..., Any]) -> None:
    """400 processes outlive the main process during a 3 s grace, under a supervisor allowed 256
    open files: waiting for them does not take a file per process, so ps goes on answering and
    SIGKILL still comes (it used to find no file left to read the cgroup with: stuck for good)."""
    project, _, groups = running(CROWDED, grace=3)
    supervisor = project.supervisor()
    assert supervisor is not None
    # Set on the running supervisor: it raises a limit it starts with to the hard one.
    resource.prlimit(supervisor, resource.RLIMIT_NOFILE, (256, 256))
    wait_line(project, "victim.0", "CROWD")
    tree = members(groups["app.victim.0"])
    assert len(tree) > CROWD
    with PsProbe(project) as probe:
        stopped = project("stop", "--worker", "victim")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not members(groups["app.victim.0"])
    probe.check()
    down_leaves_nothing(project, groups, tree)
