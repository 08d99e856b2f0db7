"""Soak run: sunup supervising 200 instances while one of them is SIGKILLed every 100 ms and the
project is redeployed every minute; watches the supervisor for leaks.

    python bench/soak.py                   # 10 minutes, 200 instances
    python bench/soak.py --minutes 1       # a short run, to try it

It starts `sunup up -d` on a generated project (one worker, `sleep`, N times), then, for the duration:
SIGKILLs the main process of one random running instance every `--kill-every` seconds, runs
`sunup redeploy` every `--deploy-every` seconds, and samples the supervisor every
`--sample-every` seconds (PSS from smaps_rollup, open fds, threads, CPU time) and the project's
processes (members of its instance cgroups, and every process carrying the run's marker) against
the N expected. At the end it stops killing, lets the instances settle, runs `sunup down` and
checks that no process, cgroup or mount of the project is left.

Table on stdout, progress on stderr. Exit status 1 when a target is missed: supervisor PSS, fds
or threads growing more than 10 % between the first sample after the warm-up and the last,
fds or zombies left once every instance runs again, or anything left after `sunup down`.
See bench/README.md. Run it with the interpreter that has sunup installed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidebyside import procfs
from sidebyside.drivers.base import alive, run_quietly
from sidebyside.drivers.sunup import SunupDriver, sunup_argv
from sidebyside.procfs import Tracker, has_marker, pss_bytes, read_proc
from sidebyside.program import Program, sleeper
from sidebyside.session import Session, opened

from sunup.control.client import ControlClient
from sunup.isolation import cgroupfs
from sunup.isolation.contract import CGROUP_V1, CGROUP_V2
from sunup.isolation.ledger import Ledger
from sunup.supervisor.statedir import StateDir, holder

#: The instances' `sleep` argument: makes their command line unique to the soak.
SLEEP = 36500
WORKER = "soak"
#: Growth allowed between the first sample after the warm-up and the last.
GROWTH_TARGET = 10.0


def say(message: str) -> None:
    print(f"soak: {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    rss: int
    pss: int
    fds: int
    threads: int
    cpu: float
    #: Live members of the project's instance cgroups (a zombie stays a member until reaped).
    members: int
    #: Live processes carrying the run's marker, other than the supervisor.
    marked: int
    #: Marked processes in no instance cgroup (the supervisor excluded).
    outside: int
    zombies: int
    #: Instance cgroup folders (in the hierarchy with the most).
    groups: int
    deploying: bool


@dataclass
class Counts:
    kills: int = 0
    #: The chosen process was gone, or was no longer the instance's, before the signal.
    missed: int = 0
    deploys: int = 0
    deploy_failures: list[str] = field(default_factory=list)


class Project:
    """The running soak project: its supervisor, its control socket, its cgroups."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.root = session.workdir / "project"
        self.state = StateDir(self.root / ".sunup")
        self.client = ControlClient(self.state.socket, timeout=60)
        self.tracker = Tracker(session.marker)
        self.tops: list[Path] = []

    def supervisor(self) -> int | None:
        pid = holder(self.state)
        return pid if pid and pid > 0 else None

    def ps(self) -> list[dict[str, Any]]:
        return list(self.client.call("ps"))

    def record_cgroups(self) -> None:
        """The top-level groups sunup made for this project (read while it runs: `down` removes
        them from the ledger along with the groups)."""
        ledger = Ledger.of(self.state.root)
        self.tops = [
            top for backend in (CGROUP_V1, CGROUP_V2) for place in ledger.places(backend) for top in place.values()
        ]

    def members(self) -> set[int]:
        pids: set[int] = set()
        for top in self.tops:
            for directory in cgroupfs.instance_dirs(top).values():
                with contextlib.suppress(OSError):
                    pids.update(int(line) for line in (directory / "cgroup.procs").read_text().split())
        return pids

    def groups(self) -> int:
        return max((len(cgroupfs.instance_dirs(top)) for top in self.tops), default=0)

    def cgroups_left(self) -> list[Path]:
        return [top for top in dict.fromkeys(self.tops) if top.exists()]

    def mounts_left(self) -> list[str]:
        """Mounts of this mount namespace whose source or target is in the work folder."""
        needle = str(self.session.workdir)
        with open("/proc/self/mountinfo") as mountinfo:
            return [line.strip() for line in mountinfo if needle in line]


def fd_kinds(pid: int) -> Counter[str]:
    """The supervisor's open fds by kind: pipe, socket, anon_inode:[pidfd], a file's folder..."""
    kinds: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{name}")
            except OSError:
                continue
            if target.startswith(("pipe:", "socket:")):
                kinds[target.split(":")[0]] += 1
            elif target.startswith("/"):
                kinds[os.path.dirname(target)] += 1
            else:
                kinds[target] += 1
    return kinds


def rss_bytes(pid: int) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Rss:"):
                return int(line.split()[1]) * 1024
    return 0


def threads_of(pid: int) -> int:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def zombies_of(parent: int) -> int:
    count = 0
    for pid in procfs.pids():
        proc = read_proc(pid)
        if proc is not None and proc.ppid == parent and proc.state == "Z":
            count += 1
    return count


def sample(project: Project, pid: int, deploying: bool) -> Sample:
    members = {p for p in project.members() if (proc := read_proc(p)) is not None and proc.alive}
    # The supervisor and its watchdog (`sunup-enter w PID ...`) run outside the instances' cgroups.
    marked = {p.pid for p in project.tracker.scan() if p.cmdline[1:3] != ("w", str(pid))} - {pid}
    proc = read_proc(pid)
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        fds = 0
    return Sample(
        at=time.monotonic(),
        rss=rss_bytes(pid),
        pss=pss_bytes(pid),
        fds=fds,
        threads=threads_of(pid),
        cpu=proc.cpu if proc else 0.0,
        members=len(members),
        marked=len(marked),
        outside=len(marked - members),
        zombies=zombies_of(pid),
        groups=project.groups(),
        deploying=deploying,
    )


def kill_one(pool: list[tuple[str, int]], marker: str) -> bool:
    """SIGKILL one instance of `pool` (taken out of it) through a pidfd, once it is sure the pid
    is still one of the run's `sleep`s: never a reused pid."""
    _, pid = pool.pop(random.randrange(len(pool)))
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return False
    try:
        proc = read_proc(pid)
        if proc is None or not proc.alive or proc.cmdline != tuple(sleeper(SLEEP).split()):
            return False
        if not has_marker(pid, marker):
            return False
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        return True
    except OSError:
        return False
    finally:
        os.close(pidfd)


class Soak:
    def __init__(self, project: Project, args: argparse.Namespace) -> None:
        self.project = project
        self.args = args
        self.counts = Counts()
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self.deploying = threading.Event()
        self.pool: list[tuple[str, int]] = []
        self.pool_lock = threading.Lock()
        self.errors: list[str] = []
        #: Restarts seen in `ps` since the kills began, and each instance's count at the last look.
        self.restarts = 0
        self.restarts_seen: dict[str, int] = {}

    # Threads -------------------------------------------------------------------------------

    def watch_ps(self) -> None:
        """Keep the pool of running instances' pids fresh (once a second)."""
        while not self.stop.is_set():
            try:
                instances = self.project.ps()
            except Exception as exc:  # reported; the soak goes on
                self.errors.append(f"ps: {exc}")
            else:
                running = [(i["name"], i["pid"]) for i in instances if i["state"] == "running" and i["pid"]]
                with self.pool_lock:
                    self.pool = running
                self.count_restarts(instances)
            self.stop.wait(1.0)

    def count_restarts(self, instances: list[dict[str, Any]]) -> None:
        """Add up each instance's `restarts` as it grows; a redeploy starts the count again."""
        for instance in instances:
            now = int(instance["restarts"])
            before = self.restarts_seen.get(instance["name"])
            if before is None or now < before:  # new, or restarted by a redeploy
                self.restarts += now + (0 if before is None else 1)
            else:
                self.restarts += now - before
            self.restarts_seen[instance["name"]] = now

    def deployer(self, started: float) -> None:
        while not self.stop.wait(
            max(0.0, started + (self.counts.deploys + 0.5) * self.args.deploy_every - time.monotonic())
        ):
            self.deploying.set()
            began = time.monotonic()
            try:
                done = run_quietly([*sunup_argv(), "redeploy"], self.project.root, timeout=600)
            finally:
                self.deploying.clear()
            self.counts.deploys += 1
            outcome = "done" if done.returncode == 0 else f"FAILED ({done.stderr.strip()[-300:]})"
            if done.returncode != 0:
                self.counts.deploy_failures.append(done.stderr.strip()[-300:])
            say(f"redeploy {self.counts.deploys} {outcome} in {time.monotonic() - began:.1f} s")

    def sampler(self, pid: int) -> None:
        while not self.stop.wait(self.args.sample_every):
            self.samples.append(sample(self.project, pid, self.deploying.is_set()))
            last = self.samples[-1]
            say(
                f"PSS {last.pss / 2**20:.1f} MiB, fds {last.fds}, threads {last.threads}, CPU {last.cpu:.0f} s, "
                f"processes {last.members} in cgroups + {last.outside} outside, kills {self.counts.kills}"
                + (", deploying" if last.deploying else "")
            )

    # The run --------------------------------------------------------------------------------

    def run(self, pid: int) -> None:
        started = time.monotonic()
        end = started + self.args.minutes * 60
        threads = [
            threading.Thread(target=self.watch_ps, daemon=True),
            threading.Thread(target=self.deployer, args=(started,), daemon=True),
            threading.Thread(target=self.sampler, args=(pid,), daemon=True),
        ]
        for thread in threads:
            thread.start()
        next_kill = time.monotonic()
        try:
            while (now := time.monotonic()) < end:
                if not alive(pid):
                    raise RuntimeError(f"the supervisor (pid {pid}) died")
                if now < next_kill:
                    time.sleep(next_kill - now)
                    continue
                next_kill += self.args.kill_every
                next_kill = max(next_kill, now - self.args.kill_every)  # no burst after a stall
                with self.pool_lock:
                    chosen = kill_one(self.pool, self.project.session.marker) if self.pool else None
                if chosen is None:
                    continue
                if chosen:
                    self.counts.kills += 1
                else:
                    self.counts.missed += 1
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=660)


def settle(project: Project, expected: int, timeout: float) -> tuple[list[dict[str, Any]], bool]:
    """Wait until every instance runs (a backoff lasts at most 30 s); (ps, whether they do)."""
    deadline = time.monotonic() + timeout
    while True:
        instances = project.ps()
        running = sum(1 for i in instances if i["state"] == "running")
        if running == expected or time.monotonic() >= deadline:
            return instances, running == expected
        time.sleep(0.5)


def growth(first: float, last: float) -> float:
    return 0.0 if first == 0 else (last - first) * 100.0 / first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to kill and redeploy (default 10)")
    parser.add_argument("--instances", type=int, default=200, help="instances of the worker (default 200)")
    parser.add_argument("--kill-every", type=float, default=0.1, help="seconds between two kills (default 0.1)")
    parser.add_argument(
        "--deploy-every",
        type=float,
        default=60.0,
        help="seconds between redeploys, the first half that in (default 60)",
    )
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between samples (default 5)")
    parser.add_argument(
        "--warm-up",
        type=float,
        default=None,
        help="seconds before the baseline sample (default 60, at most a quarter of the run)",
    )
    args = parser.parse_args(argv)
    warm_up = args.warm_up if args.warm_up is not None else min(60.0, args.minutes * 60 / 4)
    expected = args.instances

    load = os.getloadavg()
    say(f"{expected} instances, {args.minutes:g} min, load average {load[0]:.2f} (the machine may be shared)")
    with opened(SunupDriver()) as session:
        session.launch([Program(WORKER, sleeper(SLEEP), count=expected)])
        project = Project(session)
        client = session.current.process
        client.wait(timeout=600)
        if client.returncode != 0:
            output = (session.workdir / "manager.out").read_text(errors="replace")
            raise RuntimeError(f"`sunup up -d` exited {client.returncode}: {output.strip()[-800:]}")
        pid = project.supervisor()
        if pid is None:
            raise RuntimeError("no supervisor holds the lock after `sunup up -d`")
        project.record_cgroups()
        instances, ok = settle(project, expected, timeout=120)
        if len(instances) != expected or not ok:
            raise RuntimeError(f"{sum(1 for i in instances if i['state'] == 'running')} of {expected} instances run")
        quiet_before = sample(project, pid, deploying=False)
        kinds_before = fd_kinds(pid)
        say(f"supervisor pid {pid}, cgroups {', '.join(map(str, project.tops)) or 'none'}")

        soak = Soak(project, args)
        soak.count_restarts(instances)
        soak.restarts = 0  # counted from the first kill
        began = time.monotonic()
        soak.run(pid)
        took = time.monotonic() - began

        at_end = project.ps()
        backoff = sum(1 for i in at_end if i["state"] == "backoff")
        say(f"stopped killing; {backoff} instances in backoff; waiting for them to run again")
        instances, settled = settle(project, expected, timeout=90)
        soak.count_restarts(instances)
        restarts = soak.restarts
        quiet_after = sample(project, pid, deploying=False)
        kinds_after = fd_kinds(pid)

        say("sunup down")
        down = run_quietly([*sunup_argv(), "down"], project.root, timeout=180)
        deadline = time.monotonic() + 30
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        leftovers = project.tracker.scan()
        leaked_cgroups = project.cgroups_left()
        leaked_mounts = project.mounts_left()

    samples = soak.samples
    baseline = next((s for s in samples if s.at - began >= warm_up and not s.deploying), None)
    last = next((s for s in reversed(samples) if not s.deploying), None)
    if baseline is None or last is None or baseline is last:
        baseline, last = quiet_before, quiet_after
    results: list[tuple[str, bool]] = []

    def row(label: str, values: list[float], fmt: str, pick: Any, judge_quiet: bool) -> None:
        """One metric: start, end, max; growth under load and between the quiet states."""
        loaded = growth(pick(baseline), pick(last))
        quiet = growth(pick(quiet_before), pick(quiet_after))
        ok = (quiet if judge_quiet else loaded) <= GROWTH_TARGET
        results.append((f"{label} growth", ok))
        cells = [
            label,
            *(fmt.format(v) for v in (values[0], values[-1], max(values))),
            f"{fmt.format(pick(baseline))} → {fmt.format(pick(last))}",
            f"{loaded:+.1f} %" + ("" if judge_quiet else " (judged)"),
            f"{fmt.format(pick(quiet_before))} → {fmt.format(pick(quiet_after))}",
            f"{quiet:+.1f} %" + (" (judged)" if judge_quiet else ""),
            "ok" if ok else "MISSED",
        ]
        print("| " + " | ".join(cells) + " |")

    everything = [quiet_before, *samples, quiet_after]
    cpu_share = (quiet_after.cpu - quiet_before.cpu) / took * 100
    print()
    print(
        f"sunup soak: {expected} instances, {took / 60:.1f} min, a SIGKILL every {args.kill_every:g} s, "
        f"a redeploy every {args.deploy_every:g} s, a sample every {args.sample_every:g} s. "
        f"Shared machine (other test runs going on): load average {load[0]:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end."
    )
    print()
    print(
        "| supervisor | start | end | max | after warm-up → last | growth | quiet start → quiet end | growth "
        f"| target ≤ {GROWTH_TARGET:g} % |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    row("RSS (MiB)", [s.rss / 2**20 for s in everything], "{:.1f}", lambda s: s.rss / 2**20, judge_quiet=False)
    row("PSS (MiB)", [s.pss / 2**20 for s in everything], "{:.1f}", lambda s: s.pss / 2**20, judge_quiet=False)
    row("open fds", [float(s.fds) for s in everything], "{:.0f}", lambda s: s.fds, judge_quiet=True)
    row("threads", [float(s.threads) for s in everything], "{:.0f}", lambda s: s.threads, judge_quiet=False)
    print(
        f"\n'after warm-up': the first sample {warm_up:g} s or more into the run; 'last': the run's last sample "
        "(neither during a redeploy). 'quiet': every instance running, no kill, no redeploy (before the first "
        "kill, and once the instances run again after the last). Open fds follow how many instances run at "
        "the instant (backoff holds none), so they are judged between the quiet states. "
        f"Supervisor CPU: {quiet_before.cpu:.1f} s → {quiet_after.cpu:.1f} s ({cpu_share:.0f} % of a core)."
    )

    leaked_fds = quiet_after.fds - quiet_before.fds
    kinds_diff = {
        k: kinds_after[k] - kinds_before[k] for k in kinds_before | kinds_after if kinds_after[k] != kinds_before[k]
    }
    outside_max = max((s.outside for s in samples), default=0)
    members = [s.members for s in samples] or [quiet_before.members]
    checks = [
        ("kills done", f"{soak.counts.kills} (+{soak.counts.missed} missed: the process had gone)", True),
        (
            "restarts observed (ps `restarts`, added up: a redeploy starts it at 0)",
            f"{restarts} (kills + {expected} per redeploy: ~{soak.counts.kills + soak.counts.deploys * expected})",
            True,
        ),
        (
            "redeploys done",
            f"{soak.counts.deploys}"
            + (f", {len(soak.counts.deploy_failures)} failed" if soak.counts.deploy_failures else ""),
            not soak.counts.deploy_failures,
        ),
        ("in backoff when the kills stopped", str(backoff), True),
        ("all running again after the kills", "yes" if settled else "NO", settled),
        (
            "processes in instance cgroups (min to max)",
            f"{min(members)} to {max(members)} (expected {expected})",
            max(members) <= expected,
        ),
        (
            "marked processes outside any cgroup (max, quiet end)",
            f"{outside_max}, {quiet_after.outside}",
            quiet_after.outside == 0,
        ),
        (
            "instance cgroup folders (max)",
            f"{max(s.groups for s in everything)} (expected {expected})",
            max(s.groups for s in everything) <= expected,
        ),
        (
            "zombies of the supervisor (max, quiet end)",
            f"{max((s.zombies for s in samples), default=0)}, {quiet_after.zombies}",
            quiet_after.zombies == 0,
        ),
        (
            "leaked fds (quiet end minus quiet start)",
            f"{leaked_fds}" + (f" {kinds_diff}" if kinds_diff else ""),
            leaked_fds <= 0,
        ),
        (
            "`sunup down`",
            "ok" if down.returncode == 0 else f"exit {down.returncode}: {down.stderr.strip()[-200:]}",
            down.returncode == 0,
        ),
        (
            "processes left after down",
            str(len(leftovers)) + (f" {[p.cmdline for p in leftovers][:5]}" if leftovers else ""),
            not leftovers,
        ),
        (
            "cgroups left after down",
            str(len(leaked_cgroups)) + (f" {leaked_cgroups}" if leaked_cgroups else ""),
            not leaked_cgroups,
        ),
        ("mounts left after down", str(len(leaked_mounts)), not leaked_mounts),
        (
            "control errors during the run",
            str(len(soak.errors)) + (f" (first: {soak.errors[0]})" if soak.errors else ""),
            not soak.errors,
        ),
    ]
    print()
    print("| check | value | |")
    print("|---|---|---|")
    for label, value, ok in checks:
        results.append((label, ok))
        print(f"| {label} | {value} | {'ok' if ok else 'MISSED'} |")
    missed = [label for label, ok in results if not ok]
    print()
    print("all targets met" if not missed else f"targets missed: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
